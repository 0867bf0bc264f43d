"""The job seam: after commit, bounded retries with backoff as rows, periodic schedules, and
the two real queues (a django-q2 cluster on the ORM broker, Celery on a real Redis)."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend import jobs
from backend.core.models import Heartbeat, Job
from tests.jobs_for_tests import always_fails, record

ROOT = Path(__file__).resolve().parent.parent


def test_a_job_is_sent_only_when_the_transaction_commits(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        jobs.enqueue(record, "after-commit")
        assert not Heartbeat.objects.filter(name="after-commit").exists()
    assert len(callbacks) == 1
    callbacks[0]()
    assert Heartbeat.objects.filter(name="after-commit").exists()


def test_a_rolled_back_transaction_sends_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                jobs.enqueue(record, "rolled-back")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not Heartbeat.objects.filter(name="rolled-back").exists()


def test_jobs_take_plain_values_not_objects(db):
    with pytest.raises(TypeError, match="plain JSON"):
        jobs.enqueue(record, object())


def test_an_unknown_job_is_refused_at_enqueue(db):
    with pytest.raises(LookupError):
        jobs.enqueue("tests.jobs_for_tests.nope")


def test_a_failing_job_is_retried_with_backoff_then_recorded_as_failed(
    db, settings, django_capture_on_commit_callbacks
):
    settings.JOBS_MAX_ATTEMPTS = 3
    settings.JOBS_RETRY_BASE_SECONDS = 60
    jobs.run_job(jobs.job_name(always_fails), ["disk full"], {}, 1)
    row = Job.objects.get()
    assert row.status == Job.Status.WAITING and row.attempt == 2
    assert "disk full" in row.last_error
    delay = (row.due_at - timezone.now()).total_seconds()
    assert 50 < delay <= 60
    # Not due yet: the dispatcher leaves it alone.
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.dispatch_due_jobs() == 0
    Job.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.dispatch_due_jobs() == 1
    row.refresh_from_db()
    assert row.status == Job.Status.WAITING and row.attempt == 3
    assert (row.due_at - timezone.now()).total_seconds() > 200  # 4 × base: backoff grows
    Job.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        jobs.dispatch_due_jobs()
    row.refresh_from_db()
    assert row.status == Job.Status.FAILED and row.attempt == 3
    # Never retried forever: a failed row is not dispatched again.
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.dispatch_due_jobs() == 0


def test_backoff_is_capped(settings):
    settings.JOBS_RETRY_BASE_SECONDS = 60
    assert jobs.backoff(1) == timedelta(minutes=1)
    assert jobs.backoff(2) == timedelta(minutes=4)
    assert jobs.backoff(20) == timedelta(hours=6)


def test_work_planned_for_later_waits_as_a_row(db, django_capture_on_commit_callbacks):
    row = jobs.enqueue_at(timezone.now() + timedelta(hours=1), record, "later")
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.dispatch_due_jobs() == 0
    Job.objects.filter(pk=row.pk).update(due_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.dispatch_due_jobs() == 1
    assert Heartbeat.objects.filter(name="later").exists()
    row.refresh_from_db()
    assert row.status == Job.Status.DONE


def test_a_dispatched_row_lost_by_a_crashed_worker_is_sent_again(
    db, django_capture_on_commit_callbacks
):
    row = jobs.enqueue_at(timezone.now(), record, "lost")
    Job.objects.filter(pk=row.pk).update(
        status=Job.Status.DISPATCHED, dispatched_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.dispatch_due_jobs() == 1
    assert Heartbeat.objects.filter(name="lost").exists()


def test_periodic_jobs_are_declared_once_and_synced_to_django_q2(db):
    from django_q.models import Schedule

    Schedule.objects.create(
        name="ronde:gone.job", func="x", schedule_type=Schedule.MINUTES, minutes=1
    )
    jobs.sync_schedules()
    names = set(Schedule.objects.filter(name__startswith="ronde:").values_list("name", flat=True))
    assert set(EXPECTED_PERIODIC) <= names
    assert "ronde:gone.job" not in names


def test_django_q2_scheduler_runs_the_heartbeat(db, monkeypatch):
    from django_q.conf import Conf
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    monkeypatch.setattr(Conf, "SYNC", True)
    jobs.sync_schedules()
    Schedule.objects.update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler()
    assert Heartbeat.objects.filter(name="worker").exists()


EXPECTED_PERIODIC = {
    "ronde:backend.jobs.dispatch_due_jobs": 60.0,
    "ronde:backend.jobs.heartbeat": 60.0,
    "ronde:backend.jobs.purge_finished_jobs": 86400.0,
    "ronde:backend.accounts.tasks.purge_login_failures": 3600.0,
    "ronde:backend.accounts.tasks.tenant_accounts_lifecycle": 86400.0,
    "ronde:backend.accounts.tasks.personal_data_retention": 86400.0,
}


def test_a_fresh_celery_beat_process_knows_every_periodic_job():
    """In a new process, as `celery -A backend beat` starts: every app's tasks are discovered."""
    code = (
        "import json; from backend.celery import app; "
        "print(json.dumps({k: [v['task'], v['schedule']] for k, v in app.conf.beat_schedule.items()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "JOBS_BACKEND": "celery"},
        check=True,
    )
    import json

    schedule = json.loads(result.stdout.strip().splitlines()[-1])
    for name, seconds in EXPECTED_PERIODIC.items():
        assert schedule[name] == ["ronde.run_job", seconds], name


