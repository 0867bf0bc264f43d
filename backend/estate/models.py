"""The estate: who owns what, where tenants live, who works on it.

Organisation -> Agency -> Residence -> Building -> Entrance -> Unit, with Equipment on a
residence, building or entrance; Lease links a Unit to a Household of People; Providers work
under ProviderContracts covering residences.

Every model that staff may read declares SCOPE, the lookup from it to its Residence: the one
scoping function (backend.accounts.scoping) filters every query through it. PERSONAL_DATA marks
models that hold tenants' personal data, which contractors never see in bulk.
"""

import functools
import re
import zoneinfo
from datetime import date, timedelta

import holidays
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.core.text import join_for_search
from backend.estate import phones

FRANCE_HOLIDAY_REGIONS = [
    ("", _("Mainland France")),
    ("6AE", _("Alsace (Bas-Rhin, Haut-Rhin)")),
    ("57", _("Moselle")),
    ("971", _("Guadeloupe")),
    ("972", _("Martinique")),
    ("973", _("French Guiana")),
    ("974", _("La Réunion")),
    ("976", _("Mayotte")),
    ("BL", _("Saint-Barthélemy")),
    ("MF", _("Saint-Martin")),
    ("PM", _("Saint-Pierre-et-Miquelon")),
]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


def validate_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(
            _("This is not a valid regular expression: %(error)s"), params={"error": exc}
        ) from None


_LEADING_L = re.compile(r"^L\s*/?\s*", re.IGNORECASE)


def normalise_contract_reference(raw: str | None) -> str:
    """What tenants type from their rent notice ("L/0012345", "l 0012345") -> "0012345"."""
    value = (raw or "").strip()
    value = _LEADING_L.sub("", value)
    return re.sub(r"[\s.\-]", "", value)


class WorkCategory(models.TextChoices):
    """What a provider contract covers, and what an equipment or request is about."""

    CLEANING = "cleaning", _("Cleaning")
    LIFT = "lift", _("Lifts")
    GREEN_SPACES = "green_spaces", _("Green spaces")
    VENTILATION = "ventilation", _("Ventilation (VMC)")
    HEATING = "heating", _("Heating and hot water")
    PLUMBING = "plumbing", _("Plumbing")
    ELECTRICITY = "electricity", _("Electricity and lighting")
    INTERCOM = "intercom", _("Intercom and access control")
    DOORS = "doors", _("Doors, locks and gates")
    PESTS = "pests", _("Pest control")
    MULTI = "multi", _("Multi-service maintenance")


def _is_organisation_admin(user) -> bool:
    # An organisation's administrators also see what has no residence yet (a new agency,
    # provider, contract or sector): they are the ones who set it up.
    return getattr(user, "role", "") == "admin"


@functools.lru_cache(maxsize=128)
def _public_holidays(region: str, year: int):
    """A region's public holidays of a year: fixed by law, built once per process (the outbox
    and the planning ask for every message and every day)."""
    return holidays.France(subdiv=region or None, years=year)


