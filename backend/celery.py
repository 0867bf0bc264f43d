"""The Celery application, used when JOBS_BACKEND=celery (docs/jobs.md).

    celery -A backend worker --beat -c 2

One task, ronde.run_job, runs every job through backend.jobs.run_job; beat runs the periodic
jobs declared with @jobs.periodic. Celery never retries by itself: run_job does.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from backend import jobs  # noqa: E402

app = Celery("ronde")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="ronde.run_job")
def run_job(name, args, kwargs, attempt=1, row_id=None):
    jobs.run_job(name, args, kwargs, attempt, row_id)


app.conf.beat_schedule = {
    jobs.SCHEDULE_PREFIX + p.name: {
        "task": "ronde.run_job",
        "schedule": p.minutes * 60.0,
        "args": (p.name, [], {}),
    }
    for p in jobs.periodic_jobs()
}
