"""The one seam for background work (rules: docs/jobs.md).

    from backend import jobs

    @jobs.job
    def send_message(message_id: int): ...

    jobs.enqueue(send_message, message.pk)          # after the current transaction commits
    jobs.enqueue_at(when, send_message, message.pk)  # a row that waits for its due time

    @jobs.periodic(minutes=5)
    def purge_old_photos(): ...

Only this module knows which queue runs the jobs: django-q2 on the ORM broker by default,
Celery when JOBS_BACKEND=celery. Both run the same entry point, run_job(), which retries a
failing job a bounded number of times with exponential backoff, as rows with a due time, and
then records it as failed. Brokers never retry on their own.

Jobs take ids and plain values (JSON), never model instances, and must be safe to run twice.
"""

import importlib
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

if TYPE_CHECKING:
    from backend.core.models import Job

logger = logging.getLogger(__name__)

_JOBS: dict[str, Callable] = {}
_PERIODIC: dict[str, "Periodic"] = {}
SCHEDULE_PREFIX = "ronde:"
DISPATCH_BATCH = 200


@dataclass(frozen=True)
class Periodic:
    name: str
    minutes: int


def job_name(func: Callable | str) -> str:
    if isinstance(func, str):
        return func
    return f"{func.__module__}.{func.__qualname__}"


def job(func: Callable) -> Callable:
    """Register a function as a job that enqueue() may name."""
    _JOBS[job_name(func)] = func
    return func


def periodic(*, minutes: int) -> Callable[[Callable], Callable]:
    """Register a job that runs every `minutes` minutes, under either backend."""
    if minutes < 1:
        raise ValueError("A periodic job runs at most once a minute.")

    def register(func: Callable) -> Callable:
        job(func)
        name = job_name(func)
        _PERIODIC[name] = Periodic(name=name, minutes=minutes)
        return func

    return register


def registered_jobs() -> dict[str, Callable]:
    return dict(_JOBS)


def periodic_jobs() -> list[Periodic]:
    return sorted(_PERIODIC.values(), key=lambda p: p.name)


def autodiscover() -> None:
    """Import every app's tasks.py so that each process knows every job."""
    autodiscover_modules("tasks")


def _resolve(name: str) -> Callable:
    if name not in _JOBS:
        module, _, _attr = name.rpartition(".")
        importlib.import_module(module)
    try:
        return _JOBS[name]
    except KeyError:
        raise LookupError(f"Unknown job {name!r}: decorate it with @jobs.job") from None


def _check_payload(args, kwargs) -> None:
    try:
        json.dumps([args, kwargs])
    except TypeError as exc:
        raise TypeError(
            f"Job arguments must be plain JSON values (ids, not objects): {exc}"
        ) from None


def enqueue(func: Callable | str, *args, **kwargs) -> None:
    """Queue a job: a row written in the caller's transaction, handed to the broker once the
    transaction commits. If the broker is down (or the process dies before handing it over),
    the row stays and dispatch_due_jobs() sends it later: a committed job is never lost."""
    from backend.core.models import Job

    name = job_name(func)
    _resolve(name)
    _check_payload(args, kwargs)
    row = Job.objects.create(name=name, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: _hand_over(row.pk, name, list(args), kwargs, 1))


def _hand_over(pk: int, name: str, args: list, kwargs: dict, attempt: int) -> None:
    from backend.core.models import Job

    taken = Job.objects.filter(pk=pk, status=Job.Status.WAITING).update(
        status=Job.Status.DISPATCHED, dispatched_at=timezone.now()
    )
    if taken:
        _send_or_release(name, args, kwargs, attempt, pk)


def enqueue_at(when, func: Callable | str, *args, **kwargs) -> "Job":
    """Keep a job as a row until `when`; written in the caller's transaction."""
    from backend.core.models import Job

    name = job_name(func)
    _resolve(name)
    _check_payload(args, kwargs)
    return Job.objects.create(name=name, args=list(args), kwargs=kwargs, due_at=when)


def _send(name: str, args: list, kwargs: dict, attempt: int, row_id: int | None) -> None:
    payload = (name, args, kwargs, attempt, row_id)
    if settings.JOBS_BACKEND == "celery":
        from backend.celery import app

        app.send_task("ronde.run_job", args=payload)
    else:
        from django_q.tasks import async_task

        async_task("backend.jobs.run_job", *payload, task_name=f"{name}#{attempt}")


def backoff(attempt: int) -> timedelta:
    """Delay before attempt `attempt + 1`: base, 4×base, 16×base... capped at six hours."""
    seconds = settings.JOBS_RETRY_BASE_SECONDS * (4 ** (attempt - 1))
    return timedelta(seconds=min(seconds, 6 * 3600))


