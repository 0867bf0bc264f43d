"""The outbox is the queue (docs/messaging.md).

Rows carry their next attempt time; dispatch(), a short job (at most DISPATCH_SECONDS), claims
due rows atomically, sends them at each sender's rate and records the answer; when rows remain
it queues itself again, and a periodic run restarts it every minute. No job runs for minutes
and no broker holds a delayed task.

Status only moves forward (advance()). A message is marked "sending" before the provider call;
if the process dies before the answer is saved, the row stays "sending" and reconcile() looks it
up at the provider instead of sending it again: found, it takes the provider's status; not
found or ambiguous, it is flagged for an advisor (needs_review).
"""

import logging
import time
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backend import jobs
from messaging.models import Campaign, Message, MessageEvent, SenderRate
from messaging.transports import AMBIGUOUS, Sent, Transport, TransportError, transport_for

logger = logging.getLogger(__name__)

DISPATCH_SECONDS = 10
MAX_BATCH = 50
SENDING_TIMEOUT = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)


def advance(message: Message, status: str, source: str, detail: str = "", **fields) -> bool:
    """Move a message to `status` if that is forward; returns whether anything changed.
    A late or replayed report never moves a message back."""
    current = Message.RANK[message.status]
    target = Message.RANK[status]
    if message.status in Message.FINAL or target < current or (target == current and not fields):
        return False
    now = timezone.now()
    values = {"status": status, **fields}
    if status == Message.Status.SENT and not message.sent_at:
        values["sent_at"] = now
    if status == Message.Status.DELIVERED:
        values["delivered_at"] = now
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=message.status).update(**values)
        if not updated:  # someone moved it meanwhile: read again and retry once
            fresh = Message.objects.get(pk=message.pk)
            if fresh.status == message.status:
                return False
            return advance(fresh, status, source, detail, **fields)
        if status != message.status:
            MessageEvent.objects.create(
                message=message, status=status, source=source, detail=detail[:500]
            )
    for name, value in values.items():
        setattr(message, name, value)
    return True


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def _due():
    now = timezone.now()
    return Message.objects.filter(
        Q(claim__isnull=True) | Q(claimed_at__lt=now - SENDING_TIMEOUT),
        status=Message.Status.QUEUED,
        next_attempt_at__lte=now,
        campaign__status=Campaign.Status.READY,
    )


def claim(limit: int) -> tuple[uuid.UUID, list[Message]]:
    """Atomically take up to `limit` due messages: two dispatchers never take the same row.
    A claimed row stays "queued" until the moment it is sent: if the worker dies, only the
    message being sent is left "sending" (to check at the provider), the others are taken
    again once the claim is old."""
    token = uuid.uuid4()
    due = _due().order_by("next_attempt_at", "pk").values("pk")[:limit]
    Message.objects.filter(pk__in=due, status=Message.Status.QUEUED).update(
        claim=token, claimed_at=timezone.now()
    )
    return token, list(
        Message.objects.filter(claim=token, status=Message.Status.QUEUED)
        .select_related("campaign")
        .order_by("pk")
    )


def start_sending(message: Message, token: uuid.UUID) -> bool:
    """Mark one message "sending" right before the provider call."""
    now = timezone.now()
    with transaction.atomic():
        taken = Message.objects.filter(
            pk=message.pk, claim=token, status=Message.Status.QUEUED
        ).update(status=Message.Status.SENDING, sending_at=now, attempts=F("attempts") + 1)
        if taken:
            MessageEvent.objects.create(
                message=message, status=Message.Status.SENDING, source=MessageEvent.Source.OUTBOX
            )
    if taken:
        message.status, message.sending_at, message.attempts = (
            Message.Status.SENDING,
            now,
            message.attempts + 1,
        )
    return bool(taken)


def reserve(sender: str, units: int, rate: float):
    """Book `units` at `rate` per second for a sender, shared by every worker; returns when
    the booking starts."""
    now = timezone.now()
    with transaction.atomic():
        row, _ = SenderRate.objects.select_for_update().get_or_create(
            sender=sender, defaults={"next_free_at": now}
        )
        start = max(now, row.next_free_at)
        row.next_free_at = start + timedelta(seconds=units / rate)
        row.save(update_fields=["next_free_at"])
    return start


def record_result(message: Message, transport: Transport, result: "Sent | TransportError") -> None:
    from messaging import services

    if isinstance(result, Sent):
        advance(
            message,
            result.status,
            MessageEvent.Source.OUTBOX,
            provider_id=result.provider_id,
            error_code="",
            error_message="",
        )
        return
    error = result
    if error.ambiguous:
        # Leave it "sending": reconcile() will ask the provider, never resend blindly.
        MessageEvent.objects.create(
            message=message,
            status=Message.Status.SENDING,
            source=MessageEvent.Source.OUTBOX,
            detail=f"{error.code} {error.message}"[:500],
        )
        Message.objects.filter(pk=message.pk).update(
            error_code=error.code, error_message=error.message[:500]
        )
        return
    if error.permanent or message.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        with transaction.atomic():
            advance(
                message,
                Message.Status.FAILED,
                MessageEvent.Source.OUTBOX,
                f"{error.code} {error.message}",
                error_code=error.code,
                error_message=error.message[:500],
            )
            if error.permanent:
                services.block_channel(message, error.code, error.message)
        return
    # Temporary: back to the queue with a growing delay (the outbox's own retry).
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED,
            claim=None,
            claimed_at=None,
            next_attempt_at=timezone.now() + backoff(message.attempts),
            error_code=error.code,
            error_message=error.message[:500],
        )
        MessageEvent.objects.create(
            message=message,
            status=Message.Status.QUEUED,
            source=MessageEvent.Source.OUTBOX,
            detail=f"{error.code} {error.message}"[:500],
        )


