"""The offline protocol's tables (docs/sync.md): the change feed, the mutations applied once,
the phones, and the photos on their way."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Change(models.Model):
    """One row per change of a record that phones keep: the feed that deltas are read from.

    `txid` is the writing transaction's id on PostgreSQL (set by the database, see migration
    0002): a pull only returns rows of transactions older than every still-open one, so a
    cursor never passes a change that could commit later. On SQLite writers take turns, ids
    commit in order and `txid` stays 0.
    """

    id = models.BigAutoField(primary_key=True)
    txid = models.BigIntegerField(db_default=0)
    kind = models.CharField(max_length=40)
    record_id = models.CharField(max_length=64)
    residence_id = models.IntegerField(null=True)
    organisation_id = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["txid", "id"], name="sync_change_cursor")]

    def __str__(self):
        return f"{self.kind}:{self.record_id}"


class Device(models.Model):
    """A phone, known by the id it made at its first sync. A revoked phone is told to wipe
    itself at its next contact."""

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="devices",
        verbose_name=_("last user"),
    )
    label = models.CharField(_("device"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    wiped_at = models.DateTimeField(_("wiped"), null=True, blank=True)

    SCOPE = None
    STAFF_ONLY = True

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")
        ordering = ["-last_seen_at"]

    def __str__(self):
        return f"{self.label or self.pk} ({self.user})"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(user__organisation_id=user.organisation_id)


class Mutation(models.Model):
    """A change sent by a phone, applied once: its id (made by the phone) is the primary key,
    so a replay or a concurrent twin finds the first one and gets its answer."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")
        CONFLICT = "conflict", _("Conflict")

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, related_name="+")
    kind = models.CharField(max_length=40)
    record_id = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.kind} {self.record_id} ({self.status})"


class Media(models.Model):
    """A photo uploaded in chunks (resumable after a drop), attached to its record once both
    have arrived, in whichever order."""

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    record_id = models.CharField(max_length=64)
    answer_id = models.CharField(max_length=64, blank=True)
    total = models.PositiveIntegerField()
    received = models.PositiveIntegerField(default=0)
    attached_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "record_id"], name="sync_media_record")]

    def __str__(self):
        return f"{self.kind} {self.record_id}: {self.received}/{self.total}"
