"""The tenant account after activation, and the retention of the data it reads. Rules:
docs/tenants.md, "Departure, anonymisation and retention".

Accounts
- departed (read-only) from the move-out date: every lease of the account's homes has ended;
- deactivated TENANT_DEACTIVATE_DAYS after the move-out: no login, no recovery;
- anonymised TENANT_ANONYMISE_DAYS after the deactivation: the User, the account's addresses,
  its tokens, the outbox and captured copies of the e-mails and texts sent to those addresses,
  the texts received from its login mobile (those not attached to a request);
- active accounts without a login are warned after TENANT_INACTIVE_WARN_DAYS (once) and closed
  after TENANT_INACTIVE_CLOSE_DAYS: deactivated, the paperless rent notice back to paper.

Retention of what the account reads (its own clock, whatever happened to the account)
- a household, LEASE_RETENTION_YEARS after its last lease ended: its people, their messages,
  texts, opt-outs, blocked addresses, insurance certificates and help requests;
- a request, REQUEST_RETENTION_YEARS after its closure: who asked and what they said;
- rent notices, receipts and balances, ACCOUNTING_RETENTION_YEARS after their period.

Every step selects only what is still to do (running twice changes nothing the second time)
and works in batches, each in its own short transaction: a big estate never holds a long write
lock. The functions take `now` so that tests move the dates instead of freezing time.
"""

import secrets
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from backend.accounts import tenancy
from backend.accounts.models import (
    AccountToken,
    AuditRecord,
    Consent,
    HelpRequest,
    HouseholdBalance,
    HouseholdDocument,
    InsuranceCertificate,
    TenantAccount,
    User,
)
from backend.estate.models import Household, Organisation, Person

BATCH = 100
ANONYMOUS = "Anonyme"  # what names become: data, the same in every language
HOUSEHOLD_COUNTS = (
    "households",
    "people",
    "messages",
    "captured_messages",
    "inbound_texts",
    "opt_outs",
    "channel_blocks",
    "insurance_certificates",
    "help_requests",
)
ACCOUNTING_KINDS = (HouseholdDocument.Kind.RENT_NOTICE, HouseholdDocument.Kind.RECEIPT)

Status = TenantAccount.Status


# --- helpers ----------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _chunks(queryset, size: int = BATCH):
    """The primary keys of a selection, a batch at a time, in key order (keyset pagination: a
    row that a batch could not change is never read again, so the loop always ends)."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True).distinct()[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _lease_stats(today: date) -> dict:
    leases = "homes__household__leases"
    live = Q(**{f"{leases}__end_date__isnull": True}) | Q(**{f"{leases}__end_date__gt": today})
    return {
        "lease_count": Count(leases, distinct=True),
        "live_count": Count(leases, filter=live, distinct=True),
        "move_out": Max(f"{leases}__end_date"),
    }


def move_out_of(account: TenantAccount) -> date | None:
    """The last end of a lease among the account's homes (None while one has no end)."""
    from backend.estate.models import Lease

    leases = Lease.objects.filter(household__account_homes__account=account)
    if not leases.exists() or leases.filter(end_date__isnull=True).exists():
        return None
    return leases.aggregate(last=Max("end_date"))["last"]


def closes_on(account: TenantAccount) -> date | None:
    """The day a departed account is deactivated (shown on its read-only space)."""
    move_out = move_out_of(account)
    return move_out + timedelta(days=settings.TENANT_DEACTIVATE_DAYS) if move_out else None


class Report:
    """What a run did, counted per organisation; every kind of count is named, even at zero."""

    def __init__(self, *keys: str):
        self.keys = set(keys)
        self.counts = defaultdict(Counter)

    def add(self, organisation_id: int, key: str, n: int = 1) -> None:
        self.keys.add(key)
        if n:
            self.counts[organisation_id][key] += n

    def of(self, organisation_id: int) -> dict:
        counts = self.counts.get(organisation_id, Counter())
        return {key: counts.get(key, 0) for key in sorted(self.keys)}

    def as_dict(self) -> dict:
        return {str(pk): dict(counts) for pk, counts in self.counts.items()}

    def record(self, action: str, reason: str) -> None:
        """One audit record per organisation and run, with the counts (zeros too: the run
        happened)."""
        for organisation_id in Organisation.objects.values_list("pk", flat=True):
            tenancy.audit(
                action, organisation_id=organisation_id, reason=reason, **self.of(organisation_id)
            )


