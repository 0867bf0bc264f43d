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
from django.utils.translation import gettext as _

from backend import jobs
from messaging import timing
from messaging.models import (
    Campaign,
    ChannelBlock,
    Message,
    MessageEvent,
    OptOut,
    Purpose,
    SenderRate,
)
from messaging.transports import AMBIGUOUS, Sent, Transport, TransportError, transport_for

logger = logging.getLogger(__name__)

DISPATCH_SECONDS = 10
MAX_BATCH = 50
SENDING_TIMEOUT = timedelta(minutes=2)
# A message the provider does not know yet may still be in its queue: ask again until then.
REVIEW_AFTER = timedelta(minutes=15)
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


def _stale() -> Q:
    return Q(claim__isnull=True) | Q(claimed_at__lt=timezone.now() - SENDING_TIMEOUT)


def _due():
    return Message.objects.filter(
        _stale(),
        status=Message.Status.QUEUED,
        next_attempt_at__lte=timezone.now(),
        campaign__status=Campaign.Status.READY,
    )


def claim(limit: int) -> tuple[uuid.UUID, list[Message]]:
    """Atomically take up to `limit` due messages: two dispatchers never take the same row
    (the claim condition is checked again by the UPDATE itself, which PostgreSQL re-evaluates
    on a row another transaction just changed). A claimed row stays "queued" until the moment it
    is sent: if the worker dies, only the message being sent is left "sending" (to check at the
    provider); the others are taken again once the claim is old."""
    token = uuid.uuid4()
    due = _due().order_by("next_attempt_at", "pk").values("pk")[:limit]
    Message.objects.filter(_stale(), pk__in=due, status=Message.Status.QUEUED).update(
        claim=token, claimed_at=timezone.now()
    )
    claimed = Message.objects.filter(claim=token, status=Message.Status.QUEUED)
    return token, list(claimed.select_related("campaign__organisation").order_by("pk"))


def release(messages: list[Message], token: uuid.UUID, until=None) -> None:
    """Give claimed messages back to the queue (optionally for later)."""
    values = {"claim": None, "claimed_at": None}
    if until is not None:
        values["next_attempt_at"] = until
    Message.objects.filter(
        pk__in=[m.pk for m in messages], claim=token, status=Message.Status.QUEUED
    ).update(**values)


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
        row, _created = SenderRate.objects.select_for_update().get_or_create(
            sender=sender, defaults={"next_free_at": now}
        )
        start = max(now, row.next_free_at)
        row.next_free_at = start + timedelta(seconds=units / rate)
        row.save(update_fields=["next_free_at"])
    return start


def _cancel(message: Message, token: uuid.UUID, detail: str) -> None:
    with transaction.atomic():
        cancelled = Message.objects.filter(
            pk=message.pk, claim=token, status=Message.Status.QUEUED
        ).update(status=Message.Status.CANCELLED)
        if cancelled:
            MessageEvent.objects.create(
                message=message,
                status=Message.Status.CANCELLED,
                source=MessageEvent.Source.OUTBOX,
                detail=detail,
            )


def check_before_sending(batch: list[Message], token: uuid.UUID) -> list[Message]:
    """What changed since the rows were written: quiet hours (a retry, a backlog, a resend at
    night), an opt-out (STOP received meanwhile), an address refused for good. Two queries for
    the whole batch. Returns the messages that may go now."""
    people = [m.person_id for m in batch if m.person_id]
    opted = set(
        OptOut.objects.filter(person_id__in=people).values_list("person_id", "purpose", "channel")
    )
    blocked = set(
        ChannelBlock.objects.filter(person_id__in=people).values_list(
            "person_id", "channel", "address"
        )
    )
    now = timezone.now()
    ready, held = [], {}
    for message in batch:
        campaign = message.campaign
        if (
            campaign.purpose != Purpose.OPERATIONAL
            and (message.person_id, campaign.purpose, message.channel) in opted
        ):
            _cancel(message, token, _("Opted out since the message was written."))
            continue
        if (message.person_id, message.channel, message.to) in blocked:
            _cancel(message, token, _("The address was refused by the operator meanwhile."))
            continue
        quiet = timing.quiet_hours_apply(
            channel=message.channel,
            purpose=campaign.purpose,
            is_campaign=campaign.author_id is not None and campaign.content_type_id is None,
            urgent=campaign.urgent,
        )
        if quiet and not timing.is_allowed(campaign.organisation, now):
            held.setdefault(timing.next_allowed(campaign.organisation, now), []).append(message)
            continue
        ready.append(message)
    for until, messages in held.items():
        release(messages, token, until)
    return ready


