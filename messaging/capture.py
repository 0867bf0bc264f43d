"""Capturing transports for the embedded profile: e-mail and SMS are kept, not sent."""

from django.core.mail.backends.base import BaseEmailBackend

from messaging.models import CapturedMessage


class CaptureEmailBackend(BaseEmailBackend):
    """A Django e-mail backend that stores each message in CapturedMessage."""

    def send_messages(self, email_messages):
        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            rows.append(
                CapturedMessage(
                    channel=CapturedMessage.Channel.EMAIL,
                    sender=message.from_email or "",
                    recipients=list(message.recipients()),
                    subject=message.subject or "",
                    body=message.body or "",
                    html=html,
                )
            )
        CapturedMessage.objects.bulk_create(rows)
        return len(rows)


def capture_sms(to: str, body: str, sender: str = "") -> CapturedMessage:
    return CapturedMessage.objects.create(
        channel=CapturedMessage.Channel.SMS, sender=sender, recipients=[to], body=body
    )
