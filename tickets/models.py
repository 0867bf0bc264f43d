"""Technical requests and complaints, incidents, work orders, slots and appointments, on-call
shifts, subscriptions to a place. Rules: docs/tickets.md.

Few statuses (new → acknowledged → scheduled → done → closed, plus cancelled); every change is
an Event (the timeline), written by tickets.services in the transaction of the change.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.estate.models import WorkCategory


class Kind(models.TextChoices):
    TECHNICAL = "technical", _("Technical request")
    COMPLAINT = "complaint", _("Complaint")


class Category(models.TextChoices):
    LEAK = "leak", _("Leak")
    HEATING = "heating", _("Heating")
    HOT_WATER = "hot_water", _("Hot water")
    INTERCOM = "intercom", _("Intercom")
    DOOR = "door", _("Door and lock")
    LIFT = "lift", _("Lift")
    ELECTRICITY = "electricity", _("Electricity")
    PESTS = "pests", _("Pests")
    OTHER = "other", _("Other technical problem")
    NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood")
    CHARGES = "charges", _("Charges")
    RENT = "rent", _("Rent")


class Urgency(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Can wait")


class Team(models.TextChoices):
    TECHNICAL = "technical", _("Technical team")
    TENANCY = "tenancy", _("Tenancy management")
    CHARGES = "charges", _("Charges department")
    RENT = "rent", _("Rent and collection")


class Payer(models.TextChoices):
    LANDLORD = "landlord", _("The landlord")
    TENANT = "tenant", _("The tenant (tenant's repairs, décret 87-712)")
    CONTRACT = "contract", _("A maintenance contract")


class CategoryRule:
    """What a category implies: kind, team, default urgency, the contracts' work category."""

    def __init__(self, kind, team, urgency, work=None):
        self.kind, self.team, self.urgency, self.work = kind, team, urgency, work


CATEGORY_RULES = {
    Category.LEAK: CategoryRule(
        Kind.TECHNICAL, Team.TECHNICAL, Urgency.URGENT, WorkCategory.PLUMBING
    ),
    Category.HEATING: CategoryRule(
        Kind.TECHNICAL, Team.TECHNICAL, Urgency.NORMAL, WorkCategory.HEATING
    ),
    Category.HOT_WATER: CategoryRule(
        Kind.TECHNICAL, Team.TECHNICAL, Urgency.NORMAL, WorkCategory.HEATING
    ),
    Category.INTERCOM: CategoryRule(
        Kind.TECHNICAL, Team.TECHNICAL, Urgency.NORMAL, WorkCategory.INTERCOM
    ),
    Category.DOOR: CategoryRule(Kind.TECHNICAL, Team.TECHNICAL, Urgency.NORMAL, WorkCategory.DOORS),
    Category.LIFT: CategoryRule(Kind.TECHNICAL, Team.TECHNICAL, Urgency.URGENT, WorkCategory.LIFT),
    Category.ELECTRICITY: CategoryRule(
        Kind.TECHNICAL, Team.TECHNICAL, Urgency.NORMAL, WorkCategory.ELECTRICITY
    ),
    Category.PESTS: CategoryRule(
        Kind.TECHNICAL, Team.TECHNICAL, Urgency.NORMAL, WorkCategory.PESTS
    ),
    Category.OTHER: CategoryRule(Kind.TECHNICAL, Team.TECHNICAL, Urgency.LOW, WorkCategory.MULTI),
    Category.NEIGHBOURHOOD: CategoryRule(Kind.COMPLAINT, Team.TENANCY, Urgency.NORMAL),
    Category.CHARGES: CategoryRule(Kind.COMPLAINT, Team.CHARGES, Urgency.LOW),
    Category.RENT: CategoryRule(Kind.COMPLAINT, Team.RENT, Urgency.LOW),
}

TECHNICAL_CATEGORIES = [c for c, r in CATEGORY_RULES.items() if r.kind == Kind.TECHNICAL]
COMPLAINT_CATEGORIES = [c for c, r in CATEGORY_RULES.items() if r.kind == Kind.COMPLAINT]


class IntakeChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    COUNTER = "counter", _("Counter")
    FIELD = "field", _("Field (agent)")
    PORTAL = "portal", _("Tenant portal")
    API = "api", _("API")
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")
    QR = "qr", _("QR code in the hall")


class Status(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    SCHEDULED = "scheduled", _("Scheduled")
    DONE = "done", _("Done")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", pgettext_lazy("request", "Cancelled")


OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.SCHEDULED, Status.DONE)