# --- accounts ---------------------------------------------------------------------------------


@tenancy._french
def run_accounts(now: datetime | None = None) -> dict:
    """Departures, deactivations, anonymisations and inactive accounts: the daily job."""
    now = _now(now)
    report = Report("departed", "reinstated", "deactivated", "anonymised", "warned", "closed")
    depart(now, report)
    reinstate(now, report)
    deactivate_departed(now, report)
    close_inactive(now, report)
    warn_inactive(now, report)
    anonymise_closed(now, report)
    report.record("accounts_run", _("Daily run: departures and inactive accounts."))
    return report.as_dict()


def depart(now: datetime, report: Report | None = None) -> int:
    """Read-only from the move-out date: every lease of every home of the account has ended
    (end date today or before), and none is to come."""
    report = report if report is not None else Report()
    today = timezone.localdate(now)
    candidates = (
        TenantAccount.objects.filter(status=Status.ACTIVE)
        .annotate(**_lease_stats(today))
        .filter(lease_count__gt=0, live_count=0)
    )
    done = 0
    for ids in _chunks(candidates):
        for account in candidates.filter(pk__in=ids):
            with transaction.atomic():
                changed = TenantAccount.objects.filter(pk=account.pk, status=Status.ACTIVE).update(
                    status=Status.DEPARTED, departed_at=now, pending_email=""
                )
                if not changed:
                    continue
                # What was under way stops: a new address or a new mobile is a write.
                AccountToken.objects.filter(
                    account=account,
                    used_at__isnull=True,
                    purpose__in=[
                        AccountToken.Purpose.CHANGE_EMAIL,
                        AccountToken.Purpose.MOBILE_CODE,
                    ],
                ).update(used_at=now)
                tenancy.audit(
                    "departed",
                    organisation_id=account.organisation_id,
                    account=account,
                    reason=_("Move-out: every lease of the account's homes has ended."),
                    move_out=account.move_out.isoformat(),
                    read_only_until=(
                        account.move_out + timedelta(days=settings.TENANT_DEACTIVATE_DAYS)
                    ).isoformat(),
                )
                report.add(account.organisation_id, "departed")
                done += 1
    return done


def reinstate(now: datetime, report: Report | None = None) -> int:
    """A departed account whose home has a current lease again (a move-out date corrected in
    the ERP, a new lease of the same household) is active again."""
    report = report if report is not None else Report()
    today = timezone.localdate(now)
    candidates = (
        TenantAccount.objects.filter(status=Status.DEPARTED)
        .annotate(**_lease_stats(today))
        .filter(live_count__gt=0)
    )
    done = 0
    for ids in _chunks(candidates):
        for account in candidates.filter(pk__in=ids):
            with transaction.atomic():
                if TenantAccount.objects.filter(pk=account.pk, status=Status.DEPARTED).update(
                    status=Status.ACTIVE, departed_at=None
                ):
                    tenancy.audit(
                        "departure_cancelled",
                        organisation_id=account.organisation_id,
                        account=account,
                        reason=_("A lease of the account's homes is current again."),
                    )
                    report.add(account.organisation_id, "reinstated")
                    done += 1
    return done


def deactivate_departed(now: datetime, report: Report | None = None) -> int:
    """TENANT_DEACTIVATE_DAYS after the move-out, the read-only space closes."""
    report = report if report is not None else Report()
    today = timezone.localdate(now)
    limit = today - timedelta(days=settings.TENANT_DEACTIVATE_DAYS)
    candidates = (
        TenantAccount.objects.filter(status=Status.DEPARTED)
        .annotate(**_lease_stats(today))
        .filter(live_count=0, move_out__lte=limit)
    )
    done = 0
    for ids in _chunks(candidates):
        for account in TenantAccount.objects.filter(pk__in=ids):
            reason = _("%(days)d days after the move-out: the read-only space closes.") % {
                "days": settings.TENANT_DEACTIVATE_DAYS
            }
            if deactivate(account, now, cause="departure", reason=reason):
                report.add(account.organisation_id, "deactivated")
                done += 1
    return done


