"""Capturing transports for the embedded profile: e-mail and SMS are kept, not sent."""

from django.core.mail.backends.base import BaseEmailBackend

from messaging.models import CapturedMessage


class CaptureEmailBackend(BaseEmailBackend):
    """A Django e-mail backend that stores each message in CapturedMessage. The outbox's
    e-mails carry X-Ronde-Message: the captured row then knows its organisation and residence."""

    def send_messages(self, email_messages):
        from messaging.models import Message

        ids = [m.extra_headers.get("X-Ronde-Message") for m in email_messages]
        owners = {
            str(pk): (organisation, residence)
            for pk, organisation, residence in Message.objects.filter(
                pk__in=[int(i) for i in ids if i and str(i).isdigit()]
            ).values_list("pk", "campaign__organisation_id", "residence_id")
        }
        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            organisation, residence = owners.get(
                str(message.extra_headers.get("X-Ronde-Message")), (None, None)
            )
            # Account e-mails (tenant extranet) say their organisation themselves.
            header = str(message.extra_headers.get("X-Ronde-Organisation", ""))
            if organisation is None and header.isdigit():
                organisation = int(header)
            rows.append(
                CapturedMessage(
                    channel=CapturedMessage.Channel.EMAIL,
                    organisation_id=organisation,
                    residence_id=residence,
                    sender=message.from_email or "",
                    recipients=list(message.recipients()),
                    subject=message.subject or "",
                    body=message.body or "",
                    html=html,
                )
            )
        CapturedMessage.objects.bulk_create(rows)
        return len(rows)


def capture_sms(
    to: str, body: str, sender: str = "", organisation_id=None, residence_id=None
) -> CapturedMessage:
    return CapturedMessage.objects.create(
        channel=CapturedMessage.Channel.SMS,
        sender=sender,
        recipients=[to],
        body=body,
        organisation_id=organisation_id,
        residence_id=residence_id,
    )
