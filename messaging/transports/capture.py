"""The embedded default for SMS: the message stays on the machine (CapturedMessage, shown at
/messages-captures/) and its delivery is simulated a few seconds later, so that the demo's
supervision shows statuses move."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend import jobs
from messaging.capture import capture_sms
from messaging.models import CapturedMessage, Message
from messaging.transports import Sent, SmsTransport


class CaptureSms(SmsTransport):
    def sender(self, message) -> str:
        return settings.SMS_SENDER_NAME

    def send(self, message) -> Sent:
        with transaction.atomic():
            captured = capture_sms(
                message.to,
                message.body,
                settings.SMS_SENDER_NAME,
                organisation_id=message.campaign.organisation_id,
                residence_id=message.residence_id,
            )
            jobs.enqueue_at(timezone.now() + timedelta(seconds=5), simulate_delivery, message.pk)
        return Sent(provider_id=f"CAP{captured.pk}", status=Message.Status.SENT)

    def lookup(self, message):
        found = list(
            CapturedMessage.objects.filter(
                channel=CapturedMessage.Channel.SMS,
                body=message.body,
                created_at__gte=message.sending_at - timedelta(minutes=1),
            ).values_list("pk", "recipients")
        )
        matches = [pk for pk, recipients in found if recipients == [message.to]]
        if len(matches) == 1:
            return Sent(provider_id=f"CAP{matches[0]}", status=Message.Status.SENT)
        return None if not matches else "ambiguous"


@jobs.job
def simulate_delivery(message_id: int) -> None:
    from messaging import outbox
    from messaging.models import MessageEvent

    message = Message.objects.filter(pk=message_id).first()
    if message is not None:
        outbox.advance(message, Message.Status.DELIVERED, MessageEvent.Source.PROVIDER, "capture")