class Organisation(models.Model):
    """A landlord (bailleur social)."""

    code = models.CharField(_("client code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    holiday_region = models.CharField(
        _("public holidays"),
        max_length=8,
        blank=True,
        choices=FRANCE_HOLIDAY_REGIONS,
        help_text=_("Alsace-Moselle and overseas departments have public holidays of their own."),
    )
    contract_reference_pattern = models.CharField(
        _("contract reference pattern"),
        max_length=100,
        default=r"\d{6,12}",
        validators=[validate_regex],
        help_text=_("Regular expression that a contract reference must match, without the “L”."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(pk=user.organisation_id)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def is_public_holiday(self, day: date) -> bool:
        return day in _public_holidays(self.holiday_region, day.year)

    def check_contract_reference(self, raw: str) -> str:
        """The normalised reference, or ValidationError if it does not fit the pattern."""
        value = normalise_contract_reference(raw)
        if not value or not re.fullmatch(self.contract_reference_pattern, value):
            raise ValidationError(
                _("“%(value)s” is not a contract reference of %(organisation)s."),
                params={"value": raw, "organisation": self.name},
                code="invalid_reference",
            )
        return value


class Agency(models.Model):
    """A company or agency of the landlord (company code), which manages residences."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="agencies",
        verbose_name=_("organisation"),
    )
    code = models.CharField(_("company code"), max_length=20)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        condition = Q(residences__in=residences) | Q(staff=user)
        if _is_organisation_admin(user):
            condition |= Q(organisation_id=user.organisation_id)
        return queryset.filter(pk__in=cls._base_manager.filter(condition).values("pk"))

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="agency_code_unique")
        ]

    def __str__(self):
        return self.name


class InspectionFrequency(models.IntegerChoices):
    WEEKLY = 7, _("Weekly")
    FORTNIGHTLY = 14, _("Every two weeks")
    MONTHLY = 30, _("Monthly")
    QUARTERLY = 91, _("Quarterly")


class Residence(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="residences", editable=False
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="residences", verbose_name=_("agency")
    )
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    postcode = models.CharField(
        _("postcode"),
        max_length=5,
        validators=[RegexValidator(r"^\d{5}$", _("A French postcode has five digits."))],
    )
    city = models.CharField(_("city"), max_length=120)
    units_count = models.PositiveIntegerField(_("number of units"), default=0)
    inspection_frequency = models.PositiveSmallIntegerField(
        _("target inspection frequency"),
        choices=InspectionFrequency.choices,
        default=InspectionFrequency.MONTHLY,
    )
    search_text = models.CharField(max_length=600, editable=False)

    SCOPE = "pk"

    class Meta:
        verbose_name = _("residence")
        verbose_name_plural = _("residences")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="residence_code_unique")
        ]

    def __str__(self):
        return self.name

    @property
    def phone_region(self) -> str:
        return phones.region_for_postcode(self.postcode)

    def prepare(self):
        """Derived columns; called by save() and by bulk writers."""
        if self.agency_id:
            self.organisation_id = self.agency.organisation_id
        self.search_text = join_for_search(
            self.code, self.name, self.address, self.postcode, self.city
        )

    def save(self, *args, **kwargs):
        adding = self._state.adding
        self.prepare()
        super().save(*args, **kwargs)
        if not adding:
            cascade(residences=[self.pk])


class Building(models.Model):
    residence = models.ForeignKey(
        Residence, on_delete=models.CASCADE, related_name="buildings", verbose_name=_("residence")
    )
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)

    SCOPE = "residence"

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["residence__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["residence", "code"], name="building_code_unique")
        ]

    def __str__(self):
        return f"{self.residence} — {self.name}"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        if not adding:
            cascade(buildings=[self.pk])


class Entrance(models.Model):
    """A stairwell door: the finest common area."""

    building = models.ForeignKey(
        Building, on_delete=models.CASCADE, related_name="entrances", verbose_name=_("building")
    )
    # Denormalised from the building so that scope and lists need no double join.
    residence = models.ForeignKey(
        Residence, on_delete=models.CASCADE, related_name="entrances", editable=False
    )
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)

    SCOPE = "residence"

    class Meta:
        verbose_name = _("entrance")
        verbose_name_plural = _("entrances")
        ordering = ["building__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["building", "code"], name="entrance_code_unique")
        ]

    def __str__(self):
        return f"{self.building} — {self.name}"

    def prepare(self):
        self.residence_id = self.building.residence_id

    def save(self, *args, **kwargs):
        adding = self._state.adding
        self.prepare()
        super().save(*args, **kwargs)
        if not adding:
            cascade(entrances=[self.pk])


class UnitKind(models.TextChoices):
    APARTMENT = "apartment", _("Apartment")
    HOUSE = "house", _("House")
    COMMERCIAL = "commercial", _("Commercial premises")
    PARKING = "parking", _("Parking space")
    OTHER = "other", _("Other")


class Unit(models.Model):
    entrance = models.ForeignKey(
        Entrance, on_delete=models.CASCADE, related_name="units", verbose_name=_("entrance")
    )
    residence = models.ForeignKey(
        Residence, on_delete=models.CASCADE, related_name="units", editable=False
    )
    code = models.CharField(_("code"), max_length=30)
    kind = models.CharField(
        _("kind"), max_length=20, choices=UnitKind.choices, default=UnitKind.APARTMENT
    )
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    door = models.CharField(_("door"), max_length=20, blank=True)
    rooms = models.PositiveSmallIntegerField(_("rooms"), null=True, blank=True)
    search_text = models.CharField(max_length=600, editable=False)

    SCOPE = "residence"

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["residence_id", "entrance_id", F("floor").asc(nulls_last=True), "door", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entrance", "code"], name="unit_code_unique")
        ]

    def __str__(self):
        parts = [str(self.entrance)]
        if self.floor is not None:
            parts.append(_("floor %(floor)s") % {"floor": self.floor})
        parts.append(_("door %(door)s") % {"door": self.door or self.code})
        return ", ".join(str(p) for p in parts)

    def prepare(self):
        entrance = self.entrance
        self.residence_id = entrance.residence_id
        building = entrance.building
        residence = building.residence
        self.search_text = join_for_search(
            self.code,
            self.door,
            entrance.name,
            entrance.address,
            building.name,
            building.address,
            residence.name,
            residence.address,
            residence.postcode,
            residence.city,
        )

    def save(self, *args, **kwargs):
        adding = self._state.adding
        self.prepare()
        super().save(*args, **kwargs)
        if not adding:
            leases_follow([self.pk])


class EquipmentKind(models.TextChoices):
    LIFT = "lift", _("Lift")
    PARKING_GATE = "parking_gate", _("Car-park gate")
    INTERCOM = "intercom", _("Intercom")
    BOILER = "boiler", _("Collective boiler")
    VENTILATION = "ventilation", _("Ventilation (VMC)")
    DOOR = "door", _("Entrance door")
    LIGHTING = "lighting", _("Common-area lighting")
    OTHER = "other", _("Other")


class Equipment(models.Model):
    """What breaks and gets reported: attached to a residence, a building or an entrance."""

    residence = models.ForeignKey(
        Residence, on_delete=models.CASCADE, related_name="equipment", verbose_name=_("residence")
    )
    building = models.ForeignKey(
        Building,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="equipment",
        verbose_name=_("building"),
    )
    entrance = models.ForeignKey(
        Entrance,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="equipment",
        verbose_name=_("entrance"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EquipmentKind.choices)
    name = models.CharField(_("name"), max_length=200)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    serial_number = models.CharField(_("serial number"), max_length=100, blank=True)
    installed_on = models.DateField(_("installed on"), null=True, blank=True)
    contract = models.ForeignKey(
        "ProviderContract",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="equipment",
        verbose_name=_("maintenance contract"),
    )
    is_active = models.BooleanField(_("in service"), default=True)

    SCOPE = "residence"

    class Meta:
        verbose_name = _("equipment")
        verbose_name_plural = _("equipment")
        ordering = ["residence__name", "kind", "name"]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.name}"

    def clean(self):
        if self.entrance_id and not self.building_id:
            self.building = self.entrance.building
        if self.building_id and self.building.residence_id != self.residence_id:
            raise ValidationError({"building": _("This building is not in the chosen residence.")})
        if self.entrance_id and self.entrance.building_id != self.building_id:
            raise ValidationError({"entrance": _("This entrance is not in the chosen building.")})


class EstateDocument(models.Model):
    """A document kept for a residence (rules, plans, diagnostics): served only within scope."""

    class Kind(models.TextChoices):
        RULES = "rules", _("House rules")
        PLAN = "plan", _("Plan")
        DIAGNOSTIC = "diagnostic", _("Technical diagnostic")
        NOTICE = "notice", _("Notice to tenants")
        OTHER = "other", _("Other")

    residence = models.ForeignKey(
        Residence, on_delete=models.CASCADE, related_name="documents", verbose_name=_("residence")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to="estate/documents/%Y/%m/")
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    SCOPE = "residence"

    class Meta:
        verbose_name = _("estate document")
        verbose_name_plural = _("estate documents")
        ordering = ["-uploaded_at"]

    def __str__(self):
        return self.title


# A household stays visible to the staff of its residence this long after moving out (the
# tenant account's read-only period); then only the lease remains, as the residence's history.
FORMER_TENANT_DAYS = 92


def households_living_in(residences):
    """Households with a lease in these residences that has not ended, or ended recently."""
    since = timezone.localdate() - timedelta(days=FORMER_TENANT_DAYS)
    return (
        Lease.objects.filter(residence__in=residences)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=since))
        .values("household_id")
    )


class Household(models.Model):
    """The people on a lease (foyer): one extranet registration per household."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=200)
    external_code = models.CharField(
        _("code in the ERP"),
        max_length=50,
        blank=True,
        help_text=_("Groups the leases of one household across imports."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    PERSONAL_DATA = True

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(pk__in=households_living_in(residences))

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_code"],
                condition=~Q(external_code=""),
                name="household_external_code_unique",
            )
        ]

    def __str__(self):
        return self.name


class PaymentMethod(models.TextChoices):
    DIRECT_DEBIT = "direct_debit", _("Direct debit")
    TRANSFER = "transfer", _("Bank transfer")
    CHEQUE = "cheque", _("Cheque")
    CASH = "cash", _("Cash or payment card")
    OTHER = "other", _("Other")


class LeaseQuerySet(models.QuerySet):
    def current(self, on: date | None = None):
        on = on or timezone.localdate()
        return self.filter(start_date__lte=on).filter(
            models.Q(end_date__isnull=True) | models.Q(end_date__gte=on)
        )


class Lease(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, editable=False)
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="leases", verbose_name=_("unit")
    )
    residence = models.ForeignKey(
        Residence, on_delete=models.PROTECT, related_name="leases", editable=False
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="leases", verbose_name=_("household")
    )
    reference = models.CharField(_("contract reference"), max_length=30)
    module_number = models.CharField(_("module number"), max_length=20, blank=True)
    payment_method = models.CharField(
        _("payment method"),
        max_length=20,
        choices=PaymentMethod.choices,
        default=PaymentMethod.TRANSFER,
    )
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end (move-out)"), null=True, blank=True)

    SCOPE = "residence"
    PERSONAL_DATA = True

    objects = LeaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("lease")
        verbose_name_plural = _("leases")
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "reference"], name="lease_reference_unique"
            )
        ]

    def __str__(self):
        return f"L{self.reference}"

    def prepare(self):
        self.residence_id = self.unit.residence_id
        self.organisation_id = self.unit.residence.organisation_id

    def clean(self):
        if self.unit_id:
            self.prepare()
            organisation = self.unit.residence.organisation
            try:
                self.reference = organisation.check_contract_reference(self.reference)
            except ValidationError as exc:
                raise ValidationError({"reference": exc.messages}) from None
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError(
                {"end_date": _("The move-out date is before the start of the lease.")}
            )

    def save(self, *args, **kwargs):
        self.prepare()
        super().save(*args, **kwargs)

    @property
    def is_current(self) -> bool:
        today = timezone.localdate()
        return self.start_date <= today and (self.end_date is None or self.end_date >= today)


