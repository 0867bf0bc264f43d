"""The demo's tenant extranet: a few accounts in every state, provisional credentials, documents
and balances, and a newcomer household without an account, whose rent-notice details
`make run` prints so that anyone can follow the activation pages. Called at the end of the
demo build (backend/core/demo.py); deterministic like the rest of the demo (the households are
picked by contract reference), with the demo password (settings.DEMO_PASSWORD) for the demo
accounts and letters only.

- tenant-demo-1: active, e-mail and mobile verified, paperless; two contracts in two agencies
  joined (the home in the North, a parking in the South);
- tenant-demo-2: active, in the South, commercial information accepted;
- tenant-demo-3: pending (the verification e-mail never opened);
- tenant-demo-4: departed last month (the lease ended), the space read-only;
- letters P-DEMO-0001 to 0003: provisional credentials of three households without account;
- the newcomer: the first household of the South agency with neither account nor letter.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from backend.accounts.models import (
    AccountHome,
    Consent,
    HouseholdBalance,
    HouseholdDocument,
    ProvisionalCredential,
    Role,
    TenantAccount,
    User,
)
from backend.estate import models as m

NORTH, SOUTH = "01", "02"
LETTER_BATCH = "demo"
LETTERS = ["P-DEMO-0001", "P-DEMO-0002", "P-DEMO-0003"]
MAIN_USERNAME = "tenant-demo-1"
DEPARTED_USERNAME = "tenant-demo-4"


@dataclass(frozen=True)
class Newcomer:
    reference: str
    module: str
    surname: str


# --- a minimal, valid PDF (one A4 page of Helvetica text), written by hand ---------------------


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 of text lines (WinAnsi: French accents, € and ’ included)."""
    stream = b"BT\n/F1 11 Tf\n15 TL\n56 780 Td\n"
    for n, line in enumerate(lines):
        size = b"/F1 15 Tf " if n == 0 else b"/F1 11 Tf "
        stream += size + b"(" + _escape(line) + b") Tj T*\n"
    stream += b"ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


# --- picking the households ----------------------------------------------------------------------


def _current_leases(organisation, agency_code: str):
    return (
        m.Lease.objects.current()
        .filter(organisation=organisation, residence__agency__code=agency_code)
        .select_related("household", "residence__agency", "unit")
        .order_by("reference")
    )


def _signatory(lease) -> m.Person | None:
    return lease.household.people.filter(role=m.Person.Role.SIGNATORY).order_by("pk").first()


def _pick(organisation, agency_code, taken: set, *, need_email=True, direct_debit=None):
    """The first lease (by reference) of the agency whose signatory fits, not yet taken."""
    for lease in _current_leases(organisation, agency_code).filter(end_date__isnull=True):
        if lease.household_id in taken:
            continue
        if direct_debit is not None and (
            (lease.payment_method == m.PaymentMethod.DIRECT_DEBIT) != direct_debit
        ):
            continue
        person = _signatory(lease)
        if person is None or (need_email and not person.email):
            continue
        taken.add(lease.household_id)
        return lease, person
    raise RuntimeError("The demo has no household left to pick.")


def newcomer(organisation=None) -> Newcomer | None:
    """A household of the South agency with neither account nor letter: its rent notice's
    details (the next one, once it is activated)."""
    from backend.core import demo

    organisation = (
        organisation or m.Organisation.objects.filter(code=demo.ORGANISATION_CODE).first()
    )
    if organisation is None:
        return None
    leases = (
        _current_leases(organisation, SOUTH)
        .filter(household__people__role=m.Person.Role.SIGNATORY)
        .exclude(household__account_homes__isnull=False)
        .exclude(household__provisional_credentials__isnull=False)
        .distinct()
    )
    for lease in leases[:20]:
        person = _signatory(lease)
        if person is not None:
            return Newcomer(lease.reference, lease.module_number, person.last_name.upper())
    return None


