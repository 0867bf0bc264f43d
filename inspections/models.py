"""Inspections of providers' work: grids (versioned), visits, answers, photos, rework requests,
penalties, alerts. Rules: docs/inspections.md."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.estate.models import WorkCategory


class Grid(models.Model):
    """A checklist family. Its content lives in versions: a past visit keeps the version it was
    scored with. No organisation: the default grid shipped with Ronde, usable by every landlord."""

    organisation = models.ForeignKey(
        "estate.Organisation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="grids",
        verbose_name=_("organisation"),
    )
    contract = models.ForeignKey(
        "estate.ProviderContract",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="grids",
        verbose_name=_("provider contract"),
    )
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(
        _("category"), max_length=20, choices=WorkCategory.choices, default=WorkCategory.CLEANING
    )
    threshold = models.PositiveSmallIntegerField(
        _("compliance threshold (%)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("inspection grid")
        verbose_name_plural = _("inspection grids")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.contract_id is not None:  # a contract's grid belongs to the contract's landlord
            self.organisation_id = self.contract.provider.organisation_id
        super().save(*args, **kwargs)

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        if user.role == "contractor":
            return queryset.filter(contract__provider_id=user.provider_id)
        return queryset.filter(
            Q(organisation__isnull=True) | Q(organisation_id=user.organisation_id)
        )

    @property
    def current(self) -> "GridVersion | None":
        return self.versions.order_by("-number").first()


class GridVersion(models.Model):
    grid = models.ForeignKey(
        Grid, on_delete=models.CASCADE, related_name="versions", verbose_name=_("grid")
    )
    number = models.PositiveIntegerField(_("version"))
    published_at = models.DateTimeField(_("published"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name = _("grid version")
        verbose_name_plural = _("grid versions")
        ordering = ["grid", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["grid", "number"], name="grid_version_unique")
        ]

    def __str__(self):
        return f"{self.grid} v{self.number}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        """A version is seen by whoever sees its grid."""
        return queryset.filter(grid__in=Grid.scope_queryset(user, Grid.objects.all(), residences))


class Zone(models.Model):
    version = models.ForeignKey(GridVersion, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(_("zone"), max_length=200)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["order", "pk"]

    def __str__(self):
        return self.name


class Item(models.Model):
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="items")
    label = models.CharField(_("item"), max_length=300)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    critical = models.BooleanField(
        _("critical"), default=False, help_text=_("A failed critical item fails the whole visit.")
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["order", "pk"]

    def __str__(self):
        return self.label


class Visit(models.Model):
    """An inspection visit. Its id may be made by the phone (offline), so that the same visit
    sent twice is one visit."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.CASCADE, editable=False
    )
    residence = models.ForeignKey(
        "estate.Residence",
        on_delete=models.CASCADE,
        related_name="visits",
        verbose_name=_("residence"),
    )
    entrance = models.ForeignKey(
        "estate.Entrance",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("entrance"),
    )
    grid_version = models.ForeignKey(
        GridVersion, on_delete=models.PROTECT, related_name="visits", verbose_name=_("grid")
    )
    contract = models.ForeignKey(
        "estate.ProviderContract",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("provider contract"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("agent"),
    )
    planned_for = models.DateField(_("planned for"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PLANNED
    )
    joint = models.BooleanField(_("joint inspection with the provider"), default=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True, db_index=True)
    score = models.DecimalField(
        _("score (%)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    passed = models.BooleanField(_("compliant"), null=True, blank=True)
    critical_failed = models.BooleanField(_("critical item failed"), default=False)
    # Counted when the visit is finished, so that rates never scan the answers table.
    answered = models.PositiveSmallIntegerField(_("items answered (N/A aside)"), default=0)
    defects = models.PositiveSmallIntegerField(_("defects found"), default=0)
    signatory_name = models.CharField(_("provider's representative"), max_length=200, blank=True)
    signature = models.ImageField(
        _("signature"), upload_to="inspections/signatures/%Y/%m/", blank=True
    )
    report = models.FileField(_("report (PDF)"), upload_to="inspections/reports/%Y/%m/", blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    SCOPE = "residence"
    PROVIDER_SCOPE = "contract__provider"

    class Meta:
        verbose_name = _("inspection visit")
        verbose_name_plural = _("inspection visits")
        ordering = ["-planned_for", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["residence", "grid_version", "planned_for"],
                condition=Q(planned_for__isnull=False),
                name="one_planned_visit_a_day",
            )
        ]
        indexes = [
            models.Index(fields=["residence", "status", "finished_at"], name="visit_residence_done")
        ]

    def __str__(self):
        when = self.planned_for or (self.finished_at and self.finished_at.date()) or ""
        return f"{self.residence} — {when}"

    @property
    def is_late(self) -> bool:
        return (
            self.status in (self.Status.PLANNED, self.Status.IN_PROGRESS)
            and self.planned_for is not None
            and self.planned_for < timezone.localdate()
        )


class Answer(models.Model):
    class Value(models.TextChoices):
        COMPLIANT = "compliant", _("Compliant")
        MINOR = "minor", _("Minor defect")
        MAJOR = "major", _("Major defect")
        NOT_APPLICABLE = "na", _("Not applicable")

    class Cause(models.TextChoices):
        SERVICE = "service", _("Service not done or badly done")
        DAMAGE = "damage", _("Damage after the service (incivility, vandalism)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="answers")
    value = models.CharField(_("answer"), max_length=12, choices=Value.choices)
    cause = models.CharField(_("cause"), max_length=10, choices=Cause.choices, blank=True)
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    answered_at = models.DateTimeField(_("answered"), default=timezone.now)

    SCOPE = "visit__residence"
    PROVIDER_SCOPE = "visit__contract__provider"

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["visit", "item"], name="one_answer_per_item")
        ]

    def __str__(self):
        return f"{self.item}: {self.get_value_display()}"

    @property
    def is_defect(self) -> bool:
        return self.value in (self.Value.MINOR, self.Value.MAJOR)


def photo_path(instance, filename):
    return f"inspections/photos/{timezone.now():%Y/%m}/{instance.pk}.jpg"


def thumbnail_path(instance, filename):
    return f"inspections/photos/{timezone.now():%Y/%m}/{instance.pk}-thumb.jpg"


class Photo(models.Model):
    """A photo, stripped of every metadata (GPS!) and resized when it was received."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, related_name="photos", null=True, blank=True
    )
    answer = models.ForeignKey(
        Answer, on_delete=models.SET_NULL, related_name="photos", null=True, blank=True
    )
    rework = models.ForeignKey(
        "Rework", on_delete=models.CASCADE, related_name="photos", null=True, blank=True
    )
    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.CASCADE, related_name="inspection_photos"
    )
    image = models.ImageField(upload_to=photo_path)
    thumbnail = models.ImageField(upload_to=thumbnail_path)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("taken"), auto_now_add=True, db_index=True)

    SCOPE = "residence"
    PROVIDER_SCOPE = "visit__contract__provider"

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["created_at"]

    def __str__(self):
        return str(self.pk)


class Rework(models.Model):
    """A rework request (reprise): the provider fixes a finding within the contract's deadline,
    then a re-check records lifted or not lifted."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        DONE = "done", _("Done by the provider")
        LIFTED = "lifted", _("Lifted")
        NOT_LIFTED = "not_lifted", _("Not lifted")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="reworks")
    answer = models.OneToOneField(Answer, on_delete=models.CASCADE, related_name="rework")
    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.CASCADE, related_name="reworks"
    )
    contract = models.ForeignKey(
        "estate.ProviderContract", on_delete=models.PROTECT, related_name="reworks"
    )
    provider = models.ForeignKey(
        "estate.Provider", on_delete=models.PROTECT, related_name="reworks"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deadline = models.DateTimeField(_("deadline"))
    done_at = models.DateTimeField(_("done by the provider"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    provider_comment = models.TextField(_("provider's comment"), blank=True, max_length=2000)
    checked_at = models.DateTimeField(_("re-checked"), null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    check_comment = models.TextField(_("re-check comment"), blank=True, max_length=2000)

    SCOPE = "residence"
    PROVIDER_SCOPE = "provider"

    class Meta:
        verbose_name = _("rework request")
        verbose_name_plural = _("rework requests")
        ordering = ["-requested_at"]

    def __str__(self):
        return f"{self.answer.item} — {self.residence}"

    @property
    def is_late(self) -> bool:
        end = (
            self.done_at
            or (self.checked_at if self.status == self.Status.NOT_LIFTED else None)
            or timezone.now()
        )
        return end > self.deadline


class Penalty(models.Model):
    """A penalty under the provider's contract: proposed, open to contest for the contract's
    period (public procurement), then confirmed or waived by a manager with a reason."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        CONTESTED = "contested", _("Contested")
        CONFIRMED = "confirmed", _("Confirmed")
        WAIVED = "waived", _("Waived")

    class Reason(models.TextChoices):
        LATE = "late", _("Rework done late")
        NOT_LIFTED = "not_lifted", _("Rework not lifted at the re-check")

    rework = models.OneToOneField(Rework, on_delete=models.CASCADE, related_name="penalty")
    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.CASCADE, related_name="penalties"
    )
    contract = models.ForeignKey(
        "estate.ProviderContract", on_delete=models.PROTECT, related_name="penalties"
    )
    provider = models.ForeignKey(
        "estate.Provider", on_delete=models.PROTECT, related_name="penalties"
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    days_late = models.PositiveIntegerField(_("days late"), default=0)
    amount = models.DecimalField(
        _("amount (€)"), max_digits=9, decimal_places=2, default=Decimal("0")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PROPOSED
    )
    proposed_at = models.DateTimeField(_("proposed"), default=timezone.now)
    contest_until = models.DateTimeField(_("may be contested until"))
    contest_text = models.TextField(_("provider's objection"), blank=True, max_length=4000)
    contested_at = models.DateTimeField(_("contested"), null=True, blank=True)
    contested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(_("reason of the decision"), blank=True, max_length=2000)

    SCOPE = "residence"
    PROVIDER_SCOPE = "provider"

    class Meta:
        verbose_name = _("penalty")
        verbose_name_plural = _("penalties")
        ordering = ["-proposed_at"]

    def __str__(self):
        return f"{self.provider} — {self.amount} €"


class ControlAlert(models.Model):
    """A residence whose last visit is older than its target frequency allows: one alert per
    lapse, not one a day."""

    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.CASCADE, related_name="control_alerts"
    )
    due_since = models.DateField(_("visit due since"))
    notified_at = models.DateTimeField(_("notified"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    SCOPE = "residence"
    STAFF_ONLY = True

    class Meta:
        verbose_name = _("under-control alert")
        verbose_name_plural = _("under-control alerts")
        ordering = ["-notified_at"]
        constraints = [
            models.UniqueConstraint(fields=["residence", "due_since"], name="one_alert_per_lapse")
        ]

    def __str__(self):
        return f"{self.residence} ({self.due_since})"