# --- real queues ------------------------------------------------------------------------------


def database_url_for_workers() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_workers(),
        RONDE_DATA_DIR=str(settings.DATA_DIR),
        PYTHONPATH=str(ROOT),
        JOBS_EAGER="false",
        RONDE_TESTING="false",
        **extra,
    )
    return env


def wait_for(predicate, timeout=60.0, process=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process is not None and process.poll() is not None:
            raise AssertionError(f"worker died: {Path(log).read_text() if log else ''}")
        time.sleep(0.25)
    return False


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.django_db(transaction=True)
def test_a_real_django_q2_cluster_runs_queued_jobs(monkeypatch, tmp_path):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    log = tmp_path / "qcluster.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=worker_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        jobs.enqueue(record, "from-q2-cluster")
        jobs.enqueue(always_fails, "q2 failure")
        assert wait_for(
            lambda: Heartbeat.objects.filter(name="from-q2-cluster").exists(), 90, process, log
        ), log.read_text()
        assert wait_for(
            lambda: Job.objects.filter(name__endswith="always_fails", attempt=2).exists(),
            30,
            process,
            log,
        )
        row = Job.objects.get(name__endswith="always_fails")
        assert row.attempt == 2 and row.status == Job.Status.WAITING
    finally:
        stop(process)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_celery_workers_on_a_real_redis_run_jobs_and_record_failures(settings, tmp_path):
    import redis

    broker = os.environ.get("REDIS_URL")
    assert broker, "REDIS_URL is not set: run the suite through scripts/with-services.sh"
    redis.Redis.from_url(broker).ping()
    settings.JOBS_BACKEND = "celery"
    log = tmp_path / "celery.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backend",
            "worker",
            "--pool=solo",
            "-c",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--logfile",
            str(log),
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=worker_env(JOBS_BACKEND="celery", CELERY_BROKER_URL=broker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        assert jobs.queue_reachable()
        jobs.enqueue(record, "from-celery")
        jobs.enqueue(always_fails, "celery failure")
        assert wait_for(
            lambda: Heartbeat.objects.filter(name="from-celery").exists(), 90, process, log
        ), log.read_text() if log.exists() else ""
        assert wait_for(
            lambda: Job.objects.filter(name__endswith="always_fails", attempt=2).exists(),
            30,
            process,
            log,
        )
        row = Job.objects.get(name__endswith="always_fails")
        assert row.attempt == 2 and "celery failure" in row.last_error
        # The retry goes back through the same Celery queue once due.
        Job.objects.update(due_at=timezone.now())
        jobs.dispatch_due_jobs()
        assert wait_for(lambda: Job.objects.get(pk=row.pk).attempt == 3, 30, process, log)
    finally:
        stop(process)


def test_health_reports_an_unreachable_celery_broker(db, settings, monkeypatch):
    settings.JOBS_BACKEND = "celery"
    from backend.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    assert jobs.queue_reachable() is False