# The transitions a status allows (tickets.services.transition checks them).
TRANSITIONS = {
    Status.NEW: {Status.ACKNOWLEDGED, Status.SCHEDULED, Status.DONE, Status.CANCELLED},
    Status.ACKNOWLEDGED: {Status.SCHEDULED, Status.DONE, Status.CANCELLED},
    Status.SCHEDULED: {Status.ACKNOWLEDGED, Status.DONE, Status.CANCELLED},
    Status.DONE: {Status.CLOSED, Status.SCHEDULED},
    Status.CLOSED: set(),
    Status.CANCELLED: set(),
}


class Counter(models.Model):
    """The last reference number given, per organisation, prefix and year."""

    organisation = models.ForeignKey("estate.Organisation", on_delete=models.CASCADE)
    prefix = models.CharField(max_length=4)
    year = models.PositiveSmallIntegerField()
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "prefix", "year"], name="ticket_counter_unique"
            )
        ]

    def __str__(self):
        return f"{self.prefix}{self.year}: {self.value}"


class Deadline(models.Model):
    """Hours to acknowledge and to resolve, for a category and an urgency (an organisation's
    own rule; tickets.deadlines has the defaults)."""

    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.CASCADE, verbose_name=_("organisation")
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    acknowledge_hours = models.PositiveIntegerField(
        _("hours to acknowledge"), validators=[MinValueValidator(1)]
    )
    resolve_hours = models.PositiveIntegerField(
        _("hours to resolve"), validators=[MinValueValidator(1)]
    )

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("deadline")
        verbose_name_plural = _("deadlines")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "category", "urgency"], name="ticket_deadline_unique"
            )
        ]

    def __str__(self):
        return f"{self.get_category_display()} — {self.get_urgency_display()}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(organisation_id=user.organisation_id)