def deactivate(account: TenantAccount, now: datetime, *, cause: str, reason: str) -> bool:
    """Closed: no login (User.is_active off, every session ends), no recovery (every link and
    code still valid is used up), the rent notice on paper again. The data stay until the
    anonymisation, TENANT_ANONYMISE_DAYS later."""
    with transaction.atomic():
        changed = (
            TenantAccount.objects.filter(pk=account.pk, status=account.status)
            .exclude(status__in=[Status.DEACTIVATED, Status.ANONYMISED])
            .update(status=Status.DEACTIVATED, deactivated_at=now, pending_email="")
        )
        if not changed:
            return False
        User.objects.filter(pk=account.user_id).update(
            is_active=False, session_salt=secrets.token_hex(16)
        )
        AccountToken.objects.filter(account=account, used_at__isnull=True).update(used_at=now)
        paper = back_to_paper(account, now, source=cause)
        tenancy.audit(
            "deactivated",
            organisation_id=account.organisation_id,
            account=account,
            reason=reason,
            cause=cause,
            paperless_switched_to_paper=paper,
        )
    return True


def back_to_paper(account: TenantAccount, now: datetime, *, source: str) -> int:
    """The rent notice by e-mail needs an account to read it: for each home of the account
    whose current choice is paperless, and that no other open account reads, a new consent
    row says paper (the history stays, as proof)."""
    others = (
        TenantAccount.objects.filter(
            status__in=[Status.ACTIVE, Status.DEPARTED], homes__isnull=False
        )
        .exclude(pk=account.pk)
        .values("homes__household_id")
    )
    rows = []
    for household_id in account.homes.exclude(household_id__in=others).values_list(
        "household_id", flat=True
    ):
        latest = (
            Consent.objects.filter(household_id=household_id, kind=Consent.Kind.PAPERLESS)
            .order_by("-at", "-id")
            .first()
        )
        if latest is not None and latest.granted:
            rows.append(
                Consent(
                    account=account,
                    household_id=household_id,
                    person=account.person,
                    kind=Consent.Kind.PAPERLESS,
                    granted=False,
                    version=settings.TENANT_CONSENT_VERSION,
                    source=source,
                    at=now,
                )
            )
    Consent.objects.bulk_create(rows)
    return len(rows)


def _last_activity():
    return Coalesce("last_seen_at", "activated_at", "created_at")


def _grace() -> timedelta:
    """The least time between the warning and the closure (the warning gives this notice even
    when the job was stopped, or the settings changed)."""
    return timedelta(
        days=max(settings.TENANT_INACTIVE_CLOSE_DAYS - settings.TENANT_INACTIVE_WARN_DAYS, 1)
    )


def warn_inactive(now: datetime, report: Report | None = None) -> int:
    """One e-mail, once, TENANT_INACTIVE_WARN_DAYS after the last login (or the activation):
    a login clears the warning (tenancy.authenticate), so a later silence warns again."""
    report = report if report is not None else Report()
    limit = now - timedelta(days=settings.TENANT_INACTIVE_WARN_DAYS)
    candidates = (
        TenantAccount.objects.filter(status=Status.ACTIVE, inactivity_warned_at__isnull=True)
        .annotate(seen=_last_activity())
        .filter(seen__lte=limit)
    )
    done = 0
    for ids in _chunks(candidates):
        for account in candidates.filter(pk__in=ids).select_related("organisation"):
            with transaction.atomic():
                if not TenantAccount.objects.filter(
                    pk=account.pk, status=Status.ACTIVE, inactivity_warned_at__isnull=True
                ).update(inactivity_warned_at=now):
                    continue
                closing = max(
                    account.seen + timedelta(days=settings.TENANT_INACTIVE_CLOSE_DAYS),
                    now + _grace(),
                )
                _send_inactivity_warning(account, timezone.localdate(closing))
                tenancy.audit(
                    "inactivity_warned",
                    organisation_id=account.organisation_id,
                    account=account,
                    reason=_("No login for %(days)d days.") % {"days": (now - account.seen).days},
                    closes_on=timezone.localdate(closing).isoformat(),
                )
                report.add(account.organisation_id, "warned")
                done += 1
    return done