def record_result(message: Message, result: "Sent | TransportError") -> None:
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
    detail = f"{error.code} {error.message}"[:500]
    if error.ambiguous:
        # Leave it "sending": reconcile() will ask the provider, never resend blindly.
        MessageEvent.objects.create(
            message=message,
            status=Message.Status.SENDING,
            source=MessageEvent.Source.OUTBOX,
            detail=detail,
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
                detail,
                error_code=error.code,
                error_message=error.message[:500],
            )
            if error.block:  # only errors about the recipient's address, never about our account
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
            detail=detail,
        )


def send_batch(token: uuid.UUID, messages: list[Message], deadline: float | None = None) -> int:
    """Send claimed messages, each booked on its own sender's rate just before it leaves; the
    ones whose slot falls after the deadline go back to the queue for the next job."""
    deadline = deadline if deadline is not None else time.monotonic() + DISPATCH_SECONDS
    by_channel: dict[str, list[Message]] = defaultdict(list)
    for message in check_before_sending(messages, token):
        by_channel[message.channel].append(message)
    sent = 0
    for channel, batch in by_channel.items():
        transport = transport_for(channel)
        try:
            for index, message in enumerate(batch):
                slot = reserve(
                    transport.sender_key(message),
                    transport.units(message),
                    transport.rate_for(message),
                )
                wait = (slot - timezone.now()).total_seconds()
                if time.monotonic() + wait > deadline:
                    release(batch[index:], token)
                    break
                if wait > 0:
                    time.sleep(wait)
                if not start_sending(message, token):
                    continue
                try:
                    result = transport.send(message)
                except TransportError as exc:
                    result = exc
                except Exception as exc:  # a bug in a transport must not lose the batch
                    logger.exception("Transport %s crashed on message %s", channel, message.pk)
                    result = TransportError(str(exc)[:400], code="error", ambiguous=True)
                record_result(message, result)
                sent += isinstance(result, Sent)
        finally:
            transport.close()
    return sent


def has_due() -> bool:
    return _due().exists()


@jobs.periodic(minutes=1)
def dispatch() -> int:
    """Send due messages for about DISPATCH_SECONDS, then hand over to a new job if more wait."""
    deadline = time.monotonic() + DISPATCH_SECONDS
    sent = 0
    while time.monotonic() < deadline:
        token, batch = claim(MAX_BATCH)
        if not batch:
            return sent
        sent += send_batch(token, batch, deadline)
    if has_due():
        jobs.enqueue(dispatch)
    return sent


@jobs.periodic(minutes=2)
def reconcile() -> dict:
    """Messages stuck in "sending" (a crash or a lost answer): ask the provider. Not found,
    they are asked again until REVIEW_AFTER (the provider may still be queueing them), then
    flagged for an advisor. Never resent by this job."""
    now = timezone.now()
    stuck = list(
        Message.objects.filter(
            status=Message.Status.SENDING, sending_at__lt=now - SENDING_TIMEOUT, needs_review=False
        ).select_related("campaign")[:200]
    )
    counts = {"found": 0, "review": 0, "waiting": 0}
    transports: dict[str, Transport] = {}
    for message in stuck:
        transport = transports.setdefault(message.channel, transport_for(message.channel))
        found = transport.lookup(message)
        if isinstance(found, Sent):
            advance(
                message,
                found.status,
                MessageEvent.Source.RECONCILIATION,
                _("Found at the operator."),
                provider_id=found.provider_id,
            )
            counts["found"] += 1
            continue
        if found != AMBIGUOUS and message.sending_at > now - REVIEW_AFTER:
            counts["waiting"] += 1
            continue
        detail = (
            _("Ambiguous at the operator.")
            if found == AMBIGUOUS
            else _("Not found at the operator.")
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
    *,
    statuses: dict,
    blocking_codes: frozenset | set,
) -> Message | None:
    """A delivery report from a provider, read with that provider's own status names and the
    error codes that block an address (given by its webhook). None for an unknown message."""
    from messaging import services

    status = statuses.get((provider_status or "").lower())
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
    if changed and error_code and error_code.isdigit() and int(error_code) in blocking_codes:
        services.block_channel(message, str(error_code), detail)
    return message
