"""The tenant extranet's back office (docs/tenants.md, "Back office"): what advisors, managers
and administrators see and do about tenant accounts.

Every household read here comes from households_in_scope(): the user's residences through the
households' current or recent leases (backend.accounts.scoping, the one scoping function).
Anything outside it does not exist: 404.

- households by activation status, with counts, filters and search;
- reminders to the households that have not activated, sent as a messaging campaign;
- adoption figures (accounts per week and month, activation rates);
- an advisor's actions at the counter (close an account, back to paper, restart an
  activation, lift a login throttle), each with its reason in the audit trail;
- provisional credentials printed as letters (the secrets are shown once, never stored);
- the consents export for the landlord's ERP;
- help requests ("Besoin d'aide pour vous connecter ?").
"""

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncMonth, TruncWeek
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backend.accounts.models import (
    AuditRecord,
    Consent,
    HelpRequest,
    LoginFailure,
    ProvisionalCredential,
    Role,
    TenantAccount,
    User,
)
from backend.accounts.scoping import get_scoped_or_404, require_role, scoped
from backend.core.errors import ServiceError
from backend.core.text import search_terms
from backend.estate import phones
from backend.estate.models import (
    FORMER_TENANT_DAYS,
    Agency,
    Household,
    Lease,
    Person,
    Residence,
    households_living_in,
    normalise_contract_reference,
)

BACKOFFICE_ROLES = frozenset({Role.ADVISOR, Role.MANAGER, Role.ADMIN})
REMINDER_TEMPLATE = "relance-activation"
# Argon2 costs a fraction of a second a hash, by design: letters are issued by batches
# that a page answers in seconds. The next batch takes the households still without letters.
LETTERS_PER_BATCH = 50
# Printed letters: no 0/O, 1/I/L; the identifier in capitals (the form upper-cases it), the
# secret in lower case (what a phone's keyboard types without thinking).
IDENTIFIER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SECRET_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet)
SECRET_LENGTH = 12
REASON_MAX = 500


def require_backoffice(user) -> None:
    require_role(user, BACKOFFICE_ROLES)


def households_in_scope(user):
    """The one place the back office reads households: those with a current lease, or one that
    ended less than FORMER_TENANT_DAYS ago, in the user's residences (scoped())."""
    require_backoffice(user)
    return scoped(user, Household)


def household_or_404(user, pk) -> Household:
    try:
        return households_in_scope(user).select_related("organisation").get(pk=pk)
    except (Household.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def _residences(user, agency_id=None, residence_id=None):
    residences = scoped(user, Residence)
    if agency_id:
        residences = residences.filter(agency_id=agency_id)
    if residence_id:
        residences = residences.filter(pk=residence_id)
    return residences


# --- activation status -----------------------------------------------------------------------


class Activation:
    NONE = "none"
    PENDING = "pending"
    ACTIVE = "active"
    DEPARTED = "departed"

    LABELS = {
        NONE: gettext_lazy("Not started"),
        PENDING: gettext_lazy("Awaiting e-mail"),
        ACTIVE: gettext_lazy("Active"),
        DEPARTED: gettext_lazy("Departed"),
    }
    ORDER = (NONE, PENDING, ACTIVE, DEPARTED)

    @classmethod
    def choices(cls):
        return [(key, cls.LABELS[key]) for key in cls.ORDER]


def with_activation(households):
    """Each household's activation status, in SQL: departed when no lease is current (or its
    accounts are departed), else active, pending (awaiting the e-mail) or not started (no
    account, or only closed ones)."""
    current = Lease.objects.current().filter(household=OuterRef("pk"))
    accounts = TenantAccount.objects.filter(homes__household=OuterRef("pk"))
    return households.annotate(
        activation=Case(
            When(~Exists(current), then=Value(Activation.DEPARTED)),
            When(
                Exists(accounts.filter(status=TenantAccount.Status.ACTIVE)),
                then=Value(Activation.ACTIVE),
            ),
            When(
                Exists(accounts.filter(status=TenantAccount.Status.PENDING)),
                then=Value(Activation.PENDING),
            ),
            When(
                Exists(accounts.filter(status=TenantAccount.Status.DEPARTED)),
                then=Value(Activation.DEPARTED),
            ),
            default=Value(Activation.NONE),
            output_field=CharField(),
        )
    )


@dataclass
class HouseholdFilters:
    agency: int | None = None
    residence: int | None = None
    status: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params) -> "HouseholdFilters":
        def number(name):
            value = (params.get(name) or "").strip()
            return int(value) if value.isdigit() else None

        status = params.get("statut") or ""
        return cls(
            agency=number("agence"),
            residence=number("residence"),
            status=status if status in Activation.LABELS else "",
            q=(params.get("q") or "")[:200],
        )