def _send_inactivity_warning(account: TenantAccount, closing: date) -> None:
    landlord = account.organisation.name
    tenancy._send(
        account,
        account.email,
        _("Your tenant account will be closed — %(landlord)s") % {"landlord": landlord},
        _(
            "Hello,\n\nYou have not logged in to your tenant space for a long time. Without a "
            "login by %(date)s, your account will be closed, and if you receive your rent "
            "notice by e-mail, it will come on paper again.\n\nTo keep your account, simply "
            "log in:\n%(login)s\n\n%(landlord)s"
        )
        % {
            "date": formats.date_format(closing, "DATE_FORMAT"),
            "login": settings.SITE_URL + reverse("tenants:login"),
            "landlord": landlord,
        },
    )


def close_inactive(now: datetime, report: Report | None = None) -> int:
    """TENANT_INACTIVE_CLOSE_DAYS without a login, and warned long enough ago: deactivated."""
    report = report if report is not None else Report()
    candidates = (
        TenantAccount.objects.filter(status=Status.ACTIVE, inactivity_warned_at__lte=now - _grace())
        .annotate(seen=_last_activity())
        .filter(seen__lte=now - timedelta(days=settings.TENANT_INACTIVE_CLOSE_DAYS))
    )
    done = 0
    for ids in _chunks(candidates):
        for account in candidates.filter(pk__in=ids):
            reason = _("No login for %(days)d days.") % {"days": (now - account.seen).days}
            if deactivate(account, now, cause="inactivity", reason=reason):
                report.add(account.organisation_id, "closed")
                done += 1
    return done


def anonymise_closed(now: datetime, report: Report | None = None) -> int:
    """TENANT_ANONYMISE_DAYS after the deactivation (departure or inactivity)."""
    report = report if report is not None else Report()
    candidates = TenantAccount.objects.filter(
        status=Status.DEACTIVATED,
        deactivated_at__lte=now - timedelta(days=settings.TENANT_ANONYMISE_DAYS),
    )
    done = 0
    for ids in _chunks(candidates):
        for account_id in ids:
            if anonymise_account(account_id, now):
                account = TenantAccount.objects.only("organisation_id").get(pk=account_id)
                report.add(account.organisation_id, "anonymised")
                done += 1
    return done