def send_batch(token: uuid.UUID, messages: list[Message]) -> int:
    by_channel: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        by_channel[message.channel].append(message)
    sent = 0
    for channel, batch in by_channel.items():
        transport = transport_for(channel)
        units = [transport.units(m) for m in batch]
        start = reserve(transport.sender_key, sum(units), transport.rate_per_second)
        offset = 0.0
        try:
            for message, unit in zip(batch, units, strict=True):
                slot = start + timedelta(seconds=offset / transport.rate_per_second)
                wait = (slot - timezone.now()).total_seconds()
                if wait > 0:
                    time.sleep(wait)
                offset += unit
                if not start_sending(message, token):
                    continue
                try:
                    result = transport.send(message)
                except TransportError as exc:
                    result = exc
                except Exception as exc:  # a bug in a transport must not lose the batch
                    logger.exception("Transport %s crashed on message %s", channel, message.pk)
                    result = TransportError(str(exc)[:400], code="error", ambiguous=True)
                record_result(message, transport, result)
                sent += isinstance(result, Sent)
        finally:
            transport.close()
    return sent


def _batch_size() -> int:
    """Enough for a few seconds at the slowest sender's rate, and never more than MAX_BATCH so
    that parallel workers share a campaign and a dead worker strands few claimed rows."""
    rate = min(settings.SMS_RATE_PER_SECOND, settings.EMAIL_RATE_PER_SECOND)
    return max(1, min(MAX_BATCH, int(rate * DISPATCH_SECONDS)))


def has_due() -> bool:
    return Message.objects.filter(
        status=Message.Status.QUEUED,
        next_attempt_at__lte=timezone.now(),
        campaign__status=Campaign.Status.READY,
    ).exists()


@jobs.periodic(minutes=1)
def dispatch() -> int:
    """Send due messages for about DISPATCH_SECONDS, then hand over to a new job if more wait."""
    deadline = time.monotonic() + DISPATCH_SECONDS
    sent = 0
    while time.monotonic() < deadline:
        token, batch = claim(_batch_size())
        if not batch:
            return sent
        sent += send_batch(token, batch)
    if has_due():
        jobs.enqueue(dispatch)
    return sent


@jobs.periodic(minutes=2)
def reconcile() -> dict:
    """Messages stuck in "sending" (a crash or a lost answer): ask the provider."""
    cutoff = timezone.now() - SENDING_TIMEOUT
    stuck = list(
        Message.objects.filter(
            status=Message.Status.SENDING, sending_at__lt=cutoff, needs_review=False
        ).select_related("campaign")[:200]
    )
    counts = {"found": 0, "review": 0}
    transports: dict[str, Transport] = {}
    for message in stuck:
        transport = transports.setdefault(message.channel, transport_for(message.channel))
        found = transport.lookup(message)
        if isinstance(found, Sent):
            advance(
                message,
                found.status,
                MessageEvent.Source.RECONCILIATION,
                "found at the provider",
                provider_id=found.provider_id,
            )
            counts["found"] += 1
        else:
            detail = (
                "ambiguous at the provider" if found == AMBIGUOUS else "not found at the provider"
            )
            with transaction.atomic():
                Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
                    needs_review=True
                )
                MessageEvent.objects.create(
                    message=message,
                    status=Message.Status.SENDING,
                    source=MessageEvent.Source.RECONCILIATION,
                    detail=detail,
                )
            counts["review"] += 1
    return counts


def apply_provider_report(
    message_hint: str | None,
    provider_id: str,
    provider_status: str,
    error_code: str = "",
    status_map: dict | None = None,
) -> Message | None:
    """A delivery report from the provider. Returns None for an unknown message."""
    from messaging import services
    from messaging.transports.twilio_sms import BLOCKING_CODES, STATUSES

    mapping = status_map or STATUSES
    status = mapping.get((provider_status or "").lower())
    message = None
    if message_hint and message_hint.isdigit():
        message = Message.objects.filter(pk=int(message_hint)).first()
        if message and message.provider_id and provider_id and message.provider_id != provider_id:
            message = None  # the id in the URL and the provider's id disagree: not ours
    if message is None and provider_id:
        message = Message.objects.filter(provider_id=provider_id).first()
    if message is None or status is None:
        return message if status is None else None
    fields = {}
    if not message.provider_id and provider_id:
        fields["provider_id"] = provider_id  # a report that resolves a message stuck in sending
        fields["needs_review"] = False
    if error_code:
        fields["error_code"] = str(error_code)
    detail = f"{provider_status}" + (f" ({error_code})" if error_code else "")
    changed = (
        advance(message, status, MessageEvent.Source.PROVIDER, detail, **fields)
        if (status != message.status or fields)
        else False
    )
    if changed and error_code and error_code.isdigit() and int(error_code) in BLOCKING_CODES:
        services.block_channel(message, str(error_code), detail)
    return message
