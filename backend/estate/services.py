"""Estate operations. Reads that several pages and the API share live here too."""

import re
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, Q
from django.utils import timezone

from backend.accounts.scoping import may_see_personal_data, scoped
from backend.core.text import normalise
from backend.estate.models import (
    ContractSite,
    Household,
    Lease,
    Person,
    ProviderContract,
    Unit,
    WorkCategory,
)

_CONTRACT_PREFIX = re.compile(r"(?i)(?<![\w])L\s*/?\s*(?=\d)")
_DIGIT_RUN = re.compile(r"(?:(?<=\s)|^)(\+?\d[\d .\-]*\d)(?=\s|$)")


def query_terms(query: str | None, limit: int = 6) -> list[str]:
    """Search words, normalised. A phone number typed in groups ("06 39 98 12 34") and a
    contract reference with its "L/" prefix become one term each."""
    text = _CONTRACT_PREFIX.sub("", (query or "").strip())
    text = _DIGIT_RUN.sub(lambda m: re.sub(r"[ .\-]", "", m.group(1)).lstrip("+"), text)
    return normalise(text).split()[:limit]


@dataclass
class SearchHit:
    unit_id: int
    unit_label: str
    residence_id: int
    residence_name: str
    household_id: int | None = None
    household_name: str | None = None
    lease_reference: str | None = None
    people: list[str] = field(default_factory=list)


def search_units(user, query: str | None):
    """Units (and their current households) matching every word of `query`, in scope.

    Matches the address of the unit (entrance, building, residence), and for users who may
    see personal data the names, phones and e-mails of the current household and the contract
    reference. Accents and case are ignored on SQLite and PostgreSQL alike.
    Returns a queryset of Units with `current_leases` prefetched.
    """
    terms = query_terms(query)
    units = scoped(user, Unit)
    if not terms:
        return units.none()
    personal = may_see_personal_data(user)
    current = Lease.objects.current()
    households = scoped(user, Household).values("pk")
    for term in terms:
        condition = Q(search_text__contains=term)
        if personal:
            people = Person.objects.filter(
                household_id__in=households, search_text__contains=term
            ).values("household_id")
            leases = current.filter(Q(household_id__in=people) | Q(reference__contains=term))
            condition |= Q(pk__in=leases.values("unit_id"))
        units = units.filter(condition)
    units = units.select_related("entrance__building__residence", "residence").order_by(
        "residence__name", "code"
    )
    if personal:
        units = units.prefetch_related(
            Prefetch(
                "leases",
                queryset=current.select_related("household").prefetch_related("household__people"),
                to_attr="current_leases",
            )
        )
    return units


def search_hits(units) -> list[SearchHit]:
    hits = []
    for unit in units:
        hit = SearchHit(
            unit_id=unit.pk,
            unit_label=str(unit),
            residence_id=unit.residence_id,
            residence_name=unit.residence.name,
        )
        lease = next(iter(getattr(unit, "current_leases", [])), None)
        if lease is not None:
            hit.household_id = lease.household_id
            hit.household_name = lease.household.name
            hit.lease_reference = lease.reference
            hit.people = [str(p) for p in lease.household.people.all()]
        hits.append(hit)
    return hits


def household_queryset(user):
    """Households in scope, with their people and only the leases the user may see."""
    return scoped(user, Household).prefetch_related(
        "people", Prefetch("leases", queryset=scoped(user, Lease).order_by("-start_date"))
    )


def _current_residence(person: Person):
    lease = (
        Lease.objects.current()
        .filter(household_id=person.household_id)
        .select_related("residence")
        .first()
        or Lease.objects.filter(household_id=person.household_id)
        .select_related("residence")
        .order_by("-start_date")
        .first()
    )
    return lease.residence if lease else None


def update_person_contact(user, person_id: int, changes: dict) -> Person:
    """Change a tenant's contact details (advisors, agents, managers). Phones are parsed with
    the region of the tenant's residence; nothing is saved if any field is wrong."""
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.core.validators import validate_email
    from django.db import transaction
    from django.utils.translation import gettext as _

    from backend.accounts.scoping import get_scoped_or_404
    from backend.estate import phones
    from backend.estate.models import Channel

    if not may_see_personal_data(user):
        raise PermissionDenied
    with transaction.atomic():
        person = get_scoped_or_404(user, Person.objects.select_for_update(), pk=person_id)
        errors = {}
        if changes.get("mobile") is not None:
            raw = changes["mobile"].strip()
            if raw:
                residence = _current_residence(person)
                try:
                    person.mobile = phones.parse_mobile(
                        raw, residence.phone_region if residence else "FR"
                    )
                except ValidationError as exc:
                    errors["mobile"] = exc.messages
            else:
                person.mobile = ""
        if changes.get("email") is not None:
            email = changes["email"].strip().lower()
            if email:
                try:
                    validate_email(email)
                    person.email = email
                except ValidationError:
                    errors["email"] = [_("Enter a valid e-mail address.")]
            else:
                person.email = ""
        if changes.get("preferred_channel"):
            person.preferred_channel = changes["preferred_channel"]
        if changes.get("language"):
            person.language = changes["language"]
        if not errors:
            if person.preferred_channel == Channel.SMS and not person.mobile:
                errors["preferred_channel"] = [_("Text messages need a mobile number.")]
            elif person.preferred_channel == Channel.EMAIL and not person.email:
                errors["preferred_channel"] = [_("E-mails need an e-mail address.")]
        if errors:
            raise ValidationError(errors)
        person.save()
    return person


def contracts_for(
    residences, category: str = WorkCategory.CLEANING, on: date | None = None
) -> dict[int, ProviderContract]:
    """`contract_for` of many residences in one query: residence id -> contract (with its
    provider); residences served in-house are absent."""
    on = on or timezone.localdate()
    sites = (
        ContractSite.objects.filter(residence__in=residences, contract__start_date__lte=on)
        .filter(Q(contract__end_date__isnull=True) | Q(contract__end_date__gte=on))
        .select_related("contract__provider")
        .order_by("contract__start_date", "contract__pk")  # deterministic
    )
    found: dict[int, ProviderContract] = {}
    for site in sites:
        if site.residence_id not in found and category in site.contract.categories:
            found[site.residence_id] = site.contract
    return found