def anonymise_account(account_id: int, now: datetime) -> bool:
    """The account and what only it holds. Leases, requests and the household's people are
    not the account's: they follow their own retention (retain_households, retain_requests)."""
    from messaging.models import InboundMessage, Message, MessageEvent

    with transaction.atomic():
        account = (
            TenantAccount.objects.select_for_update()
            .select_related("user")
            .filter(pk=account_id, status=Status.DEACTIVATED)
            .first()
        )
        if account is None:
            return False
        user = account.user
        tokens = AccountToken.objects.filter(account=account)
        addresses = {account.email, account.pending_email, account.mobile}
        addresses |= set(tokens.exclude(target="").values_list("target", flat=True))
        addresses = {a for a in addresses if a}
        mobiles = {a for a in addresses if a.startswith("+")}

        # Outbox copies of what was sent to the account's own addresses (account e-mails and
        # codes: no recipient person). Messages to a person stay with the household's data.
        own = Message.objects.filter(person__isnull=True, to__in=addresses)
        message_ids = list(own.values_list("pk", flat=True))
        Message.objects.filter(pk__in=message_ids).exclude(status__in=Message.FINAL).update(
            status=Message.Status.CANCELLED
        )
        messages = Message.objects.filter(pk__in=message_ids).update(
            to="", subject="", body="", html="", error_message=""
        )
        MessageEvent.objects.filter(message_id__in=message_ids).update(detail="")
        captured = scrub_captured(addresses)
        inbound = (
            InboundMessage.objects.filter(from_number__in=mobiles, content_type__isnull=True)
            .exclude(from_number="", body="")
            .update(from_number="", body="")
            if mobiles
            else 0
        )
        token_count = tokens.delete()[0]
        # The account's history stays, without the tenant's name as its author.
        records = AuditRecord.objects.filter(actor_id=user.pk).update(actor_label=_("The tenant"))
        user.username = f"anonymised-{user.pk}"
        user.first_name = user.last_name = user.email = ""
        user.set_unusable_password()
        user.is_active = False
        user.session_salt = secrets.token_hex(16)
        user.save(
            update_fields=[
                "username",
                "first_name",
                "last_name",
                "email",
                "password",
                "is_active",
                "session_salt",
            ]
        )
        TenantAccount.objects.filter(pk=account.pk).update(
            status=Status.ANONYMISED,
            anonymised_at=now,
            email="",
            pending_email="",
            mobile="",
            mobile_verified_at=None,
            person=None,
        )
        tenancy.audit(
            "anonymised",
            organisation_id=account.organisation_id,
            account=account,
            reason=_("%(days)d days after the account was closed.")
            % {"days": settings.TENANT_ANONYMISE_DAYS},
            user_anonymised=True,
            tokens_deleted=token_count,
            messages=messages,
            captured_messages=captured,
            inbound_texts=inbound,
            audit_records_relabelled=records,
        )
    return True


def scrub_captured(addresses: set[str]) -> int:
    """Captured copies (the embedded profile) sent to these addresses or naming them: the text
    goes, and the addresses leave the recipients."""
    from messaging.models import CapturedMessage

    addresses = {a.lower() for a in addresses if a}
    if not addresses:
        return 0
    query = Q()
    for address in addresses:
        query |= Q(recipients__icontains=address) | Q(body__icontains=address)
        query |= Q(subject__icontains=address) | Q(html__icontains=address)
    changed = []
    for row in CapturedMessage.objects.filter(query):
        recipients = [r for r in row.recipients if str(r).lower() not in addresses]
        text = " ".join((row.subject, row.body, row.html)).lower()
        if recipients == row.recipients and not any(a in text for a in addresses):
            continue  # a longer address that merely contains one of these
        row.recipients = recipients
        row.subject = row.body = row.html = ""
        changed.append(row)
    CapturedMessage.objects.bulk_update(changed, ["recipients", "subject", "body", "html"])
    return len(changed)


# --- retention --------------------------------------------------------------------------------


@tenancy._french
def run_retention(now: datetime | None = None) -> dict:
    """Households, requests and accounting documents past their retention: the daily job."""
    now = _now(now)
    report = Report()
    retain_households(now, report)
    retain_requests(now, report)
    retain_accounting(now, report)
    report.record(
        "retention_run",
        _("Daily run: retention of leases, requests and accounting documents."),
    )
    return report.as_dict()


def _delete_files(files) -> None:
    for field_file in files:
        if field_file:
            field_file.storage.delete(field_file.name)


def households_past_retention(today: date):
    """Households whose every lease ended LEASE_RETENTION_YEARS ago or more."""
    cutoff = years_before(today, settings.LEASE_RETENTION_YEARS)
    return (
        Household.objects.filter(leases__isnull=False)
        .exclude(leases__end_date__isnull=True)
        .exclude(leases__end_date__gt=cutoff)
    )


def retain_households(now: datetime, report: Report | None = None) -> int:
    """The people of a household whose leases all ended LEASE_RETENTION_YEARS ago: names
    replaced, addresses cleared, their messages, texts, opt-outs, blocked addresses, tracking
    links, insurance certificates and help requests; requests' search columns rebuilt (the
    requests themselves follow REQUEST_RETENTION_YEARS)."""
    report = report if report is not None else Report()
    report.keys.update(HOUSEHOLD_COUNTS)
    pending_people = Person.objects.exclude(
        first_name=ANONYMOUS, last_name=ANONYMOUS, mobile="", email=""
    ).values("household_id")
    todo = households_past_retention(timezone.localdate(now)).filter(
        ~Q(name=ANONYMOUS) | Q(pk__in=pending_people)
    )
    done = 0
    for ids in _chunks(todo, size=50):
        files = []
        with transaction.atomic():
            for organisation_id, counts in _anonymise_households(ids, files).items():
                for key, n in counts.items():
                    report.add(organisation_id, key, n)
            done += len(ids)
        _delete_files(files)
    return done


