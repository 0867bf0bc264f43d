"""Login throttling after CNIL's deliberation 2022-100 (case 2).

Two counters of attempts over 24 hours:
- identifier and address together: after LOGIN_FREE_FAILURES failures each new attempt waits a
  delay that doubles (1, 2, 4... minutes, at most an hour), and LOGIN_MAX_FAILURES_PER_DAY
  failures stop attempts until the oldest one is a day old;
- the identifier from any address: after LOGIN_FREE_FAILURES_PER_IDENTIFIER failures, a growing
  delay of at most 15 minutes, so that guessing spread over many addresses is slowed too.
Nothing is ever locked for good, and a stranger elsewhere can impose at most a short delay.
Password recovery by e-mail link is never throttled by these counters.

Concurrency: an attempt is written (and committed) before the password is checked, and judged
on the attempts written before it; a burst of parallel requests therefore counts in full. The
row is removed when the attempt was refused unchecked, and all rows of the key go on success.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import LoginFailure

WINDOW = timedelta(hours=24)
MAX_DELAY = timedelta(hours=1)
MAX_IDENTIFIER_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: timedelta = timedelta(0)


def throttle_key(identifier: str, address: str | None) -> str:
    return f"{(identifier or '').strip().lower()[:200]}|{address or '-'}"


def identifier_key(identifier: str) -> str:
    return f"{(identifier or '').strip().lower()[:200]}|*"


def delay_after(failures: int, free: int | None = None, cap: timedelta = MAX_DELAY) -> timedelta:
    extra = failures - (free if free is not None else settings.LOGIN_FREE_FAILURES)
    if extra < 0:
        return timedelta(0)
    return min(timedelta(minutes=2 ** min(extra, 20)), cap)


def _times(key: str, before_pk: int | None = None) -> list:
    rows = LoginFailure.objects.filter(key=key, created_at__gte=timezone.now() - WINDOW)
    if before_pk is not None:
        rows = rows.filter(pk__lt=before_pk)
    return list(rows.order_by("created_at").values_list("created_at", flat=True))


def _judge(times: list, free: int, cap: timedelta, day_limit: int | None) -> Verdict:
    now = timezone.now()
    if day_limit is not None and len(times) >= day_limit:
        return Verdict(False, times[-day_limit] + WINDOW - now)
    if times:
        wait_until = times[-1] + delay_after(len(times), free, cap)
        if wait_until > now:
            return Verdict(False, wait_until - now)
    return Verdict(True)


def check(key: str, before_pk: int | None = None) -> Verdict:
    """The verdict for the identifier-and-address key."""
    return _judge(
        _times(key, before_pk),
        settings.LOGIN_FREE_FAILURES,
        MAX_DELAY,
        settings.LOGIN_MAX_FAILURES_PER_DAY,
    )


def check_identifier(key: str, before_pk: int | None = None) -> Verdict:
    return _judge(
        _times(key, before_pk),
        settings.LOGIN_FREE_FAILURES_PER_IDENTIFIER,
        MAX_IDENTIFIER_DELAY,
        None,
    )


class Attempt:
    """One login attempt: begin() before checking the password, then succeeded() or nothing."""

    def __init__(self, identifier: str, address: str | None):
        self.keys = (throttle_key(identifier, address), identifier_key(identifier))
        self.rows: list[int] = []

    def begin(self) -> Verdict:
        with transaction.atomic():
            self.rows = [LoginFailure.objects.create(key=key).pk for key in self.keys]
        verdicts = [check(self.keys[0], self.rows[0]), check_identifier(self.keys[1], self.rows[1])]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            LoginFailure.objects.filter(pk__in=self.rows).delete()
            return max(refused, key=lambda v: v.retry_after)
        return Verdict(True)

    def succeeded(self) -> None:
        LoginFailure.objects.filter(key__in=self.keys).delete()


def purge_expired() -> int:
    deleted, _ = LoginFailure.objects.filter(created_at__lt=timezone.now() - WINDOW).delete()
    return deleted