def _search(households, query: str):
    query = query.strip()
    if not query:
        return households
    condition = Q()
    reference = normalise_contract_reference(query)
    if reference:
        condition |= Q(
            pk__in=Lease.objects.filter(reference__startswith=reference).values("household_id")
        )
    terms = search_terms(query)
    if terms:
        people = Person.objects.all()
        name = Q()
        for term in terms:
            people = people.filter(search_text__contains=term)
            name &= Q(name__icontains=term)
        condition |= Q(pk__in=people.values("household_id")) | name
    return households.filter(condition) if condition else households


def filtered_households(user, filters: HouseholdFilters, with_status: bool = True):
    """Households in scope narrowed by agency, residence and search (not by status)."""
    households = households_in_scope(user)
    if filters.agency or filters.residence:
        households = households.filter(
            pk__in=households_living_in(_residences(user, filters.agency, filters.residence))
        )
    households = _search(households, filters.q)
    return with_activation(households) if with_status else households


def status_counts(households) -> dict[str, int]:
    """{status: count} for households annotated by with_activation()."""
    counts = dict.fromkeys(Activation.ORDER, 0)
    for row in households.order_by().values("activation").annotate(n=Count("pk")):
        counts[row["activation"]] = row["n"]
    return counts


def _lease_in(user):
    """The household's lease to show: in the user's residences, the current one first."""
    return (
        Lease.objects.filter(household=OuterRef("pk"), residence__in=scoped(user, Residence))
        .order_by(F("end_date").desc(nulls_first=True), "-start_date", "-pk")
        .values
    )


def household_list(user, filters: HouseholdFilters):
    households = filtered_households(user, filters)
    if filters.status:
        households = households.filter(activation=filters.status)
    lease = _lease_in(user)
    return (
        households.annotate(
            reference=Subquery(lease("reference")[:1]),
            residence_name=Subquery(lease("residence__name")[:1]),
            agency_name=Subquery(lease("residence__agency__name")[:1]),
            door=Subquery(lease("unit__door")[:1]),
        )
        .prefetch_related(
            Prefetch(
                "accounts",
                queryset=TenantAccount.objects.select_related("person").order_by("created_at"),
                to_attr="account_list",
            )
        )
        .order_by("name", "pk")
    )


# --- the household's page --------------------------------------------------------------------

