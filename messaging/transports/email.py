"""E-mail through Django's mail backend: SMTP in production, captured in the embedded profile
(EMAIL_TRANSPORT). SMTP has no delivery reports: "sent" means accepted by the server."""

import contextlib
import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from messaging.models import Message, Purpose
from messaging.transports import Sent, Transport, TransportError


class EmailTransport(Transport):
    channel = "email"
    rate_setting = "EMAIL_RATE_PER_SECOND"

    def __init__(self):
        self._connection = None

    def sender(self, message) -> str:
        return settings.DEFAULT_FROM_EMAIL

    def _open(self):
        if self._connection is None:
            self._connection = get_connection(fail_silently=False)
            try:
                self._connection.open()
            except (smtplib.SMTPException, OSError) as exc:
                self._connection = None
                raise TransportError(f"SMTP connection failed: {exc}", code="connect") from None
        return self._connection

    def close(self):
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None

    def send(self, message) -> Sent:
        domain = (
            settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
            or "ronde.invalid"
        )
        message_id = make_msgid(idstring=f"ronde{message.pk}", domain=domain)
        headers = {"Message-ID": message_id, "X-Ronde-Message": str(message.pk)}
        if message.campaign.purpose != Purpose.OPERATIONAL:
            links = [
                line.rsplit(" ", 1)[-1]
                for line in message.body.splitlines()
                if "/desinscription/" in line
            ]
            if links:
                headers["List-Unsubscribe"] = f"<{links[-1]}>"
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers=headers,
            connection=self._open(),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()), (550, b""))
            text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
            # A 5xx about the recipient: the address is refused for good.
            raise TransportError(
                text or "recipient refused", code=str(code), block=int(code) >= 500
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as exc:
            # About our own sender or credentials: not the recipient's fault, retry once fixed.
            self.close()
            raise TransportError(
                str(exc)[:400], code=str(getattr(exc, "smtp_code", "sender"))
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            self.close()
            raise TransportError(
                text, code=str(exc.smtp_code), permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            # The server may have taken the message before the line dropped: never resend blindly.
            self.close()
            raise TransportError(
                f"SMTP connection lost: {exc}", code="disconnected", ambiguous=True
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransportError(f"SMTP error: {exc}", code="smtp") from None
        return Sent(provider_id=message_id, status=Message.Status.SENT)