# --- building ---------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, organisation):
        self.organisation = organisation
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.password = make_password(settings.DEMO_PASSWORD)

    def account(self, n, lease, person, *, status, via="notice", mobile=False):
        from backend.accounts import tenancy

        user = User(
            username=f"tenant-demo-{n}",
            role=Role.TENANT,
            organisation=self.organisation,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            password=self.password,
        )
        user.save()
        account = TenantAccount.objects.create(
            user=user,
            organisation=self.organisation,
            person=person,
            current_household=lease.household,
            email=person.email,
            status=status,
            created_at=self.now - timedelta(days=60 + 10 * n),
            activated_at=None
            if status == TenantAccount.Status.PENDING
            else self.now - timedelta(days=59 + 10 * n),
            last_seen_at=None if status == TenantAccount.Status.PENDING else self.now,
            mobile=person.mobile if mobile else "",
            mobile_verified_at=self.now - timedelta(days=30) if mobile else None,
        )
        AccountHome.objects.create(account=account, household=lease.household, via=via)
        tenancy.audit(
            "activated" if status != TenantAccount.Status.PENDING else "activation_started",
            organisation_id=self.organisation.pk,
            account=account,
            household=lease.household,
            demo=True,
        )
        return account

    def consents(self, account, lease, *, paperless, commercial, general):
        from backend.accounts import tenancy

        at = account.activated_at or account.created_at
        direct_debit = lease.payment_method == m.PaymentMethod.DIRECT_DEBIT
        Consent.objects.bulk_create(
            Consent(
                account=account,
                household=lease.household,
                person=account.person,
                kind=kind,
                granted=granted,
                version=version,
                source="activation",
                at=at,
            )
            for kind, granted, version in (
                (Consent.Kind.TERMS, True, settings.TENANT_TERMS_VERSION),
                (Consent.Kind.PRIVACY, True, settings.TENANT_PRIVACY_VERSION),
                (
                    Consent.Kind.PAPERLESS,
                    paperless and direct_debit,
                    settings.TENANT_CONSENT_VERSION,
                ),
                (Consent.Kind.COMMERCIAL, commercial, settings.TENANT_CONSENT_VERSION),
                (Consent.Kind.GENERAL, general, settings.TENANT_CONSENT_VERSION),
            )
        )
        tenancy.apply_to_messaging(account.person, commercial, general)

    def papers(self, lease, person, balance: Decimal, rent: Decimal, last=None):
        """A balance and three documents (two rent notices, a receipt) up to the month of
        `last` (today, or the departure), marked as demo."""
        HouseholdBalance.objects.update_or_create(
            household=lease.household, defaults={"amount": balance, "as_of": self.today}
        )
        agency = lease.residence.agency
        first = (last or self.today).replace(day=1)
        months = [first, (first - timedelta(days=1)).replace(day=1)]
        name = f"{person.first_name} {person.last_name}"
        for kind, period, title in (
            (HouseholdDocument.Kind.RENT_NOTICE, months[0], "Avis d’échéance"),
            (HouseholdDocument.Kind.RENT_NOTICE, months[1], "Avis d’échéance"),
            (HouseholdDocument.Kind.RECEIPT, months[1], "Quittance de loyer"),
        ):
            label = f"{title} {period:%m/%Y} (démonstration)"
            content = pdf(
                [
                    f"{self.organisation.name} — {label}",
                    "",
                    "Document de démonstration : il ne vaut pas avis d’échéance ni quittance.",
                    f"{agency.name}, {agency.address}",
                    "",
                    f"Locataire : {name}",
                    f"Contrat : L{lease.reference}, module {lease.module_number}",
                    f"Logement : {lease.unit}, {lease.residence.name}",
                    f"Période : {period:%m/%Y}",
                    f"Loyer et charges : {rent:.2f} €".replace(".", ","),
                ]
            )
            path = f"tenants/documents/demo/{lease.reference}-{kind}-{period:%Y-%m}.pdf"
            if default_storage.exists(path):
                default_storage.delete(path)
            document = HouseholdDocument(
                household=lease.household,
                kind=kind,
                title=label,
                period=period,
                is_demo=True,
                imported_at=self.now,
            )
            document.file.name = default_storage.save(path, ContentFile(content))
            document.save()

    def second_contract(self, person, taken: set):
        """A parking in the South agency for the main demo tenant: a vacant unit, a household
        of the same name, a lease of its own (no mobile: the demo's mobiles stay unique)."""
        unit = (
            m.Unit.objects.filter(
                residence__organisation=self.organisation,
                residence__agency__code=SOUTH,
            )
            .exclude(leases__isnull=False)
            .order_by("residence__code", "code")
            .first()
        )
        household = m.Household.objects.create(
            organisation=self.organisation, name=f"Foyer {person.last_name}"
        )
        last = m.Lease.objects.filter(organisation=self.organisation).order_by("-reference").first()
        lease = m.Lease.objects.create(
            organisation=self.organisation,
            residence=unit.residence,
            unit=unit,
            household=household,
            reference=f"{int(last.reference) + 11:08d}",
            module_number="07",
            payment_method=m.PaymentMethod.DIRECT_DEBIT,
            start_date=self.today.replace(day=1) - timedelta(days=400),
        )
        m.Person.objects.create(
            household=household,
            role=m.Person.Role.SIGNATORY,
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            preferred_channel=m.Channel.EMAIL,
        )
        taken.add(household.pk)
        return lease

    def build(self):
        taken: set = set()
        # 1: active, two contracts in two agencies joined.
        lease, person = _pick(self.organisation, NORTH, taken, direct_debit=True)
        while not person.mobile:
            lease, person = _pick(self.organisation, NORTH, taken, direct_debit=True)
        main = self.account(1, lease, person, status=TenantAccount.Status.ACTIVE, mobile=True)
        self.consents(main, lease, paperless=True, commercial=False, general=True)
        self.papers(lease, person, Decimal("0.00"), Decimal("412.37"))
        parking = self.second_contract(person, taken)
        AccountHome.objects.create(account=main, household=parking.household, via="merge")
        self.papers(parking, person, Decimal("-35.00"), Decimal("38.50"))
        # 2: active in the South.
        lease, person = _pick(self.organisation, SOUTH, taken, direct_debit=False)
        second = self.account(2, lease, person, status=TenantAccount.Status.ACTIVE)
        self.consents(second, lease, paperless=False, commercial=True, general=True)
        self.papers(lease, person, Decimal("128.40"), Decimal("386.12"))
        # 3: pending.
        lease, person = _pick(self.organisation, NORTH, taken)
        self.account(3, lease, person, status=TenantAccount.Status.PENDING)
        # 4: departed last month, read-only.
        lease, person = _pick(self.organisation, NORTH, taken)
        end = self.today - timedelta(days=20)
        m.Lease.objects.filter(pk=lease.pk).update(end_date=end)
        departed = self.account(4, lease, person, status=TenantAccount.Status.DEPARTED)
        TenantAccount.objects.filter(pk=departed.pk).update(
            departed_at=timezone.make_aware(datetime.combine(end + timedelta(days=1), time(8)))
        )
        self.consents(departed, lease, paperless=False, commercial=False, general=False)
        self.papers(lease, person, Decimal("0.00"), Decimal("455.80"), last=end)
        # The agency's letters, with the demo password as their provisional secret.
        for identifier in LETTERS:
            lease, _person = _pick(self.organisation, NORTH, taken, need_email=False)
            ProvisionalCredential.objects.create(
                household=lease.household,
                identifier=identifier,
                secret_hash=self.password,
                batch=LETTER_BATCH,
                expires_at=self.now + timedelta(days=settings.TENANT_PROVISIONAL_DAYS),
            )


