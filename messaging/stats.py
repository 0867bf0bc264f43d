"""Counts for supervision: per campaign and per channel, from the outbox rows in one query.

Success: an SMS counts when the operator reports it delivered; an e-mail when the SMTP server
accepted it (SMTP gives no delivery report). The rate is successes over messages that are not
cancelled."""

from dataclasses import dataclass, field

from django.db.models import Count

from messaging.models import Channel, Message

S = Message.Status


@dataclass
class Counts:
    by_status: dict = field(default_factory=dict)
    success: int = 0
    total: int = 0

    def add(self, channel: str, status: str, n: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + n
        if status != S.CANCELLED:
            self.total += n
        if status == S.DELIVERED or (channel == Channel.EMAIL and status == S.SENT):
            self.success += n

    @property
    def rate(self) -> float | None:
        return round(100 * self.success / self.total, 1) if self.total else None

    @property
    def waiting(self) -> int:
        return sum(self.by_status.get(s, 0) for s in (S.QUEUED, S.SENDING))

    @property
    def failed(self) -> int:
        return sum(self.by_status.get(s, 0) for s in (S.FAILED, S.UNDELIVERED))

    def get(self, status: str) -> int:
        return self.by_status.get(status, 0)


def by_campaign(campaign_ids: list[int]) -> dict[int, Counts]:
    result: dict[int, Counts] = {}
    rows = (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for campaign_id, channel, status, n in rows:
        result.setdefault(campaign_id, Counts()).add(channel, status, n)
    return result


def by_channel(messages) -> dict[str, Counts]:
    result = {channel: Counts() for channel in Channel.values}
    for channel, status, n in (
        messages.values_list("channel", "status").annotate(n=Count("pk")).order_by()
    ):
        result[channel].add(channel, status, n)
    return result