class Channel(models.TextChoices):
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")


LANGUAGES = [
    ("fr", "Français"),
    ("en", "English"),
    ("ar", "العربية"),
    ("es", "Español"),
    ("pt", "Português"),
    ("tr", "Türkçe"),
]


class Person(models.Model):
    class Role(models.TextChoices):
        SIGNATORY = "signatory", _("Main signatory")
        CO_SIGNATORY = "co_signatory", _("Co-signatory")
        OCCUPANT = "occupant", _("Occupant")

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="people", verbose_name=_("household")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SIGNATORY)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    mobile = models.CharField(
        _("mobile"), max_length=16, blank=True, help_text=_("Stored in E.164 (+33…).")
    )
    email = models.EmailField(_("e-mail"), blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, default=Channel.SMS
    )
    language = models.CharField(_("language"), max_length=5, choices=LANGUAGES, default="fr")
    search_text = models.CharField(max_length=600, editable=False)

    PERSONAL_DATA = True

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(household_id__in=households_living_in(residences))

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["last_name", "first_name"]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def mobile_display(self) -> str:
        return phones.format_national(self.mobile)

    def prepare(self):
        self.search_text = join_for_search(
            self.first_name, self.last_name, self.email, phones.search_forms(self.mobile)
        )

    def clean_mobile_for(self, residence: Residence | None):
        if self.mobile:
            region = residence.phone_region if residence else "FR"
            try:
                self.mobile = phones.parse_mobile(self.mobile, region)
            except ValidationError as exc:
                raise ValidationError({"mobile": exc.messages}) from None

    def clean(self):
        residence = None
        if self.household_id:
            lease = (
                self.household.leases.select_related("residence").order_by("-start_date").first()
            )
            residence = lease.residence if lease else None
        self.clean_mobile_for(residence)
        if self.email:
            self.email = self.email.strip().lower()

    def save(self, *args, **kwargs):
        self.prepare()
        super().save(*args, **kwargs)


