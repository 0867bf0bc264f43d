"""Rows behind the job seam: work that waits (a retry, a due time) and the worker's heartbeat."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Job(models.Model):
    """A job that waits for a due time: a retry after a failure, or work planned for later.

    Waiting work is a row here, picked up by a short periodic job, never a delayed task inside
    a broker (Celery on Redis would redeliver an `eta` task after its visibility timeout).
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        DISPATCHED = "dispatched", _("Dispatched")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("job"), max_length=200)
    args = models.JSONField(_("arguments"), default=list)
    kwargs = models.JSONField(_("keyword arguments"), default=dict)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.WAITING
    )
    due_at = models.DateTimeField(_("due"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["due_at"]
        indexes = [models.Index(fields=["status", "due_at"], name="job_status_due")]

    def __str__(self):
        return f"{self.name} #{self.pk} ({self.get_status_display()})"


class Heartbeat(models.Model):
    """The last time a worker ran the heartbeat job: /api/health reports it."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self):
        return f"{self.name}: {self.seen_at:%Y-%m-%d %H:%M:%S}"