def build(organisation) -> None:
    _Builder(organisation).build()


def banner_lines() -> list[str]:
    """What `make run` prints about the tenant extranet (in French, like the extranet)."""
    main = TenantAccount.objects.filter(user__username=MAIN_USERNAME).first()
    if main is None:
        return []
    password = settings.DEMO_PASSWORD
    lines = [f"  Locataires (espace /locataire/, mot de passe\u00a0: {password})\u00a0:"]
    lines.append(f"    {main.email:<34} actif, deux contrats (agences Nord et Sud)")
    departed = TenantAccount.objects.filter(user__username=DEPARTED_USERNAME).first()
    if departed is not None:
        lines.append(f"    {departed.email:<34} parti récemment (espace en lecture seule)")
    found = newcomer(main.organisation)
    if found is not None:
        lines.append(
            f"  Locataire à activer\u00a0: référence {found.reference}, module {found.module}, "
            f"nom {found.surname}"
        )
    letter = (
        ProvisionalCredential.objects.filter(batch=LETTER_BATCH, used_at__isnull=True)
        .order_by("identifier")
        .first()
    )
    if letter is not None:
        lines.append(
            f"  Lettre de l’agence\u00a0: identifiant {letter.identifier}, "
            f"mot de passe provisoire {password}"
        )
    return [*lines, ""]