class ProviderKind(models.TextChoices):
    CLEANING = "cleaning", _("Cleaning company")
    MAINTENANCE = "maintenance", _("Maintenance firm")
    REGIE = "regie", _("In-house works team (régie)")


class Provider(models.Model):
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="providers",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=ProviderKind.choices)
    siret = models.CharField(
        _("SIRET"),
        max_length=14,
        blank=True,
        validators=[RegexValidator(r"^\d{14}$", _("A SIRET number has 14 digits."))],
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    PROVIDER_SCOPE = "pk"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        # The organisation's providers are a directory every staff member may read.
        return queryset.filter(organisation_id=user.organisation_id)

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ["name"]

    def __str__(self):
        return self.name


def validate_categories(value):
    allowed = set(WorkCategory.values)
    if not isinstance(value, list) or not value or not set(value) <= allowed:
        raise ValidationError(
            _("Choose one or more categories among: %(allowed)s"),
            params={"allowed": ", ".join(sorted(allowed))},
        )


class ProviderContract(models.Model):
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="contracts", verbose_name=_("provider")
    )
    reference = models.CharField(_("contract reference"), max_length=50)
    purchase_order_reference = models.CharField(
        _("purchase-order reference"), max_length=50, blank=True
    )
    categories = models.JSONField(
        _("categories covered"), default=list, validators=[validate_categories]
    )
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"), null=True, blank=True)
    rework_deadline_hours = models.PositiveIntegerField(
        _("rework deadline (hours)"), default=48, validators=[MinValueValidator(1)]
    )
    penalty_per_day = models.DecimalField(
        _("penalty per day late (€)"), max_digits=8, decimal_places=2, default=0
    )
    penalty_grace_days = models.PositiveSmallIntegerField(
        _("days of grace before penalties"), default=0
    )
    penalty_cap = models.DecimalField(
        _("penalty cap per rework (€)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    contest_days = models.PositiveSmallIntegerField(
        _("days to contest a penalty"),
        default=15,
        help_text=_(
            "Public-procurement contracts let the provider answer before a penalty applies."
        ),
    )
    residences = models.ManyToManyField(
        Residence,
        through="ContractSite",
        related_name="contracts",
        verbose_name=_("residences covered"),
    )

    PROVIDER_SCOPE = "provider"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        condition = Q(sites__residence__in=residences)
        if _is_organisation_admin(user):
            condition |= Q(provider__organisation_id=user.organisation_id)
        return queryset.filter(pk__in=cls._base_manager.filter(condition).values("pk"))

    class Meta:
        verbose_name = _("provider contract")
        verbose_name_plural = _("provider contracts")
        ordering = ["provider__name", "reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reference"], name="contract_reference_unique"
            )
        ]

    def __str__(self):
        return f"{self.provider} — {self.reference}"

    def clean(self):
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The contract ends before it starts.")})

    def is_active(self, on: date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.start_date <= on and (self.end_date is None or self.end_date >= on)


WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


def validate_weekdays(value):
    if not isinstance(value, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value):
        raise ValidationError(_("Visit days are numbers from 0 (Monday) to 6 (Sunday)."))


class ContractSite(models.Model):
    """A residence covered by a contract, with the provider's visit days at that site."""

    contract = models.ForeignKey(
        ProviderContract, on_delete=models.CASCADE, related_name="sites", verbose_name=_("contract")
    )
    residence = models.ForeignKey(
        Residence,
        on_delete=models.CASCADE,
        related_name="contract_sites",
        verbose_name=_("residence"),
    )
    SCOPE = "residence"
    PROVIDER_SCOPE = "contract__provider"

    visit_days = models.JSONField(
        _("visit days"),
        default=list,
        blank=True,
        validators=[validate_weekdays],
        help_text=_("0 = Monday … 6 = Sunday."),
    )

    class Meta:
        verbose_name = _("site covered")
        verbose_name_plural = _("sites covered")
        constraints = [
            models.UniqueConstraint(fields=["contract", "residence"], name="contract_site_unique")
        ]

    def __str__(self):
        return f"{self.contract} — {self.residence}"

    @property
    def visit_days_display(self) -> str:
        names = dict(WEEKDAYS)
        return ", ".join(str(names[d]) for d in sorted(self.visit_days))


class Sector(models.Model):
    """A set of residences that one or more proximity agents look after."""

    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="sectors", verbose_name=_("agency")
    )
    name = models.CharField(_("name"), max_length=200)
    residences = models.ManyToManyField(
        Residence, related_name="sectors", blank=True, verbose_name=_("residences")
    )

    STAFF_ONLY = True

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        condition = Q(residences__in=residences) | Q(agency__staff=user)
        if _is_organisation_admin(user):
            condition |= Q(agency__organisation_id=user.organisation_id)
        return queryset.filter(pk__in=cls._base_manager.filter(condition).values("pk"))

    class Meta:
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")
        ordering = ["agency__name", "name"]

    def __str__(self):
        return f"{self.agency} — {self.name}"


