"""Login throttling after CNIL's deliberation 2022-100 (case 2).

Failures are counted per identifier and address together, over 24 hours: after
LOGIN_FREE_FAILURES failures each new attempt waits a delay that doubles (1, 2, 4... minutes,
at most an hour), and LOGIN_MAX_FAILURES_PER_DAY failures stop attempts until the oldest one
is a day old. Nothing is ever locked for good, and a stranger from another address cannot
block an account, since the address is part of the key. A success clears the key.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from backend.accounts.models import LoginFailure

WINDOW = timedelta(hours=24)
MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: timedelta = timedelta(0)


def throttle_key(identifier: str, address: str | None) -> str:
    return f"{(identifier or '').strip().lower()[:200]}|{address or '-'}"


def delay_after(failures: int) -> timedelta:
    extra = failures - settings.LOGIN_FREE_FAILURES
    if extra < 0:
        return timedelta(0)
    return min(timedelta(minutes=2**extra), MAX_DELAY)


def check(key: str) -> Verdict:
    now = timezone.now()
    recent = LoginFailure.objects.filter(key=key, created_at__gte=now - WINDOW)
    times = list(recent.order_by("created_at").values_list("created_at", flat=True))
    if len(times) >= settings.LOGIN_MAX_FAILURES_PER_DAY:
        oldest = times[-settings.LOGIN_MAX_FAILURES_PER_DAY]
        return Verdict(False, oldest + WINDOW - now)
    if times:
        wait_until = times[-1] + delay_after(len(times))
        if wait_until > now:
            return Verdict(False, wait_until - now)
    return Verdict(True)


def record_failure(key: str) -> None:
    LoginFailure.objects.create(key=key)


def clear(key: str) -> None:
    LoginFailure.objects.filter(key=key).delete()


def purge_expired() -> int:
    deleted, _ = LoginFailure.objects.filter(created_at__lt=timezone.now() - WINDOW).delete()
    return deleted