ACTION_LABELS = {
    "activation_started": gettext_lazy("Activation started"),
    "activation_existing": gettext_lazy("Activation tried again on an existing account"),
    "activated": gettext_lazy("Account activated"),
    "activation_restarted": gettext_lazy("Activation restarted"),
    "password_reset": gettext_lazy("Password reset"),
    "password_changed": gettext_lazy("Password changed"),
    "email_changed": gettext_lazy("E-mail address changed"),
    "mobile_verified": gettext_lazy("Login mobile verified"),
    "merged": gettext_lazy("Contract added to the account"),
    "data_exported": gettext_lazy("Data exported by the tenant"),
    "account_closed": gettext_lazy("Account closed"),
    "paper_restored": gettext_lazy("Back to paper rent notices"),
    "throttle_lifted": gettext_lazy("Login throttle lifted"),
    "provisional_issued": gettext_lazy("Provisional credentials issued"),
    "reminder_sent": gettext_lazy("Activation reminder sent"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def household_history(household: Household, accounts) -> list[AuditRecord]:
    """What was done to the household or its accounts, newest first (records of an account
    that was removed since keep the household)."""
    records = AuditRecord.objects.filter(
        Q(household=household) | Q(account__in=[a.pk for a in accounts])
    ).select_related("account")
    return list(records.order_by("-at", "-pk")[:200])


# --- advisor's actions -----------------------------------------------------------------------


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason: it is kept in the history.")]})
    if len(reason) > REASON_MAX:
        raise ValidationError(
            {"reason": [_("At most %(count)d characters.") % {"count": REASON_MAX}]}
        )
    return reason


def _account_of(household: Household, account_id) -> TenantAccount:
    account = (
        TenantAccount.objects.select_related("user", "person")
        .filter(pk=account_id, homes__household=household)
        .first()
        if str(account_id or "").isdigit()
        else None
    )
    if account is None:
        raise Http404
    return account


def _audit(
    user, action, household, reason="", account=None, organisation_id=None, **detail
) -> AuditRecord:
    from backend.accounts.tenancy import audit

    return audit(
        action,
        organisation_id=organisation_id or household.organisation_id,
        actor=user,
        account=account,
        household=household,
        reason=reason,
        **detail,
    )


def close_account(user, household_pk, account_id, reason: str) -> TenantAccount:
    """The tenant asks the agency to close their account ("désinscription"): it can no longer
    log in, its sessions end, and its e-mail and mobile are freed so that the household may
    activate again one day. Its history and consents stay."""
    household = household_or_404(user, household_pk)
    reason = _reason(reason)
    with transaction.atomic():
        account = _account_of(household, account_id)
        if account.status in (
            TenantAccount.Status.DEACTIVATED,
            TenantAccount.Status.ANONYMISED,
        ):
            raise ServiceError(_("This account is already closed."), code="closed")
        previous = account.status
        now = timezone.now()
        TenantAccount.objects.filter(pk=account.pk).update(
            status=TenantAccount.Status.DEACTIVATED,
            deactivated_at=now,
            email="",
            pending_email="",
            mobile="",
            mobile_verified_at=None,
        )
        User.objects.filter(pk=account.user_id).update(
            is_active=False, email="", session_salt=secrets.token_hex(16)
        )
        account.tokens.filter(used_at__isnull=True).update(used_at=now)
        from backend.accounts import lifecycle

        # No account left to read an e-mailed notice: the household goes back to paper.
        lifecycle.back_to_paper(account, now, source="advisor")
        _audit(user, "account_closed", household, reason, account, previous_status=previous)
    account.refresh_from_db()
    return account


def back_to_paper(user, household_pk, reason: str) -> Consent:
    """The tenant wants paper rent notices again: a "no" to paperless, recorded as the
    advisor's (source "advisor"), with the version in force."""
    from backend.accounts.tenancy import current_consents

    household = household_or_404(user, household_pk)
    reason = _reason(reason)
    latest = current_consents(household.pk).get(Consent.Kind.PAPERLESS)
    if latest is None or not latest.granted:
        raise ServiceError(_("This household already receives paper notices."), code="paper")
    account = (
        TenantAccount.objects.filter(
            homes__household=household,
            status__in=[TenantAccount.Status.ACTIVE, TenantAccount.Status.DEPARTED],
        )
        .order_by("-activated_at")
        .first()
    )
    with transaction.atomic():
        consent = Consent.objects.create(
            account=account,
            household=household,
            person=latest.person,
            kind=Consent.Kind.PAPERLESS,
            granted=False,
            version=settings.TENANT_CONSENT_VERSION,
            source="advisor",
        )
        _audit(user, "paper_restored", household, reason, account)
    return consent


def restart_activation(user, household_pk, account_id, reason: str) -> None:
    """A pending account (a mistyped address, an e-mail that never came) is removed with its
    links, so that the tenant starts again; the consents given stay, as proof."""
    household = household_or_404(user, household_pk)
    reason = _reason(reason)
    with transaction.atomic():
        account = _account_of(household, account_id)
        if account.status != TenantAccount.Status.PENDING:
            raise ServiceError(
                _("Only an account awaiting its e-mail verification can be restarted."),
                code="not_pending",
            )
        _audit(
            user,
            "activation_restarted",
            household,
            reason,
            account_id=account.pk,
        )
        account.tokens.all().delete()
        account.user.delete()  # the account, its homes and tokens go with it


def _identifiers(household: Household):
    accounts = list(TenantAccount.objects.filter(homes__household=household))
    emails = {a.email.lower() for a in accounts if a.email} | {
        a.pending_email.lower() for a in accounts if a.pending_email
    }
    mobiles = {a.mobile for a in accounts if a.mobile}
    references = set(Lease.objects.filter(household=household).values_list("reference", flat=True))
    provisional = {
        i.lower()
        for i in ProvisionalCredential.objects.filter(household=household).values_list(
            "identifier", flat=True
        )
    }
    merges = {str(a.pk) for a in accounts}
    return emails, mobiles, references, provisional, merges


def _matches(identifier: str, kind: str, ids) -> bool:
    emails, mobiles, references, provisional, merges = ids
    if kind == "activation":
        return identifier in references
    if kind == "provisional":
        return identifier in provisional
    if kind in ("merge", "reauth"):
        return identifier in merges
    if "@" in identifier:
        return identifier in emails
    if normalise_contract_reference(identifier) in references:
        return True
    if mobiles and any(c.isdigit() for c in identifier):
        try:
            return phones.parse_mobile(identifier, "FR") in mobiles
        except ValidationError:
            return False
    return False


def throttle_rows(household: Household) -> list[int]:
    """The login failures counted against the household's identifiers: its accounts' e-mails
    and mobiles, its contract references (login and activation), its provisional identifiers.
    Keys hold what the tenant typed ("tenant:06 12…|address"): each is read back the way
    the login reads it."""
    ids = _identifiers(household)
    found = []
    rows = LoginFailure.objects.filter(
        Q(key__startswith="tenant:")
        | Q(key__startswith="activation:")
        | Q(key__startswith="provisional:")
        | Q(key__startswith="merge:")
        | Q(key__startswith="reauth:")
    ).values_list("pk", "key")
    for pk, key in rows.iterator():
        kind, _sep, rest = key.partition(":")
        identifier = rest.rsplit("|", 1)[0]
        if _matches(identifier, kind, ids):
            found.append(pk)
    return found


def lift_throttle(user, household_pk, reason: str) -> int:
    """The tenant is kept waiting after wrong passwords and calls the agency: the failures
    counted against the household's identifiers are removed. Returns how many."""
    household = household_or_404(user, household_pk)
    reason = _reason(reason)
    with transaction.atomic():
        rows = throttle_rows(household)
        deleted, _rows = LoginFailure.objects.filter(pk__in=rows).delete()
        _audit(user, "throttle_lifted", household, reason, failures=deleted)
    return deleted


# --- provisional credentials (printed letters) ------------------------------------------------


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _n in range(length))


def new_identifier() -> str:
    return f"P-{_random(IDENTIFIER_ALPHABET, 4)}-{_random(IDENTIFIER_ALPHABET, 4)}"


def new_secret() -> str:
    return _random(SECRET_ALPHABET, SECRET_LENGTH)


@dataclass
class Letter:
    household: Household
    lease: Lease | None
    names: list[str]
    address: list[str]
    identifier: str
    secret: str
    expires_at: datetime


@dataclass
class LetterBatch:
    batch: str
    letters: list[Letter] = field(default_factory=list)
    remaining: int = 0
    residence: Residence | None = None
    url: str = ""
    codes: tuple[str, str] | None = None


def _current_lease(household: Household) -> Lease | None:
    return (
        Lease.objects.current()
        .filter(household=household)
        .select_related("unit__entrance__building", "residence__agency")
        .order_by("-start_date", "-pk")
        .first()
    )


def _address(lease: Lease | None) -> list[str]:
    """The postal address, in French whatever the advisor's language: the letter's."""
    if lease is None:
        return []
    unit, residence = lease.unit, lease.residence
    entrance = unit.entrance
    first = [residence.name]
    if entrance.building.name:
        first.append(entrance.building.name)
    if entrance.name:
        first.append(entrance.name)
    if unit.door or unit.code:
        with translation.override(settings.LANGUAGE_CODE):
            first.append(_("door %(door)s") % {"door": unit.door or unit.code})
    return [
        ", ".join(first),
        entrance.address or residence.address,
        f"{residence.postcode} {residence.city}",
    ]


def _signatories(household: Household) -> list[str]:
    people = household.people.filter(
        role__in=[Person.Role.SIGNATORY, Person.Role.CO_SIGNATORY]
    ).order_by("role", "pk")
    return [f"{p.first_name} {p.last_name}".strip() for p in people]


def activation_url(organisation, agency: Agency | None) -> tuple[str, tuple[str, str] | None]:
    """The letter's address: /locataire/activer/lettre/, with the landlord's codes when the
    deployment serves several landlords (the codes are printed too)."""
    from backend.estate.models import Organisation

    url = settings.SITE_URL + reverse("tenants:provisional")
    if Organisation.objects.count() > 1:
        codes = (organisation.code, agency.code if agency else "")
        query = f"?client={codes[0]}" + (f"&societe={codes[1]}" if codes[1] else "")
        return url + query, codes
    return url, None


def households_without_account(user, residence: Residence):
    """The residence's households with a current lease there and no account (closed ones
    aside), ordered as a postman walks: entrance, floor, door."""
    current = Lease.objects.current().filter(residence=residence)
    households = with_activation(
        households_in_scope(user).filter(pk__in=current.values("household_id"))
    )
    first_unit = current.filter(household=OuterRef("pk")).order_by(
        "unit__entrance_id", "unit__floor", "unit__door"
    )
    return (
        households.filter(activation=Activation.NONE)
        .annotate(
            entrance=Subquery(first_unit.values("unit__entrance_id")[:1]),
            floor=Subquery(first_unit.values("unit__floor")[:1]),
            door=Subquery(first_unit.values("unit__door")[:1]),
        )
        .order_by("entrance", "floor", "door", "name", "pk")
    )


def letters_waiting(user, residences) -> dict[int, tuple[int, int]]:
    """{residence id: (households without an account, those of them without a valid letter)}."""
    current = Lease.objects.current().filter(residence__in=residences)
    households = with_activation(households_in_scope(user)).filter(activation=Activation.NONE)
    valid = _valid_letters().values("household_id")

    def counts(leases):
        return dict(
            leases.order_by()
            .values("residence_id")
            .annotate(n=Count("household_id", distinct=True))
            .values_list("residence_id", "n")
        )

    without = current.filter(household__in=households.values("pk"))
    all_counts, unlettered = counts(without), counts(without.exclude(household__in=valid))
    return {pk: (n, unlettered.get(pk, 0)) for pk, n in all_counts.items()}


def _valid_letters():
    return ProvisionalCredential.objects.filter(used_at__isnull=True, expires_at__gt=timezone.now())


def _issue(user, households: list[Household], batch: str, now) -> list[Letter]:
    """New credentials for these households; their earlier unused ones stop working."""
    expires = now + timedelta(days=settings.TENANT_PROVISIONAL_DAYS)
    ProvisionalCredential.objects.filter(household__in=households, used_at__isnull=True).filter(
        expires_at__gt=now
    ).update(expires_at=now)
    letters, rows, taken = [], [], set()
    for household in households:
        while True:
            identifier = new_identifier()
            if (
                identifier not in taken
                and not ProvisionalCredential.objects.filter(identifier=identifier).exists()
            ):
                break
        taken.add(identifier)
        secret = new_secret()
        rows.append(
            ProvisionalCredential(
                household=household,
                identifier=identifier,
                secret_hash=make_password(secret),
                batch=batch,
                created_by=user,
                created_at=now,
                expires_at=expires,
            )
        )
        lease = _current_lease(household)
        letters.append(
            Letter(
                household=household,
                lease=lease,
                names=_signatories(household) or [household.name],
                address=_address(lease),
                identifier=identifier,
                secret=secret,
                expires_at=expires,
            )
        )
    ProvisionalCredential.objects.bulk_create(rows)
    return letters


def issue_letters_for_residence(user, residence_pk) -> LetterBatch:
    """Letters for the next LETTERS_PER_BATCH households of a residence that have no account
    and no letter still valid (one audit record for the batch)."""
    require_backoffice(user)
    residence = get_scoped_or_404(
        user, Residence.objects.select_related("agency__organisation"), pk=residence_pk
    )
    candidates = households_without_account(user, residence).exclude(
        pk__in=_valid_letters().values("household_id")
    )
    chosen = list(candidates[:LETTERS_PER_BATCH])
    if not chosen:
        raise ServiceError(
            _("Every household of this residence has an account or a letter still valid."),
            code="nobody",
        )
    now = timezone.now()
    batch = f"{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        letters = _issue(user, chosen, batch, now)
        _audit(
            user,
            "provisional_issued",
            None,
            organisation_id=residence.organisation_id,
            batch=batch,
            residence_id=residence.pk,
            households=[h.pk for h in chosen],
        )
    url, codes = activation_url(residence.organisation, residence.agency)
    return LetterBatch(
        batch=batch,
        letters=letters,
        remaining=max(0, candidates.count()),
        residence=residence,
        url=url,
        codes=codes,
    )


def issue_letter_for_household(user, household_pk, reason: str = "") -> LetterBatch:
    """A new letter for one household (lost, expired): its earlier unused ones stop working."""
    household = household_or_404(user, household_pk)
    if TenantAccount.objects.filter(
        homes__household=household,
        status__in=[TenantAccount.Status.ACTIVE, TenantAccount.Status.DEPARTED],
    ).exists():
        raise ServiceError(_("This household already has an active account."), code="active")
    lease = _current_lease(household)
    if lease is None:
        raise ServiceError(_("This household has no current lease."), code="departed")
    now = timezone.now()
    batch = f"{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        letters = _issue(user, [household], batch, now)
        _audit(user, "provisional_issued", household, (reason or "").strip(), batch=batch)
    url, codes = activation_url(household.organisation, lease.residence.agency)
    return LetterBatch(
        batch=batch, letters=letters, residence=lease.residence, url=url, codes=codes
    )


# --- reminders -------------------------------------------------------------------------------


@dataclass
class ReminderPlan:
    """Who a reminder reaches: the signatories of the households without an active account
    (not started or awaiting the e-mail) among those with a current lease in the places."""

    residences: list
    organisation_id: int | None
    households: int = 0
    left_out_active: int = 0
    people_ids: list[int] = field(default_factory=list)


def reminder_plan(user, agency_id=None, residence_id=None) -> ReminderPlan:
    require_backoffice(user)
    if not agency_id and not residence_id:
        raise ValidationError({"place": [_("Choose an agency or a residence.")]})
    residences = list(_residences(user, agency_id, residence_id).select_related("agency"))
    if not residences:
        raise Http404
    current = Lease.objects.current().filter(residence__in=residences)
    households = with_activation(
        households_in_scope(user).filter(pk__in=current.values("household_id"))
    )
    targets = households.filter(activation__in=[Activation.NONE, Activation.PENDING])
    plan = ReminderPlan(
        residences=residences,
        organisation_id=residences[0].organisation_id,
        households=targets.count(),
        left_out_active=households.filter(activation=Activation.ACTIVE).count(),
    )
    plan.people_ids = list(
        Person.objects.filter(
            household__in=targets.values("pk"),
            role__in=[Person.Role.SIGNATORY, Person.Role.CO_SIGNATORY],
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return plan


def _reminder_template(plan: ReminderPlan, agency_id=None):
    from messaging.models import Template
    from messaging.services import resolve_template

    if len(plan.residences) == 1:
        return resolve_template(REMINDER_TEMPLATE, plan.residences[0])
    candidates = Template.objects.filter(
        key=REMINDER_TEMPLATE,
        is_active=True,
        organisation_id=plan.organisation_id,
        residence__isnull=True,
    )
    if agency_id:
        found = candidates.filter(agency_id=agency_id).prefetch_related("variants").first()
        if found:
            return found
    return candidates.filter(agency__isnull=True).prefetch_related("variants").first()


def default_reminder_texts(organisation):
    """Ronde's French text when the organisation has no template `relance-activation`."""
    from messaging import sms
    from messaging.services import Texts

    link = settings.SITE_URL + reverse("tenants:activate")
    from backend.estate.models import Organisation

    if Organisation.objects.count() > 1:
        link += f"?client={organisation.code}"
    with translation.override(settings.LANGUAGE_CODE):
        return Texts(
            sms_body=sms.replace_forcing(
                _(
                    "Hello {{ prenom }}, your tenant space is waiting for you: activate it at "
                    "[link] with your last rent notice. {{ agence }}"
                ).replace("[link]", link)
            ),
            email_subject=_("Activate your tenant space"),
            email_text=_(
                "Hello {{ prenom }},\n\nYour online tenant space is waiting for you: rent "
                "notices and receipts, requests for repairs, and your choices about the "
                "messages we send you.\n\nTo activate it, take your last rent notice (contract "
                "reference, without the L, and module number) and go to:\n[link]\n\nOne "
                "registration per household is enough. Need help? Your agency {{ agence }} "
                "answers you.\n\n{{ bailleur }}"
            ).replace("[link]", link),
        )


def reminder_input(user, plan: ReminderPlan, agency_id=None, delivery: str = ""):
    from messaging.models import Campaign, Purpose
    from messaging.services import CampaignInput, template_texts

    template = _reminder_template(plan, agency_id)
    texts = template_texts(template) if template else None
    if texts is None or not (texts.wants_sms or texts.wants_email):
        template, texts = None, default_reminder_texts(plan.residences[0].organisation)
    place = plan.residences[0].name if len(plan.residences) == 1 else plan.residences[0].agency.name
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Tenant space activation reminder — %(place)s") % {"place": place}
    return CampaignInput(
        title=title,
        # Not about the home itself: opt-outs of general information apply, as for any
        # newsletter, and so do quiet hours.
        purpose=Purpose.INFORMATION,
        audience={"kind": "people", "ids": plan.people_ids},
        texts=texts,
        delivery=delivery if delivery in Campaign.Delivery.values else Campaign.Delivery.PREFERRED,
        template_id=template.pk if template else None,
        personalised=template is None,
    )


def preview_reminder(user, plan: ReminderPlan, agency_id=None, delivery: str = ""):
    from messaging.services import preview_campaign

    if not plan.people_ids:
        return None
    return preview_campaign(user, reminder_input(user, plan, agency_id, delivery))


def send_reminder(user, plan: ReminderPlan, agency_id=None, delivery: str = ""):
    """The reminder as a messaging campaign (consents, opt-outs, quiet hours and channels as
    for any campaign); one audit record names it."""
    from messaging.services import create_campaign

    if not plan.people_ids:
        raise ServiceError(
            _("Every household of this selection has activated its account."), code="nobody"
        )
    with transaction.atomic():
        campaign = create_campaign(user, reminder_input(user, plan, agency_id, delivery))
        _audit(
            user,
            "reminder_sent",
            None,
            organisation_id=campaign.organisation_id,
            campaign=campaign.pk,
            households=plan.households,
            residences=[r.pk for r in plan.residences],
        )
    return campaign


# --- adoption figures ------------------------------------------------------------------------


@dataclass
class RateRow:
    label: str
    households: int = 0
    active: int = 0
    group: str = ""

    @property
    def rate(self) -> float | None:
        if not self.households:
            return None
        return round(100 * self.active / self.households, 1)


@dataclass
class Period:
    start: date
    created: int = 0
    activated: int = 0


@dataclass
class Adoption:
    weeks: list[Period]
    months: list[Period]
    agencies: list[RateRow]
    residences: list[RateRow]
    total: RateRow


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _count_by(accounts, column: str, trunc, since) -> dict[date, int]:
    rows = (
        accounts.filter(**{f"{column}__gte": since})
        .annotate(period=trunc(column))
        .order_by()
        .values("period")
        .annotate(n=Count("pk"))
    )
    result = {}
    for row in rows:
        period = row["period"]
        if isinstance(period, datetime):
            period = (
                timezone.localtime(period).date() if timezone.is_aware(period) else period.date()
            )
        result[period] = result.get(period, 0) + row["n"]
    return result


def adoption(user, agency_id=None, today: date | None = None) -> Adoption:
    """Accounts created and activated per week (52 weeks) and per month (12 months), and the
    activation rate (households with an active account / households with a current lease)
    per agency and per residence, in the user's scope."""
    require_backoffice(user)
    today = today or timezone.localdate()
    residences = _residences(user, agency_id)
    accounts = TenantAccount.objects.filter(
        pk__in=scoped(user, TenantAccount)
        .filter(homes__household__in=households_living_in(residences))
        .values("pk")
    )
    first_week = _monday(today) - timedelta(weeks=51)
    first_month = _months_before(today, 11)
    since = timezone.make_aware(datetime.combine(min(first_week, first_month), time.min))
    weeks = [Period(first_week + timedelta(weeks=n)) for n in range(52)]
    months = [Period(_months_before(today, 11 - n)) for n in range(12)]
    for periods, trunc in ((weeks, TruncWeek), (months, TruncMonth)):
        created = _count_by(accounts, "created_at", trunc, since)
        activated = _count_by(accounts, "activated_at", trunc, since)
        for period in periods:
            period.created = created.get(period.start, 0)
            period.activated = activated.get(period.start, 0)

    current = Lease.objects.current().filter(residence__in=residences)
    active = Q(household__account_homes__account__status=TenantAccount.Status.ACTIVE)

    def counted(rows, key):
        return {
            row[key]: (row["households"], row["active"])
            for row in rows.annotate(
                households=Count("household_id", distinct=True),
                active=Count("household_id", distinct=True, filter=active),
            )
        }

    by_residence = counted(current.order_by().values("residence_id"), "residence_id")
    by_agency = counted(current.order_by().values("residence__agency_id"), "residence__agency_id")
    residence_rows, agency_rows, seen_agencies = [], [], {}
    for residence in residences.select_related("agency").order_by("agency__name", "name"):
        households, active_count = by_residence.get(residence.pk, (0, 0))
        residence_rows.append(
            RateRow(residence.name, households, active_count, group=residence.agency.name)
        )
        seen_agencies.setdefault(residence.agency_id, residence.agency.name)
    for agency_pk, name in seen_agencies.items():
        households, active_count = by_agency.get(agency_pk, (0, 0))
        agency_rows.append(RateRow(name, households, active_count))
    totals = current.aggregate(
        households=Count("household_id", distinct=True),
        active=Count("household_id", distinct=True, filter=active),
    )
    total = RateRow(_("All"), totals["households"] or 0, totals["active"] or 0)
    return Adoption(weeks, months, agency_rows, residence_rows, total)


# --- consents for the landlord's ERP ---------------------------------------------------------

CONSENT_KINDS = (Consent.Kind.PAPERLESS, Consent.Kind.COMMERCIAL, Consent.Kind.GENERAL)
# Column names for a machine, stable whatever the language of the page.
CONSENT_CSV_HEADER = [
    "reference_contrat",
    "foyer",
    "code_residence",
    "date_sortie",
    "dematerialisation",
    "dematerialisation_version",
    "dematerialisation_date",
    "info_commerciales",
    "info_commerciales_version",
    "info_commerciales_date",
    "info_generales",
    "info_generales_version",
    "info_generales_date",
]


def consent_leases(user):
    """Every lease in scope that is current or ended less than FORMER_TENANT_DAYS ago, with
    its household's latest paperless, commercial and general answers (None: never asked)."""
    require_backoffice(user)
    since = timezone.localdate() - timedelta(days=FORMER_TENANT_DAYS)
    leases = (
        scoped(user, Lease)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=since))
        .select_related("household", "residence")
    )
    for kind in CONSENT_KINDS:
        latest = Consent.objects.filter(household=OuterRef("household_id"), kind=kind).order_by(
            "-at", "-id"
        )
        leases = leases.annotate(
            **{
                f"{kind}_granted": Subquery(latest.values("granted")[:1]),
                f"{kind}_version": Subquery(latest.values("version")[:1]),
                f"{kind}_at": Subquery(latest.values("at")[:1]),
            }
        )
    return leases.order_by("reference", "pk")


def _yes_no(value) -> str:
    return "" if value is None else ("oui" if value else "non")


def _day(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # some backends hand a subquery's datetime back as text
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.strftime("%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


def consent_csv_rows(user):
    for lease in consent_leases(user).iterator(chunk_size=1000):
        row = [
            lease.reference,
            lease.household.name,
            lease.residence.code,
            _day(lease.end_date),
        ]
        for kind in CONSENT_KINDS:
            row += [
                _yes_no(getattr(lease, f"{kind}_granted")),
                getattr(lease, f"{kind}_version") or "",
                _day(getattr(lease, f"{kind}_at")),
            ]
        yield row


# --- help requests ---------------------------------------------------------------------------


def help_requests(user, handled: bool = False):
    require_backoffice(user)
    return (
        scoped(user, HelpRequest)
        .filter(handled_at__isnull=not handled)
        .select_related("residence", "household", "handled_by")
        .order_by("-handled_at" if handled else "created_at")
    )


def mark_handled(user, pk) -> HelpRequest:
    require_backoffice(user)
    found = get_scoped_or_404(user, HelpRequest, pk=pk)
    if found.handled_at is None:
        HelpRequest.objects.filter(pk=found.pk, handled_at__isnull=True).update(
            handled_at=timezone.now(), handled_by=user
        )
        found.refresh_from_db()
    return found


def visible_household_ids(user, ids) -> set[int]:
    """Which of these households the user may open (links from help requests)."""
    return set(
        households_in_scope(user).filter(pk__in=[i for i in ids if i]).values_list("pk", flat=True)
    )