def leases_follow(units) -> None:
    """Leases take their unit's residence (a unit moved to another entrance or building)."""
    Lease.objects.filter(unit__in=units).update(
        residence_id=Subquery(
            Unit.objects.filter(pk=OuterRef("unit_id")).values("residence_id")[:1]
        )
    )


def cascade(*, residences=(), buildings=(), entrances=()) -> None:
    """Copy a parent's changes into its descendants' denormalised columns (the residence of
    entrances, units, leases and equipment; the units' search text). Called by save() after an
    edit and by the importers after bulk updates: a building moved to another residence takes
    its units, leases and scope with it, and a renamed residence is found under its new name."""
    residences, buildings, entrances = list(residences), list(buildings), list(entrances)
    if buildings:
        building_residence = Subquery(
            Building.objects.filter(pk=OuterRef("building_id")).values("residence_id")[:1]
        )
        Entrance.objects.filter(building_id__in=buildings).update(residence_id=building_residence)
        Equipment.objects.filter(building_id__in=buildings).update(residence_id=building_residence)
    touched_entrances = Entrance.objects.filter(Q(pk__in=entrances) | Q(building_id__in=buildings))
    if entrances or buildings:
        entrance = Entrance.objects.filter(pk=OuterRef("entrance_id"))
        entrance_residence = Subquery(entrance.values("residence_id")[:1])
        Unit.objects.filter(entrance__in=touched_entrances).update(residence_id=entrance_residence)
        Equipment.objects.filter(entrance__in=touched_entrances).update(
            residence_id=entrance_residence,
            building_id=Subquery(entrance.values("building_id")[:1]),
        )
        from backend.sync.records import record_objects

        # Moved with their building: phones of the old and the new residence must hear of it.
        record_objects(list(touched_entrances), moved=True)
        record_objects(list(Unit.objects.filter(entrance__in=touched_entrances)), moved=True)
    units = Unit.objects.filter(Q(residence_id__in=residences) | Q(entrance__in=touched_entrances))
    leases_follow(units)
    batch = []
    for unit in units.select_related("entrance__building__residence").iterator(chunk_size=500):
        unit.prepare()
        batch.append(unit)
        if len(batch) == 500:
            Unit.objects.bulk_update(batch, ["search_text"])
            batch = []
    if batch:
        Unit.objects.bulk_update(batch, ["search_text"])