def run_job(name: str, args: list, kwargs: dict, attempt: int = 1, row_id: int | None = None):
    """The entry point that both queues call. Never raises: failures become rows."""
    from backend.core.models import Job

    try:
        result = _resolve(name)(*args, **kwargs)
    except Exception as exc:
        logger.exception("Job %s failed (attempt %s)", name, attempt)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        if name in _PERIODIC and row_id is None:
            # A periodic job is not retried as a row: its next run is the retry.
            values = {"status": Job.Status.FAILED, "last_error": error}
        elif attempt < settings.JOBS_MAX_ATTEMPTS:
            values = {
                "status": Job.Status.WAITING,
                "attempt": attempt + 1,
                "due_at": timezone.now() + backoff(attempt),
                "last_error": error,
                "dispatched_at": None,
            }
        else:
            values = {"status": Job.Status.FAILED, "last_error": error}
        if row_id is not None:
            Job.objects.filter(pk=row_id).update(**values)
        else:
            Job.objects.create(name=name, args=args, kwargs=kwargs, **values)
        return None
    if row_id is not None:
        Job.objects.filter(pk=row_id).update(status=Job.Status.DONE, last_error="")
    return result


@periodic(minutes=1)
def dispatch_due_jobs() -> int:
    """Send the jobs whose due time has come. Dispatched rows that never reported back (a
    worker killed mid-job) are sent again after a while: jobs are idempotent."""
    from backend.core.models import Job

    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOBS_STALE_SECONDS)
    Job.objects.filter(status=Job.Status.DISPATCHED, dispatched_at__lt=stale).update(
        status=Job.Status.WAITING
    )
    sent = 0
    while True:
        with transaction.atomic():
            due = Job.objects.filter(status=Job.Status.WAITING, due_at__lte=now).order_by("due_at")
            if connection_supports_skip_locked():
                due = due.select_for_update(skip_locked=True)
            rows = list(due.values_list("pk", "name", "args", "kwargs", "attempt")[:DISPATCH_BATCH])
            if not rows:
                break
            Job.objects.filter(pk__in=[r[0] for r in rows]).update(
                status=Job.Status.DISPATCHED, dispatched_at=now
            )
            for pk, name, args, kwargs, attempt in rows:
                transaction.on_commit(
                    lambda n=name, a=args, k=kwargs, t=attempt, p=pk: _send_or_release(
                        n, a, k, t, p
                    )
                )
        sent += len(rows)
    return sent


def _send_or_release(name: str, args: list, kwargs: dict, attempt: int, pk: int) -> None:
    from backend.core.models import Job

    try:
        _send(name, args, kwargs, attempt, pk)
    except Exception:
        logger.exception("Could not hand job %s over to the queue; it will be sent again", name)
        # Back to waiting, unless a worker already took it.
        Job.objects.filter(pk=pk, status=Job.Status.DISPATCHED).update(
            status=Job.Status.WAITING, dispatched_at=None
        )


@periodic(minutes=24 * 60)
def purge_finished_jobs() -> int:
    """Done rows are kept a week, failed ones a month (for the admin), then deleted."""
    from backend.core.models import Job

    now = timezone.now()
    done, _ = Job.objects.filter(
        status=Job.Status.DONE, updated_at__lt=now - timedelta(days=7)
    ).delete()
    failed, _ = Job.objects.filter(
        status=Job.Status.FAILED, updated_at__lt=now - timedelta(days=30)
    ).delete()
    return done + failed


def connection_supports_skip_locked() -> bool:
    from django.db import connection

    return connection.features.has_select_for_update_skip_locked


@periodic(minutes=1)
def heartbeat() -> None:
    from backend.core.models import Heartbeat

    Heartbeat.objects.update_or_create(name="worker", defaults={"seen_at": timezone.now()})


def sync_schedules(**_kwargs) -> None:
    """Make django-q2's Schedule rows match the periodic jobs declared in code.

    Runs after every migrate. Celery beat reads periodic_jobs() directly (backend/celery.py).
    """
    if not apps.is_installed("django_q"):
        return
    from django_q.models import Schedule

    wanted = {SCHEDULE_PREFIX + p.name: p for p in periodic_jobs()}
    Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).exclude(name__in=wanted).delete()
    for schedule_name, p in wanted.items():
        Schedule.objects.update_or_create(
            name=schedule_name,
            defaults={
                "func": "backend.jobs.run_job",
                "args": repr((p.name, [], {})),
                "schedule_type": Schedule.MINUTES,
                "minutes": p.minutes,
                "repeats": -1,
            },
        )


def queue_reachable() -> bool:
    """Whether the broker answers (the ORM broker is the database itself)."""
    try:
        if settings.JOBS_BACKEND == "celery":
            from backend.celery import app

            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        from django_q.brokers import get_broker

        return bool(get_broker().ping())
    except Exception:
        logger.warning("Job queue unreachable", exc_info=True)
        return False
