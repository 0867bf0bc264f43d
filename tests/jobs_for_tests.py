"""Jobs used by the job-seam tests; a plain module so that real workers can import it."""

from django.utils import timezone

from backend import jobs
from backend.core.models import Heartbeat


@jobs.job
def record(name: str) -> str:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
    return name


@jobs.job
def always_fails(reason: str) -> None:
    raise RuntimeError(reason)