def _anonymise_households(ids: list, files: list) -> dict:
    from messaging.models import ChannelBlock, InboundMessage, Message, MessageEvent, OptOut
    from tickets.models import Link, Request
    from tickets.services import search_text_of

    households = dict(Household.objects.filter(pk__in=ids).values_list("pk", "organisation_id"))
    people = list(Person.objects.filter(household_id__in=ids))
    person_ids = [p.pk for p in people]
    owner = {p.pk: households[p.household_id] for p in people}
    result = defaultdict(Counter)
    for organisation_id in households.values():
        result[organisation_id]["households"] += 1
    for person in people:
        result[owner[person.pk]]["people"] += 1

    addresses = {a for p in people for a in (p.mobile, p.email) if a}
    blocks = ChannelBlock.objects.filter(person_id__in=person_ids)
    addresses |= set(blocks.values_list("address", flat=True))
    mobiles = {a for a in addresses if a.startswith("+")}

    def per_person(queryset, key, field="person_id"):
        for person_id, n in queryset.values_list(field).annotate(n=Count("pk")).order_by():
            if person_id in owner:
                result[owner[person_id]][key] += n

    messages = Message.objects.filter(person_id__in=person_ids).exclude(
        to="", subject="", body="", html=""
    )
    per_person(messages, "messages")
    MessageEvent.objects.filter(message__person_id__in=person_ids).exclude(detail="").update(
        detail=""
    )
    Message.objects.filter(pk__in=messages.values("pk")).update(
        to="", subject="", body="", html="", error_message=""
    )
    inbound = InboundMessage.objects.filter(
        Q(person_id__in=person_ids) | Q(from_number__in=mobiles)
    ).exclude(from_number="", body="")
    per_person(inbound, "inbound_texts")
    InboundMessage.objects.filter(pk__in=inbound.values("pk")).update(from_number="", body="")
    per_person(OptOut.objects.filter(person_id__in=person_ids), "opt_outs")
    OptOut.objects.filter(person_id__in=person_ids).delete()
    per_person(blocks, "channel_blocks")
    blocks.delete()
    Link.objects.filter(person_id__in=person_ids).delete()
    captured = scrub_captured(addresses)
    if captured and households:
        # Captured copies say their organisation, not their person: counted on the first.
        result[next(iter(households.values()))]["captured_messages"] += captured

    for person in people:
        person.first_name = person.last_name = ANONYMOUS
        person.mobile = person.email = ""
        person.prepare()
    Person.objects.bulk_update(
        people, ["first_name", "last_name", "mobile", "email", "search_text"]
    )
    Household.objects.filter(pk__in=ids).update(name=ANONYMOUS)

    certificates = InsuranceCertificate.objects.filter(household_id__in=ids)
    for certificate in certificates.select_related("household"):
        files.append(certificate.file)
        result[households[certificate.household_id]]["insurance_certificates"] += 1
    certificates.delete()
    helps = HelpRequest.objects.filter(household_id__in=ids).exclude(
        name=ANONYMOUS, contact="", message=""
    )
    for organisation_id in helps.values_list("organisation_id", flat=True):
        result[organisation_id]["help_requests"] += 1
    helps.update(name=ANONYMOUS, contact="", message="")

    # The requests keep their link to the (now anonymous) people: only their search text held
    # the names.
    requests = list(
        Request.objects.filter(Q(household_id__in=ids) | Q(person_id__in=person_ids))
        .select_related("residence", "entrance", "unit", "person", "household")
        .distinct()
    )
    for request in requests:
        request.search_text = search_text_of(request)
    Request.objects.bulk_update(requests, ["search_text"], batch_size=BATCH)
    return result