class Incident(models.Model):
    """One failure reported by several people (the same lift, the same leak in a stairwell):
    its requests follow it, and every reporter is informed."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey("estate.Organisation", on_delete=models.CASCADE)
    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.CASCADE, related_name="incidents"
    )
    entrance = models.ForeignKey(
        "estate.Entrance", on_delete=models.SET_NULL, null=True, blank=True
    )
    equipment = models.ForeignKey(
        "estate.Equipment", on_delete=models.SET_NULL, null=True, blank=True
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    public_note = models.CharField(
        _("note shown in the hall"),
        max_length=200,
        blank=True,
        help_text=_("What the QR-code page says, e.g. “Technicien prévu jeudi”."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    SCOPE = "residence"
    PROVIDER_SCOPE = "requests__work_orders__provider"

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class Request(models.Model):
    """A technical request or a complaint, from its first minute to its closure."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(_("reference"), max_length=20)
    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.PROTECT, editable=False
    )
    residence = models.ForeignKey(
        "estate.Residence",
        on_delete=models.PROTECT,
        related_name="requests",
        verbose_name=_("residence"),
    )
    building = models.ForeignKey(
        "estate.Building", on_delete=models.SET_NULL, null=True, blank=True
    )
    entrance = models.ForeignKey(
        "estate.Entrance",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("entrance"),
    )
    unit = models.ForeignKey(
        "estate.Unit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("unit"),
    )
    equipment = models.ForeignKey(
        "estate.Equipment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("equipment"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    team = models.CharField(_("team"), max_length=10, choices=Team.choices)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    payer = models.CharField(
        _("who pays"), max_length=10, choices=Payer.choices, default=Payer.LANDLORD
    )
    description = models.TextField(_("description"))
    channel = models.CharField(_("channel"), max_length=10, choices=IntakeChannel.choices)
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.NEW, db_index=True
    )
    household = models.ForeignKey(
        "estate.Household",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("household"),
    )
    person = models.ForeignKey(
        "estate.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("tenant concerned"),
    )
    # Someone who is not a known tenant (a QR-code report, a visitor, an unknown number).
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    incident = models.ForeignKey(
        Incident,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("incident"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    acknowledge_due_at = models.DateTimeField(_("to acknowledge before"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("to resolve before"), null=True, blank=True)
    on_call = models.BooleanField(_("taken by the on-call service"), default=False)
    handed_over_at = models.DateTimeField(_("handed to the day team"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction (1 to 5)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    satisfaction_asked_at = models.DateTimeField(null=True, blank=True, editable=False)
    search_text = models.CharField(max_length=600, editable=False, db_index=True)

    SCOPE = "residence"
    # A contractor sees the requests it has (or had) a work order for, never the others.
    PROVIDER_SCOPE = "work_orders__provider"

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference", "organisation"], name="request_reference_unique"
            )
        ]
        indexes = [
            models.Index(fields=["residence", "status"], name="request_residence_status"),
            models.Index(fields=["status", "resolve_due_at"], name="request_due"),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        now = timezone.now()
        if self.status == Status.NEW and self.acknowledge_due_at and self.acknowledge_due_at < now:
            return True
        return bool(
            self.status in (Status.NEW, Status.ACKNOWLEDGED, Status.SCHEDULED)
            and self.resolve_due_at
            and self.resolve_due_at < now
        )

    @property
    def place(self) -> str:
        """Where, in words: the unit, else the equipment, entrance, building or residence."""
        for part in (self.unit, self.equipment, self.entrance, self.building):
            if part is not None:
                return str(part)
        return str(self.residence)


class Event(models.Model):
    """One line of a request's timeline: who, when, through which channel, what happened, what
    the tenant was told. `internal` lines are for staff only."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Request taken")
        STATUS = "status", _("Status changed")
        NOTE = "note", _("Note")
        TOLD = "told", _("Tenant informed")
        GROUPED = "grouped", _("Grouped under an incident")
        ORDER = "order", _("Work order")
        APPOINTMENT = "appointment", _("Appointment")
        MILESTONE = "milestone", _("Intervention")
        INBOUND = "inbound", _("Message from the tenant")
        RATING = "rating", _("Satisfaction")
        ON_CALL = "on_call", _("On-call service")

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=15, choices=Status.choices, blank=True)
    text = models.TextField(_("what happened"))
    told = models.TextField(_("what the tenant was told"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("author"),
    )
    author_label = models.CharField(_("by"), max_length=200, blank=True)
    internal = models.BooleanField(_("staff only"), default=False)
    at = models.DateTimeField(_("at"), default=timezone.now)

    SCOPE = "request__residence"
    PROVIDER_SCOPE = "request__work_orders__provider"

    class Meta:
        verbose_name = _("request event")
        verbose_name_plural = _("request events")
        ordering = ["at", "id"]

    def __str__(self):
        return self.text[:60]

    @property
    def channel_label(self) -> str:
        """The channel in words ("Téléphone", not "phone"): a message's or an intake's."""
        try:
            return IntakeChannel(self.channel).label
        except ValueError:
            return self.channel


class WorkOrder(models.Model):
    """A request passed to a contractor or the in-house régie (bon de travaux)."""

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        APPOINTMENT = "appointment", _("Appointment set")
        ON_SITE = "on_site", _("On site")
        NO_ACCESS = "no_access", _("Tenant absent or no access")
        ANOTHER_VISIT = "another_visit", _("Another visit needed")
        DONE = "done", pgettext_lazy("work order", "Done")
        CANCELLED = "cancelled", pgettext_lazy("work order", "Cancelled")

    class Access(models.TextChoices):
        TENANT_PRESENT = "tenant_present", _("Tenant present")
        KEY_CARETAKER = "key_caretaker", _("Key with the caretaker")
        FREE = "free", _("Free access (common areas)")
        CALL_FIRST = "call_first", _("Call the tenant first")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(_("number"), max_length=20)
    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.PROTECT, editable=False, related_name="+"
    )
    request = models.ForeignKey(
        Request, on_delete=models.CASCADE, related_name="work_orders", verbose_name=_("request")
    )
    residence = models.ForeignKey("estate.Residence", on_delete=models.PROTECT, editable=False)
    provider = models.ForeignKey(
        "estate.Provider",
        on_delete=models.PROTECT,
        related_name="work_orders",
        verbose_name=_("contractor"),
    )
    contract = models.ForeignKey(
        "estate.ProviderContract",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("contract"),
    )
    purchase_order = models.CharField(_("purchase order"), max_length=50, blank=True)
    price_line = models.CharField(_("price-schedule line"), max_length=100, blank=True)
    access = models.CharField(
        _("entry conditions"), max_length=20, choices=Access.choices, default=Access.TENANT_PRESENT
    )
    access_note = models.CharField(_("entry details"), max_length=300, blank=True)
    instructions = models.TextField(_("instructions"), blank=True)
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="work_orders",
        verbose_name=_("technician"),
    )
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.SENT
    )
    comment = models.TextField(_("contractor's comment"), blank=True)
    signatory_name = models.CharField(_("signed by"), max_length=200, blank=True)
    signature = models.ImageField(upload_to="tickets/signatures/%Y/%m/", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    SCOPE = "residence"
    PROVIDER_SCOPE = "provider"

    OPEN = (
        Status.SENT,
        Status.ACCEPTED,
        Status.APPOINTMENT,
        Status.ON_SITE,
        Status.NO_ACCESS,
        Status.ANOTHER_VISIT,
    )

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-sent_at"]
        constraints = [
            # One live order per request at a time: declined or cancelled ones stay as history.
            models.UniqueConstraint(
                fields=["request"],
                condition=~Q(status__in=["declined", "cancelled"]),
                name="work_order_one_live",
            ),
            models.UniqueConstraint(fields=["number", "organisation"], name="work_order_number"),
        ]

    def __str__(self):
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class Slot(models.Model):
    """A window a contractor offers for an appointment (créneau)."""

    provider = models.ForeignKey("estate.Provider", on_delete=models.CASCADE, related_name="slots")
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    created_at = models.DateTimeField(auto_now_add=True)

    PROVIDER_SCOPE = "provider"

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="slot_order"
            )
        ]

    def __str__(self):
        return f"{self.starts_at:%Y-%m-%d %H:%M}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        # Staff see the slots of the providers working in their residences.
        from backend.estate.models import ContractSite

        providers = ContractSite.objects.filter(residence__in=residences).values(
            "contract__provider_id"
        )
        return queryset.filter(
            Q(provider_id__in=providers)
            | Q(provider__kind="regie", provider__organisation_id=user.organisation_id)
        )


class Appointment(models.Model):
    """A slot booked for a work order. A booked slot cannot be booked again (a constraint, so
    that two advisors clicking at once cannot both win)."""

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        MOVED = "moved", _("Moved")
        CANCELLED = "cancelled", _("Cancelled")

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="appointments")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    booked_at = models.DateTimeField(default=timezone.now)
    reminded_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    SCOPE = "work_order__residence"
    PROVIDER_SCOPE = "work_order__provider"

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["slot__starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status="booked"), name="appointment_slot_once"
            )
        ]

    def __str__(self):
        return f"{self.work_order} @ {self.slot}"


class Photo(models.Model):
    """A photo of a request or of an intervention, stripped of every metadata when received."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="photos")
    work_order = models.ForeignKey(
        WorkOrder, on_delete=models.SET_NULL, null=True, blank=True, related_name="photos"
    )
    residence = models.ForeignKey("estate.Residence", on_delete=models.CASCADE, related_name="+")
    image = models.ImageField(upload_to="tickets/photos/%Y/%m/")
    thumbnail = models.ImageField(upload_to="tickets/photos/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE = "residence"
    PROVIDER_SCOPE = "request__work_orders__provider"

    class Meta:
        verbose_name = _("request photo")
        verbose_name_plural = _("request photos")
        ordering = ["created_at"]

    def __str__(self):
        return str(self.pk)


class OnCallShift(models.Model):
    """Who answers urgent requests of an agency outside office hours (astreinte): a person on
    the staff, or a platform (name, phone, e-mail)."""

    agency = models.ForeignKey(
        "estate.Agency",
        on_delete=models.CASCADE,
        related_name="on_call_shifts",
        verbose_name=_("agency"),
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("person on call"),
    )
    platform = models.CharField(_("on-call platform"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("on-call shift")
        verbose_name_plural = _("on-call shifts")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="on_call_order"
            )
        ]

    def __str__(self):
        return f"{self.agency} {self.starts_at:%Y-%m-%d %H:%M}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(agency__residences__in=residences).distinct()

    @property
    def who(self) -> str:
        if self.user_id:
            return self.user.display_name
        return self.platform


class Subscription(models.Model):
    """Someone who scanned the hall's QR code and asked to be told when an incident is fixed
    (no account; the address is forgotten once they are told)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="subscriptions")
    channel = models.CharField(max_length=10, choices=[("sms", "SMS"), ("email", "e-mail")])
    address = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    told_at = models.DateTimeField(null=True, blank=True)

    SCOPE = "incident__residence"
    STAFF_ONLY = True

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "address"],
                condition=~Q(address=""),
                name="subscription_once",
            )
        ]

    def __str__(self):
        return f"{self.incident_id} → {self.channel}"


class Link(models.Model):
    """A tenant's personal link to a request's timeline: an unguessable token that expires, no
    login. One per request and person, renewed when it has expired."""

    token = models.CharField(max_length=43, unique=True)
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="links")
    person = models.ForeignKey(
        "estate.Person", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tracking link")
        verbose_name_plural = _("tracking links")

    def __str__(self):
        return f"{self.request_id} ({self.expires_at:%Y-%m-%d})"


class Digest(models.Model):
    """A daily message already sent (overdue requests to an agency's managers, the on-call
    night handed to the day team): sent once per agency, kind and day, whoever runs the job."""

    agency = models.ForeignKey("estate.Agency", on_delete=models.CASCADE)
    kind = models.CharField(max_length=20)
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "kind", "day"], name="digest_once")
        ]

    def __str__(self):
        return f"{self.kind} {self.day}"
