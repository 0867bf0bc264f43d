"""One transport class per channel behind one small base (style.md, after healthchecks).

A transport sends one outbox Message and answers Sent(provider_id, status), or raises
TransportError saying whether the failure is permanent (never retry: the address is blocked),
temporary (retry with backoff) or ambiguous (the provider may have it: never resend blindly,
look it up). Adding a channel is a new module and a line in TRANSPORTS.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


class TransportError(Exception):
    """permanent: retrying cannot help; block: and it is the recipient's address that is at
    fault (never our account or sender); ambiguous: the provider may have taken it."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        permanent: bool = False,
        block: bool = False,
        ambiguous: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.code = str(code or "")
        self.permanent = permanent or block
        self.block = block
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class Sent:
    provider_id: str
    status: str  # a Message.Status


class Transport:
    channel = ""
    rate_setting = ""

    def sender(self, message) -> str:
        """Who the message leaves from: the rate limit is per sender."""
        return type(self).__name__

    def sender_key(self, message) -> str:
        return f"{self.channel}:{self.sender(message)}"

    def rate_for(self, message) -> float:
        rates = settings.SENDER_RATES
        return float(rates.get(self.sender(message), getattr(settings, self.rate_setting)))

    def units(self, message) -> int:
        """What the rate limit counts for this message (SMS: segments)."""
        return 1

    def send(self, message) -> Sent:
        raise NotImplementedError

    def lookup(self, message) -> "Sent | str | None":
        """For a message stuck in "sending": the provider's record (Sent), None if the
        provider has none, or AMBIGUOUS. Transports that cannot look up answer AMBIGUOUS."""
        return AMBIGUOUS

    def close(self) -> None:
        """Release connections after a batch."""


class SmsTransport(Transport):
    """What every SMS transport shares: the channel, its rate setting, segments as units."""

    channel = "sms"
    rate_setting = "SMS_RATE_PER_SECOND"

    def units(self, message) -> int:
        return max(1, message.segments)


AMBIGUOUS = "ambiguous"

TRANSPORTS = {
    ("sms", "capture"): "messaging.transports.capture.CaptureSms",
    ("sms", "twilio"): "messaging.transports.twilio_sms.TwilioSms",
    ("email", "capture"): "messaging.transports.email.EmailTransport",
    ("email", "smtp"): "messaging.transports.email.EmailTransport",
}


def transport_for(channel: str) -> Transport:
    name = settings.SMS_TRANSPORT if channel == "sms" else settings.EMAIL_TRANSPORT
    return import_string(TRANSPORTS[(channel, name)])()
