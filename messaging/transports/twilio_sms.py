"""SMS through Twilio with the official SDK (docs/messaging.md).

Senders: French operators reserve 06/07 numbers for people, and an alphanumeric sender
("MONBAILLEUR") cannot receive replies. Messages that expect an answer (STOP, a reply) leave
from TWILIO_TWO_WAY_FROM (a short code or a 09 number) or the messaging service; notices may
leave from the one-way TWILIO_FROM. check_configuration() runs at start-up.
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NameResolutionError, NewConnectionError

from messaging.models import Message
from messaging.transports import AMBIGUOUS, Sent, SmsTransport, TransportError

# Errors about the recipient's number: the address is marked and skipped until it changes.
BLOCKING_CODES = {
    21211,  # invalid 'To' number
    21214,  # 'To' number cannot be reached
    21610,  # the recipient replied STOP to this sender
    21612,  # cannot route to this number
    21614,  # 'To' is not a mobile number
    30005,  # unknown destination
    30006,  # landline or unreachable carrier
}
# Errors about our account or sender: not the recipient's fault, so nothing is blocked and the
# message is retried (with backoff, then failed) in case the configuration is fixed meanwhile.
CONFIGURATION_CODES = {20003, 20404, 21212, 21408, 21606, 21659}

STATUSES = {
    "accepted": Message.Status.SENT,
    "scheduled": Message.Status.SENT,
    "queued": Message.Status.SENT,
    "sending": Message.Status.SENT,
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.DELIVERED,
    "undelivered": Message.Status.UNDELIVERED,
    "failed": Message.Status.FAILED,
    "canceled": Message.Status.CANCELLED,
}

ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SHORT_CODE = re.compile(r"^\d{5,6}$")


def is_one_way(sender: str) -> bool:
    return bool(ALPHANUMERIC.match(sender or ""))


def is_two_way(sender: str) -> bool:
    if not sender or is_one_way(sender):
        return False
    if SHORT_CODE.match(sender):
        return True
    digits = sender.replace(" ", "")
    # French operators keep 06 and 07 for people: an application answers from a 09 number.
    return digits.startswith("+339") or (digits.startswith("+") and not digits.startswith("+33"))


def check_configuration() -> None:
    """Refuse to start with a Twilio configuration that would send wrongly."""
    errors = []
    if not settings.TWILIO_ACCOUNT_SID.startswith("AC") or not settings.TWILIO_AUTH_TOKEN:
        errors.append("TWILIO_ACCOUNT_SID (AC…) and TWILIO_AUTH_TOKEN are required")
    if not (settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM):
        errors.append("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM")
    if (
        settings.TWILIO_MESSAGING_SERVICE_SID
        and not settings.TWILIO_MESSAGING_SERVICE_SID.startswith("MG")
    ):
        errors.append("TWILIO_MESSAGING_SERVICE_SID must start with MG")
    if settings.TWILIO_FROM and not (
        is_one_way(settings.TWILIO_FROM) or is_two_way(settings.TWILIO_FROM)
    ):
        errors.append(
            "TWILIO_FROM must be an alphanumeric sender (11 characters at most), a short code or a "
            "09 number: French operators keep 06 and 07 numbers for people"
        )
    two_way = settings.TWILIO_TWO_WAY_FROM
    if two_way and not is_two_way(two_way):
        errors.append(
            "TWILIO_TWO_WAY_FROM must be a short code or a 09 number (it receives replies)"
        )
    if (
        not two_way
        and not settings.TWILIO_MESSAGING_SERVICE_SID
        and not is_two_way(settings.TWILIO_FROM)
    ):
        errors.append(
            "messages that expect a reply (STOP, answers) need a two-way sender: set "
            "TWILIO_TWO_WAY_FROM or TWILIO_MESSAGING_SERVICE_SID"
        )
    if errors:
        raise ImproperlyConfigured("Twilio SMS configuration: " + "; ".join(errors) + ".")


class _HttpClient(TwilioHttpClient):
    """TWILIO_API_URL points the SDK at another server (a test double or a regional edge):
    twilio 9 has no base-URL option, so every *.twilio.com URL is rewritten here."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url:
            parts = urlsplit(url)
            if parts.hostname and parts.hostname.endswith("twilio.com"):
                url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def never_reached(exc: Exception) -> bool:
    """Whether the request certainly never reached Twilio (safe to retry)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError | NameResolutionError)


def client() -> Client:
    http = _HttpClient(settings.TWILIO_API_URL, timeout=settings.TWILIO_TIMEOUT)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)


def status_callback_url(message_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('messaging:twilio-status')}?m={message_id}"


class TwilioSms(SmsTransport):
    def __init__(self):
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = client()
        return self._client

    def sender(self, message) -> str:
        return next(iter(self.sender_params(message).values()))

    def sender_params(self, message) -> dict:
        if message.campaign.expects_reply and settings.TWILIO_TWO_WAY_FROM:
            return {"from_": settings.TWILIO_TWO_WAY_FROM}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        return {"from_": settings.TWILIO_FROM}

    def send(self, message) -> Sent:
        try:
            sent = self.client.messages.create(
                to=message.to,
                body=message.body,
                status_callback=status_callback_url(message.pk),
                **self.sender_params(message),
            )
        except TwilioRestException as exc:
            code = exc.code or exc.status
            temporary = exc.status == 429 or exc.status >= 500 or exc.code in CONFIGURATION_CODES
            raise TransportError(
                str(exc.msg)[:400],
                code=str(code),
                block=exc.code in BLOCKING_CODES,
                permanent=not temporary,
            ) from None
        except requests.exceptions.RequestException as exc:
            if never_reached(exc):
                raise TransportError(f"Twilio unreachable: {exc}", code="connect") from None
            # The request may have arrived: a read timeout or a connection reset mid-answer.
            raise TransportError(
                f"Twilio did not answer: {exc}", code="timeout", ambiguous=True
            ) from None
        except TwilioException as exc:
            raise TransportError(f"Twilio: {exc}", code="twilio", ambiguous=True) from None
        return Sent(provider_id=sent.sid, status=STATUSES.get(sent.status, Message.Status.SENT))

    def lookup(self, message):
        """Find a message stuck in "sending" in Twilio's own list, by recipient: its most
        recent messages (a message still queued at Twilio has no send date yet, so the list is
        not filtered on it), the body and a creation time after the send began."""
        since = (message.sending_at or message.created_at) - timedelta(minutes=5)
        try:
            candidates = self.client.messages.list(to=message.to, limit=50)
        except (TwilioException, requests.exceptions.RequestException):
            return AMBIGUOUS
        matches = [
            c
            for c in candidates
            if (c.body or "") == message.body
            and (c.to or "") == message.to
            and (getattr(c, "date_created", None) is None or c.date_created >= since)
        ]
        if len(matches) == 1:
            found = matches[0]
            return Sent(
                provider_id=found.sid, status=STATUSES.get(found.status, Message.Status.SENT)
            )
        return None if not matches else AMBIGUOUS