def retain_requests(now: datetime, report: Report | None = None) -> int:
    """Requests closed (or cancelled) REQUEST_RETENTION_YEARS ago lose who asked and what
    they said: person, household, contact, description, the tenant's texts and what they were
    told, tracking links. What, where, when, how fast and how well stay, for the statistics."""
    from messaging.models import InboundMessage
    from tickets.models import Event, Link, Request, Status, WorkOrder
    from tickets.services import search_text_of

    report = report if report is not None else Report()
    report.keys.add("requests")
    cutoff = _start_of(years_before(timezone.localdate(now), settings.REQUEST_RETENTION_YEARS))
    todo = Request.objects.filter(
        status__in=[Status.CLOSED, Status.CANCELLED], closed_at__lt=cutoff
    ).exclude(
        person=None,
        household=None,
        contact_name="",
        contact_phone="",
        contact_email="",
        description="",
    )
    automatic = _("Ronde")
    done = 0
    for ids in _chunks(todo, size=200):
        from django.contrib.contenttypes.models import ContentType

        with transaction.atomic():
            for organisation_id in Request.objects.filter(pk__in=ids).values_list(
                "organisation_id", flat=True
            ):
                report.add(organisation_id, "requests")
            events = Event.objects.filter(request_id__in=ids)
            events.exclude(told="").update(told="")
            events.filter(kind__in=[Event.Kind.INBOUND, Event.Kind.NOTE]).update(text="—")
            events.filter(author__isnull=True).exclude(author_label__in=["", automatic]).update(
                author_label=""
            )
            Link.objects.filter(request_id__in=ids).delete()
            WorkOrder.objects.filter(request_id__in=ids).exclude(access_note="").update(
                access_note=""
            )
            InboundMessage.objects.filter(
                content_type=ContentType.objects.get_for_model(Request),
                object_id__in=[str(pk) for pk in ids],
            ).update(from_number="", body="")
            Request.objects.filter(pk__in=ids).update(
                person=None,
                household=None,
                contact_name="",
                contact_phone="",
                contact_email="",
                description="",
            )
            rows = list(
                Request.objects.filter(pk__in=ids).select_related("residence", "entrance", "unit")
            )
            for row in rows:
                row.search_text = search_text_of(row)
            Request.objects.bulk_update(rows, ["search_text"])
            done += len(ids)
    return done


def retain_accounting(now: datetime, report: Report | None = None) -> int:
    """Rent notices, receipts and balances ACCOUNTING_RETENTION_YEARS after their period (the
    import date when they have none): rows and files deleted."""
    report = report if report is not None else Report()
    report.keys.update({"accounting_documents", "balances"})
    cutoff = years_before(timezone.localdate(now), settings.ACCOUNTING_RETENTION_YEARS)
    documents = HouseholdDocument.objects.filter(kind__in=ACCOUNTING_KINDS).filter(
        Q(period__lt=cutoff) | Q(period__isnull=True, imported_at__lt=_start_of(cutoff))
    )
    done = 0
    storage = HouseholdDocument._meta.get_field("file").storage
    for ids in _chunks(documents, size=200):
        rows = list(
            HouseholdDocument.objects.filter(pk__in=ids).values_list(
                "file", "household__organisation_id"
            )
        )
        with transaction.atomic():
            HouseholdDocument.objects.filter(pk__in=ids).delete()
        for name, organisation_id in rows:
            if name:
                storage.delete(name)  # after the commit: a failure leaves a file, not a row
            report.add(organisation_id, "accounting_documents")
        done += len(rows)
    balances = HouseholdBalance.objects.filter(as_of__lt=cutoff)
    for ids in _chunks(balances, size=500):
        with transaction.atomic():
            for organisation_id in HouseholdBalance.objects.filter(pk__in=ids).values_list(
                "household__organisation_id", flat=True
            ):
                report.add(organisation_id, "balances")
            HouseholdBalance.objects.filter(pk__in=ids).delete()
    return done
