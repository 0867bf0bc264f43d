"""Tenant accounts: activation (from the rent notice or provisional credentials), e-mail
verification, login by e-mail, verified mobile or contract reference, recovery, changes of
e-mail and password, consents, merges. Rules: docs/tenants.md.

Answers never reveal whether an account or a contract exists: an attempt that matches nothing
costs the same password-hash work as one that does, and a household that already has an
account gets the same screen as a new one, the explanation going by e-mail to the account's
address. Secrets sent by e-mail are never stored: a token row keeps a random nonce and the
SHA-256 of the link's secret, which only the server (SECRET_KEY) can rebuild to send it.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backend import jobs
from backend.accounts import passwords, throttle
from backend.accounts.models import (
    AccountHome,
    AccountToken,
    AuditRecord,
    Consent,
    ProvisionalCredential,
    Role,
    TenantAccount,
    User,
)
from backend.core.errors import ServiceError
from backend.core.text import normalise
from backend.estate import phones
from backend.estate.models import (
    Household,
    Lease,
    Organisation,
    PaymentMethod,
    Person,
    normalise_contract_reference,
)

# A hash computed when nothing matched, so that an unknown identifier costs the same work.
_DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def _burn(password: str) -> None:
    check_password(password or "x", _dummy_hash())


def _french(function):
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return function(*args, **kwargs)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


class Throttled(ServiceError):
    status = 429
    code = "throttled"


def _throttle(identifier: str, address: str) -> throttle.Attempt:
    attempt = throttle.Attempt(identifier, address)
    verdict = attempt.begin()
    if not verdict.allowed:
        minutes = max(1, int(verdict.retry_after.total_seconds() // 60) + 1)
        raise Throttled(
            ngettext(
                "Too many attempts. Try again in %(minutes)d minute, or recover your access by "
                "e-mail.",
                "Too many attempts. Try again in %(minutes)d minutes, or recover your access by "
                "e-mail.",
                minutes,
            )
            % {"minutes": minutes}
        )
    return attempt


def audit(
    action: str, *, organisation_id, actor=None, account=None, household=None, reason="", **detail
):
    return AuditRecord.objects.create(
        organisation_id=organisation_id,
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=(
            actor.display_name if actor is not None and actor.is_authenticated else _("The tenant")
        )
        if actor is not None
        else _("Ronde"),
        account=account,
        household=household,
        reason=reason[:500],
        detail=detail,
    )


# --- tokens ----------------------------------------------------------------------------------


def _secret(row: AccountToken, nonce: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"tenant-token:{row.purpose}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def _code(nonce: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"tenant-code:{nonce}".encode(), hashlib.sha256)
    return f"{int.from_bytes(digest.digest()[:4], 'big') % 1_000_000:06d}"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(account: TenantAccount, purpose: str, lifetime: timedelta, target: str = "") -> str:
    """A new single-use token (older unused ones of the same purpose stop working). Returns the
    nonce; the secret itself is rebuilt only to be sent."""
    now = timezone.now()
    AccountToken.objects.filter(account=account, purpose=purpose, used_at__isnull=True).update(
        used_at=now
    )
    nonce = secrets.token_urlsafe(24)
    row = AccountToken(
        account=account, purpose=purpose, target=target, expires_at=now + lifetime, nonce=nonce
    )
    raw = (
        _code(nonce)
        if purpose in (AccountToken.Purpose.MOBILE_CODE, AccountToken.Purpose.LOGIN_CODE)
        else _secret(row, nonce)
    )
    # The code is short: its hash is salted with the nonce's row, looked up by account.
    row.token_hash = _hash(f"{account.pk}:{purpose}:{raw}") if len(raw) == 6 else _hash(raw)
    row.save()
    return raw


def _use_token(raw: str, purpose: str) -> AccountToken:
    row = (
        AccountToken.objects.select_related("account__user", "account__organisation")
        .filter(token_hash=_hash(raw or ""), purpose=purpose)
        .first()
    )
    if row is None or row.used_at is not None:
        raise ServiceError(
            _("This link is not valid or was already used. Ask for a new one."),
            code="bad_link",
            status=400,
        )
    if row.expires_at <= timezone.now():
        raise ServiceError(
            _("This link has expired. Ask for a new one."), code="expired_link", status=400
        )
    claimed = AccountToken.objects.filter(pk=row.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not claimed:
        raise ServiceError(_("This link was already used."), code="bad_link", status=400)
    return row


def _link(name: str, raw: str) -> str:
    return settings.SITE_URL + reverse(name, args=[raw])


# --- e-mails (sent by a job: secrets never stored) ----------------------------------------------


def _send(account: TenantAccount, to: str, subject: str, body: str) -> None:
    jobs.enqueue(send_account_email, account.organisation_id, to, subject, body)


@jobs.job
def send_account_email(organisation_id: int, to: str, subject: str, body: str) -> None:
    from django.core.mail import EmailMessage

    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"X-Ronde-Organisation": str(organisation_id)},
    ).send()


def _landlord(account: TenantAccount) -> str:
    return account.organisation.name


@_french
def send_verification(
    account: TenantAccount, to: str | None = None, purpose=AccountToken.Purpose.VERIFY_EMAIL
) -> None:
    to = to or account.email
    issue_token(account, purpose, timedelta(hours=settings.TENANT_VERIFY_HOURS), target=to)
    _send_token(account, purpose)


def _send_token(account: TenantAccount, purpose: str) -> None:
    """Queue the e-mail of the account's live token of this purpose: the job builds the link
    (only the token's id travels in the job's row)."""
    row = (
        AccountToken.objects.filter(account=account, purpose=purpose, used_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    jobs.enqueue(send_token_email, row.pk)


@jobs.job
def send_token_email(token_id: int) -> None:
    from django.core.mail import EmailMessage

    row = (
        AccountToken.objects.select_related("account__organisation")
        .filter(pk=token_id, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if row is None:
        return  # used, replaced or expired meanwhile: nothing to send
    account = row.account
    raw = _secret(row, row.nonce)
    with translation.override(settings.LANGUAGE_CODE):
        landlord = _landlord(account)
        if row.purpose == AccountToken.Purpose.RESET_PASSWORD:
            to = account.email
            subject = _("Choose a new password — %(landlord)s") % {"landlord": landlord}
            body = _(
                "Hello,\n\nTo choose a new password, open this link (valid %(minutes)d "
                "minutes, once):\n\n%(link)s\n\nIf you did not ask for it, ignore this "
                "message: your password does not change.\n\n%(landlord)s"
            ) % {
                "minutes": settings.TENANT_RESET_MINUTES,
                "link": _link("tenants:reset", raw),
                "landlord": landlord,
            }
        else:
            to = row.target or account.email
            subject = _("Confirm your e-mail address — %(landlord)s") % {"landlord": landlord}
            body = _(
                "Hello,\n\nTo activate your tenant account, confirm your e-mail address by "
                "opening this link (valid %(hours)d hours, once):\n\n%(link)s\n\nIf you did "
                "not ask for it, ignore this message: nothing will be activated.\n\n%(landlord)s"
            ) % {
                "hours": settings.TENANT_VERIFY_HOURS,
                "link": _link("tenants:verify", raw),
                "landlord": landlord,
            }
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"X-Ronde-Organisation": str(account.organisation_id)},
    ).send()


@_french
def _send_already(account: TenantAccount) -> None:
    if account.status not in (TenantAccount.Status.ACTIVE, TenantAccount.Status.DEPARTED):
        return  # a closed account is sent nothing
    login = settings.SITE_URL + reverse("tenants:login")
    forgot = settings.SITE_URL + reverse("tenants:forgot-password")
    _send(
        account,
        account.email,
        _("You already have a tenant account — %(landlord)s") % {"landlord": _landlord(account)},
        _(
            "Hello,\n\nSomeone (probably you) tried to create a tenant account for your home, "
            "which already has one with this address. Log in here:\n%(login)s\n\nForgot your "
            "password? Ask for a new one:\n%(forgot)s\n\n%(landlord)s"
        )
        % {"login": login, "forgot": forgot, "landlord": _landlord(account)},
    )


# --- activation ------------------------------------------------------------------------------------


@dataclass
class Choices:
    paperless: bool = False
    commercial: bool = False
    general: bool = False
    accept_terms: bool = False


@dataclass
class Activation:
    """What a screen shows after an activation attempt: always the same for a match, whether
    or not the household already had an account."""

    email: str
    account_id: int | None = None
    notes: list = field(default_factory=list)


def _check_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": [_("Enter a valid e-mail address.")]}) from None
    return email


def _names_of(person: Person | None) -> list[str]:
    return [person.first_name, person.last_name] if person else []


def _check_new_password(password: str, confirm: str, email: str, person: Person | None) -> None:
    errors = {}
    try:
        passwords.validate(password, email=email, names=_names_of(person))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if password != confirm:
        errors.setdefault("confirm", []).append(_("The two passwords differ."))
    if errors:
        raise ValidationError(errors)


def _matching_lease(organisation: Organisation, reference: str, module: str, surname: str):
    reference = normalise_contract_reference(reference)
    wanted = normalise(surname)
    lease = (
        Lease.objects.current()
        .filter(organisation=organisation, reference=reference)
        .select_related("household", "residence__agency")
        .first()
    )
    if lease is None or normalise(lease.module_number) != normalise(module):
        return None, None
    people = list(lease.household.people.all())
    person = next(
        (
            p
            for p in sorted(people, key=lambda p: p.role != Person.Role.SIGNATORY)
            if p.role in (Person.Role.SIGNATORY, Person.Role.CO_SIGNATORY)
            and wanted
            and normalise(p.last_name) == wanted
        ),
        None,
    )
    return (lease, person) if person else (None, None)


def _record_choices(account, household, person, choices: Choices, source: str, lease=None):
    now = timezone.now()
    rows = [
        Consent(
            account=account,
            household=household,
            person=person,
            kind=kind,
            granted=value,
            version=version,
            source=source,
            at=now,
        )
        for kind, value, version in (
            (Consent.Kind.TERMS, True, settings.TENANT_TERMS_VERSION),
            (Consent.Kind.PRIVACY, True, settings.TENANT_PRIVACY_VERSION),
            (Consent.Kind.COMMERCIAL, choices.commercial, settings.TENANT_CONSENT_VERSION),
            (Consent.Kind.GENERAL, choices.general, settings.TENANT_CONSENT_VERSION),
        )
    ]
    direct_debit = lease is not None and lease.payment_method == PaymentMethod.DIRECT_DEBIT
    rows.append(
        Consent(
            account=account,
            household=household,
            person=person,
            kind=Consent.Kind.PAPERLESS,
            granted=bool(choices.paperless and direct_debit),
            version=settings.TENANT_CONSENT_VERSION,
            source=source,
            at=now,
        )
    )
    Consent.objects.bulk_create(rows)
    apply_to_messaging(person, choices.commercial, choices.general)


def apply_to_messaging(person: Person | None, commercial: bool, general: bool) -> None:
    """Consents act on messaging at once: a "no" is an opt-out of that purpose by e-mail (the
    question asked), a "yes" lifts an opt-out the extranet had set."""
    from messaging.models import Channel, OptOut, Purpose

    if person is None:
        return
    for purpose, granted in ((Purpose.COMMERCIAL, commercial), (Purpose.INFORMATION, general)):
        if granted:  # only the extranet's own "no": an unsubscribe link or a STOP stays
            OptOut.objects.filter(
                person=person,
                purpose=purpose,
                channel=Channel.EMAIL,
                source=OptOut.Source.EXTRANET,
            ).delete()
        else:
            OptOut.objects.get_or_create(
                person=person,
                purpose=purpose,
                channel=Channel.EMAIL,
                defaults={"source": OptOut.Source.EXTRANET},
            )


def _create_account(
    organisation, person, household, email, password, via, lease, choices
) -> TenantAccount:
    user = User(
        username=f"tenant-{secrets.token_hex(8)}",
        role=Role.TENANT,
        organisation=organisation,
        email=email,
        first_name=person.first_name if person else "",
        last_name=person.last_name if person else "",
    )
    user.set_password(password)
    user.save()
    account = TenantAccount.objects.create(
        user=user,
        organisation=organisation,
        person=person,
        current_household=household,
        email=email,
    )
    AccountHome.objects.create(account=account, household=household, via=via)
    _record_choices(account, household, person, choices, "activation", lease)
    audit(
        "activation_started",
        organisation_id=organisation.pk,
        account=account,
        household=household,
        via=via,
    )
    return account


def _open_account(
    organisation, person, household, email, password, via, lease, choices, pending
) -> Activation:
    """Create the account and send its verification (in the caller's transaction). A pending
    account of the same person is replaced (a fixed address); an address that is already
    another account's gets the same answer here and an e-mail to that account."""
    if pending is not None:
        pending.user.delete()
    try:
        with transaction.atomic():  # a savepoint: PostgreSQL aborts the whole transaction else
            account = _create_account(
                organisation, person, household, email, password, via, lease, choices
            )
    except IntegrityError:
        other = TenantAccount.objects.filter(organisation=organisation, email=email).first()
        if other is not None:
            _send_already(other)
        return Activation(email=email)
    send_verification(account)
    return Activation(email=email, account_id=account.pk)


@_french
def activate_from_notice(
    organisation: Organisation,
    *,
    reference: str,
    module: str,
    surname: str,
    email: str,
    password: str,
    confirm: str,
    choices: Choices,
    address: str = "",
) -> Activation:
    """Activation with the rent notice's contract reference and module number and the
    signatory's surname. The password is checked first (it says nothing about the contract)."""
    errors = {}
    try:
        email = _check_email(email)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not choices.accept_terms:
        errors["accept_terms"] = [_("Accept the terms of use and the privacy policy to continue.")]
    if not (reference or "").strip() or not (module or "").strip() or not (surname or "").strip():
        errors["reference"] = [
            _("Fill in the contract reference, the module number and the surname.")
        ]
    try:
        _check_new_password(password, confirm, email, None)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    attempt = _throttle(f"activation:{normalise_contract_reference(reference)}", address)
    lease, person = _matching_lease(organisation, reference, module, surname)
    if lease is None:
        _burn(password)
        raise ValidationError(
            {
                "reference": [
                    _(
                        "These details match no home: check the contract reference (digits, "
                        "without the L), the module number and the surname on your rent notice."
                    )
                ]
            }
        )
    try:
        _check_new_password(password, confirm, email, person)  # now with the tenant's names
    except ValidationError:
        attempt.succeeded()
        raise
    attempt.succeeded()
    with transaction.atomic():
        existing = (
            TenantAccount.objects.select_related("organisation")
            .filter(person=person)
            .exclude(status__in=[TenantAccount.Status.ANONYMISED, TenantAccount.Status.DEACTIVATED])
            .first()
        )
        if existing is not None and existing.status != TenantAccount.Status.PENDING:
            make_password(password)  # the same work as a creation
            _send_already(existing)
            audit(
                "activation_existing",
                organisation_id=organisation.pk,
                account=existing,
                household=lease.household,
            )
            return Activation(email=email)
        return _open_account(
            organisation,
            person,
            lease.household,
            email,
            password,
            "notice",
            lease,
            choices,
            existing,
        )


@_french
def check_provisional(
    organisation: Organisation, identifier: str, secret: str, address: str = ""
) -> ProvisionalCredential:
    """Step 1 with the agency's letter. Unknown or wrong: the same answer and the same work."""
    identifier = (identifier or "").strip().upper()
    attempt = _throttle(f"provisional:{identifier}", address)
    credential = (
        ProvisionalCredential.objects.select_related("household")
        .filter(identifier=identifier, household__organisation=organisation)
        .first()
    )
    ok = credential is not None and check_password(secret or "", credential.secret_hash)
    if credential is None:
        _burn(secret)
    if not ok or credential.used_at is not None or credential.expires_at <= timezone.now():
        raise ValidationError(
            {
                "identifier": [
                    _(
                        "These provisional credentials are not valid (wrong, already used or "
                        "expired). Ask your agency for new ones."
                    )
                ]
            }
        )
    attempt.succeeded()
    return credential


# Step 1 of the letter's activation gives a ticket that step 2 brings back (the API has no
# other memory between the two; the pages keep the credential in the session instead).
PROVISIONAL_TICKET_MINUTES = 15
_TICKET_SALT = "ronde.tenant.provisional-ticket"


def provisional_ticket(credential: ProvisionalCredential) -> str:
    """A signed, short-lived ticket naming the checked credential (not its secret)."""
    return signing.dumps({"credential": credential.pk}, salt=_TICKET_SALT)


@_french
def credential_from_ticket(ticket: str) -> ProvisionalCredential:
    """The credential of a ticket still fresh and not used since; else the same refusal."""
    refusal = ServiceError(
        _("This step has expired: enter your provisional credentials again."),
        code="bad_ticket",
        status=400,
    )
    try:
        data = signing.loads(
            ticket or "", salt=_TICKET_SALT, max_age=PROVISIONAL_TICKET_MINUTES * 60
        )
    except signing.BadSignature:
        raise refusal from None
    credential = (
        ProvisionalCredential.objects.select_related("household")
        .filter(
            pk=data.get("credential") if isinstance(data, dict) else None,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if credential is None:
        raise refusal
    return credential


@_french
def activate_from_provisional(
    credential: ProvisionalCredential, *, email: str, password: str, confirm: str, choices: Choices
) -> Activation:
    """Step 2 with the agency's letter: the address that becomes the identifier, a password,
    the terms and consents. The credentials are used up once the e-mail is verified."""
    household = credential.household
    lease = Lease.objects.current().filter(household=household).select_related("residence").first()
    person = household.people.filter(role=Person.Role.SIGNATORY).first() or household.people.first()
    errors = {}
    try:
        email = _check_email(email)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not choices.accept_terms:
        errors["accept_terms"] = [_("Accept the terms of use and the privacy policy to continue.")]
    try:
        _check_new_password(password, confirm, email, person)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    organisation = household.organisation
    with transaction.atomic():
        existing = (
            TenantAccount.objects.filter(person=person)
            .exclude(status__in=[TenantAccount.Status.ANONYMISED, TenantAccount.Status.DEACTIVATED])
            .first()
            if person
            else None
        )
        if existing is not None and existing.status != TenantAccount.Status.PENDING:
            _send_already(existing)
            return Activation(email=email)
        return _open_account(
            organisation,
            person,
            household,
            email,
            password,
            "provisional",
            lease,
            choices,
            existing,
        )


@_french
def resend_verification(account_id: int) -> None:
    account = (
        TenantAccount.objects.select_related("organisation")
        .filter(pk=account_id, status=TenantAccount.Status.PENDING)
        .first()
    )
    if account is not None:
        with transaction.atomic():
            send_verification(account)


@_french
def restart_activation(account_id: int) -> None:
    """Start again (a mistyped address): the pending account is removed, nothing else."""
    account = (
        TenantAccount.objects.filter(pk=account_id, status=TenantAccount.Status.PENDING)
        .select_related("user")
        .first()
    )
    if account is not None:
        with transaction.atomic():
            audit(
                "activation_restarted",
                organisation_id=account.organisation_id,
                household=account.current_household,
            )
            account.user.delete()


@_french
def verify_email(raw: str) -> TenantAccount:
    """The link of the verification e-mail (or of a new address): single use, expiring."""
    with transaction.atomic():
        purpose = (
            AccountToken.objects.filter(
                token_hash=_hash(raw or ""),
                purpose__in=[AccountToken.Purpose.VERIFY_EMAIL, AccountToken.Purpose.CHANGE_EMAIL],
            )
            .values_list("purpose", flat=True)
            .first()
        )
        row = _use_token(raw, purpose or AccountToken.Purpose.VERIFY_EMAIL)
        account = row.account
        if row.purpose == AccountToken.Purpose.CHANGE_EMAIL:
            return _take_new_email(account, row.target)
        if account.status != TenantAccount.Status.PENDING or row.target != account.email:
            raise ServiceError(
                _("This link is not valid or was already used. Ask for a new one."), code="bad_link"
            )
        account.status = TenantAccount.Status.ACTIVE
        account.activated_at = timezone.now()
        account.save(update_fields=["status", "activated_at"])
        ProvisionalCredential.objects.filter(
            household__in=account.households.all(), used_at__isnull=True
        ).update(used_at=timezone.now())
        audit(
            "activated",
            organisation_id=account.organisation_id,
            account=account,
            household=account.current_household,
        )
        welcome(account)
    return account


def welcome(account: TenantAccount) -> None:
    """The welcome message, personalised per agency or residence (template key
    `bienvenue-extranet`, messaging's rules), else Ronde's default."""
    from messaging.services import Contact, Texts, notify_contacts, resolve_template, template_texts

    lease = (
        Lease.objects.current()
        .filter(household=account.current_household)
        .select_related("residence")
        .first()
    )
    residence = lease.residence if lease else None
    template = resolve_template("bienvenue-extranet", residence) if residence else None
    texts = template_texts(template) if template else None
    if texts is None or not texts.wants_email:
        login = settings.SITE_URL + reverse("tenants:login")
        texts = Texts(
            email_subject=_("Welcome to your tenant space"),
            email_text=_(
                "Hello {{ prenom }},\n\nYour tenant account is active. Log in with your e-mail "
                "address: %(login)s\n\nYou will find your documents, your requests and your "
                "choices about the messages we send you.\n\n{{ agence }}"
            )
            % {"login": login},
        )
    notify_contacts(
        [Contact(account.user.first_name, account.email)],
        title=_("Welcome to the tenant space"),
        texts=Texts(
            email_subject=texts.email_subject,
            email_text=texts.email_text,
            email_html=texts.email_html,
        ),
        residence=residence,
        organisation_id=account.organisation_id,
        extra={
            "prenom": account.user.first_name,
            "agence": residence.agency.name if residence else "",
        },
    )


# --- login -------------------------------------------------------------------------------------


def _candidates(organisation: Organisation, identifier: str) -> list[TenantAccount]:
    value = (identifier or "").strip()
    accounts = (
        TenantAccount.objects.select_related("user")
        .filter(organisation=organisation)
        .exclude(status=TenantAccount.Status.ANONYMISED)
    )
    if "@" in value:
        return list(accounts.filter(email=value.lower())[:1])
    digits = normalise_contract_reference(value)
    found = []
    if digits.isdigit():
        try:
            mobile = phones.parse_mobile(value, "FR")
        except ValidationError:
            mobile = ""
        if mobile:
            found = list(accounts.filter(mobile=mobile, mobile_verified_at__isnull=False)[:1])
        if not found:
            households = Lease.objects.filter(organisation=organisation, reference=digits).values(
                "household_id"
            )
            found = list(accounts.filter(homes__household_id__in=households).distinct()[:4])
    return found


def canonical_identifier(identifier: str) -> str:
    """One spelling per identifier, for the throttle's counters: "L/10 010 000", "l10010000"
    and "10010000" count together, and so do "06 12 34 56 78" and "+33612345678"."""
    value = (identifier or "").strip().lower()
    if "@" in value:
        return value
    try:
        return phones.parse_mobile(value, "FR")
    except ValidationError:
        return normalise_contract_reference(value).lower()


@_french
def authenticate(
    organisation: Organisation, identifier: str, password: str, address: str = ""
) -> TenantAccount:
    """The tenant's preferred identifier (e-mail, verified mobile, or contract reference) and
    password. Throttled per identifier and address (CNIL case 2); never a permanent lock."""
    attempt = _throttle(f"tenant:{canonical_identifier(identifier)}", address)
    accounts = _candidates(organisation, identifier)
    matched = None
    for account in accounts:
        if account.user.check_password(password or ""):
            matched = matched or account
    if not accounts:
        _burn(password)
    if matched is not None and matched.status == TenantAccount.Status.DEACTIVATED:
        # Said only to whoever typed the right password, who learns nothing a login would
        # not tell; a wrong one gets the same answer as for an unknown identifier.
        attempt.succeeded()
        raise ServiceError(
            _(
                "This account is closed (you left your home, or it was not used for a long "
                "time). To get a tenant space again, contact your agency."
            ),
            code="closed",
            status=403,
        )
    if (
        matched is None
        or matched.status
        not in (
            TenantAccount.Status.ACTIVE,
            TenantAccount.Status.DEPARTED,
            TenantAccount.Status.PENDING,
        )
        or not matched.user.is_active
    ):
        raise ValidationError({"__all__": [_("Incorrect identifier or password.")]})
    attempt.succeeded()
    if matched.status == TenantAccount.Status.PENDING:
        raise ServiceError(
            _(
                "Your e-mail address is not verified yet: open the link we sent you, or ask for a new one."
            ),
            code="pending",
        )
    TenantAccount.objects.filter(pk=matched.pk).update(
        last_seen_at=timezone.now(), inactivity_warned_at=None
    )
    return matched


# --- recovery -------------------------------------------------------------------------------------


def _recent(account: TenantAccount, purpose: str, limit: int = 5) -> bool:
    since = timezone.now() - timedelta(hours=1)
    return (
        AccountToken.objects.filter(account=account, purpose=purpose, created_at__gte=since).count()
        >= limit
    )


@_french
def forgot_password(organisation: Organisation, identifier: str) -> None:
    """Always the same answer; a reset link goes to the account's address (never throttled by
    the login counters, at most 5 an hour so that nobody floods a mailbox)."""
    accounts = _candidates(organisation, identifier)
    for account in accounts:
        if account.status not in (
            TenantAccount.Status.ACTIVE,
            TenantAccount.Status.DEPARTED,
        ) or _recent(account, AccountToken.Purpose.RESET_PASSWORD):
            continue
        with transaction.atomic():
            issue_token(
                account,
                AccountToken.Purpose.RESET_PASSWORD,
                timedelta(minutes=settings.TENANT_RESET_MINUTES),
            )
            _send_token(account, AccountToken.Purpose.RESET_PASSWORD)


@_french
def forgot_identifier(organisation: Organisation, reference: str, surname: str) -> None:
    """Contract reference and surname: the account's identifier goes to its address."""
    reference = normalise_contract_reference(reference)
    wanted = normalise(surname)
    accounts = (
        TenantAccount.objects.select_related("person", "organisation")
        .filter(
            organisation=organisation,
            homes__household__leases__reference=reference,
            status__in=[TenantAccount.Status.ACTIVE, TenantAccount.Status.DEPARTED],
        )
        .distinct()
    )
    for account in accounts:
        if account.person is None or normalise(account.person.last_name) != wanted:
            continue
        _send(
            account,
            account.email,
            _("Your identifier — %(landlord)s") % {"landlord": _landlord(account)},
            _(
                "Hello,\n\nYour tenant account's identifier is this e-mail address: %(email)s. "
                "You may also log in with your contract reference%(mobile)s.\n\n%(login)s\n\n%(landlord)s"
            )
            % {
                "email": account.email,
                "mobile": _(" or your mobile number") if account.mobile_verified_at else "",
                "login": settings.SITE_URL + reverse("tenants:login"),
                "landlord": _landlord(account),
            },
        )


@_french
def reset_password(raw: str, password: str, confirm: str) -> TenantAccount:
    with transaction.atomic():
        row = (
            AccountToken.objects.select_related("account__user", "account__person")
            .filter(token_hash=_hash(raw or ""), purpose=AccountToken.Purpose.RESET_PASSWORD)
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= timezone.now():
            raise ServiceError(
                _("This link is not valid, was already used or has expired. Ask for a new one."),
                code="bad_link",
            )
        account = row.account
        if account.status not in (
            TenantAccount.Status.ACTIVE,
            TenantAccount.Status.DEPARTED,
        ):  # closed: no recovery, whatever link is left
            raise ServiceError(
                _("This link is not valid, was already used or has expired. Ask for a new one."),
                code="bad_link",
            )
        _check_new_password(password, confirm, account.email, account.person)
        _use_token(raw, AccountToken.Purpose.RESET_PASSWORD)
        user = account.user
        user.set_password(password)
        user.session_salt = secrets.token_hex(16)  # every other device is logged out
        user.save(update_fields=["password", "session_salt"])
        identifiers = {account.email, account.mobile} | set(
            Lease.objects.filter(household__account_homes__account=account).values_list(
                "reference", flat=True
            )
        )
        for identifier in filter(None, identifiers):
            throttle.LoginFailure.objects.filter(
                key__startswith=f"tenant:{canonical_identifier(identifier)}|"
            ).delete()
        audit("password_reset", organisation_id=account.organisation_id, account=account)
    return account


# --- profile --------------------------------------------------------------------------------------


def ensure_writable(account: TenantAccount) -> None:
    """Every write of the tenant's own (profile, consents, merge, insurance, new request,
    mobile) calls this first: a departed account's space is read-only."""
    if account.status != TenantAccount.Status.ACTIVE:
        raise ServiceError(
            _("Your space is read-only since your departure."), code="read_only", status=403
        )


_writable = check_writable = ensure_writable


def _reauthenticate(account: TenantAccount, password: str, field: str, address: str = "") -> None:
    """The current password asked again (change of password or e-mail, merge): throttled like
    a login, so that a session left open does not let anyone guess it."""
    attempt = _throttle(f"reauth:{account.pk}", address)
    if not account.user.check_password(password or ""):
        raise ValidationError({field: [_("Your current password is not this one.")]})
    attempt.succeeded()


@_french
def change_password(account: TenantAccount, old: str, password: str, confirm: str) -> None:
    check_writable(account)
    _reauthenticate(account, old, "old")
    _check_new_password(password, confirm, account.email, account.person)
    user = account.user
    user.set_password(password)
    user.save(update_fields=["password"])
    audit("password_changed", organisation_id=account.organisation_id, account=account, actor=user)


@_french
def request_email_change(account: TenantAccount, new_email: str, password: str) -> None:
    """The new address is verified before it takes over; the old one is told."""
    check_writable(account)
    new_email = _check_email(new_email)
    _reauthenticate(account, password, "password")
    if new_email == account.email:
        raise ValidationError({"email": [_("This is already your address.")]})
    with transaction.atomic():
        TenantAccount.objects.filter(pk=account.pk).update(pending_email=new_email)
        send_verification(account, to=new_email, purpose=AccountToken.Purpose.CHANGE_EMAIL)


def _take_new_email(account: TenantAccount, new_email: str) -> TenantAccount:
    if account.pending_email != new_email or account.status != TenantAccount.Status.ACTIVE:
        raise ServiceError(
            _("This link is not valid or was already used. Ask for a new one."), code="bad_link"
        )
    old = account.email
    account.email, account.pending_email = new_email, ""
    try:
        with transaction.atomic():
            account.save(update_fields=["email", "pending_email"])
    except IntegrityError:
        raise ServiceError(
            _("This address is already used by another account."), code="taken"
        ) from None
    User.objects.filter(pk=account.user_id).update(email=new_email)
    audit("email_changed", organisation_id=account.organisation_id, account=account)
    _send(
        account,
        old,
        _("Your e-mail address was changed — %(landlord)s") % {"landlord": _landlord(account)},
        _(
            "Hello,\n\nThe e-mail address of your tenant account is now %(new)s. If you did not "
            "ask for it, call your agency at once.\n\n%(landlord)s"
        )
        % {"new": new_email, "landlord": _landlord(account)},
    )
    return account


@_french
def start_mobile(account: TenantAccount, raw_mobile: str) -> None:
    """A login mobile: verified by a 6-digit code sent by SMS before it can be used."""
    from messaging.services import Contact, Texts, notify_contacts

    check_writable(account)
    try:
        mobile = phones.parse_mobile(raw_mobile, "FR")
    except ValidationError as exc:
        raise ValidationError({"mobile": exc.messages}) from None
    if (
        TenantAccount.objects.filter(organisation_id=account.organisation_id, mobile=mobile)
        .exclude(pk=account.pk)
        .exists()
    ):
        raise ValidationError({"mobile": [_("This number is already used by another account.")]})
    with transaction.atomic():
        code = issue_token(
            account,
            AccountToken.Purpose.MOBILE_CODE,
            timedelta(minutes=settings.TENANT_CODE_MINUTES),
            target=mobile,
        )
        notify_contacts(
            [Contact("", mobile=mobile)],
            title=_("Mobile verification code"),
            texts=Texts(
                sms_body=_("Your verification code: %(code)s (valid %(minutes)d minutes).")
                % {"code": code, "minutes": settings.TENANT_CODE_MINUTES}
            ),
            organisation_id=account.organisation_id,
        )


@_french
def confirm_mobile(account: TenantAccount, code: str) -> None:
    _writable(account)
    row = (
        AccountToken.objects.filter(
            account=account,
            purpose=AccountToken.Purpose.MOBILE_CODE,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )
    if row is None:
        raise ValidationError({"code": [_("Ask for a new code.")]})
    if row.attempts >= 5:
        row.used_at = timezone.now()
        row.save(update_fields=["used_at"])
        raise ValidationError({"code": [_("Too many wrong codes: ask for a new one.")]})
    if not hmac.compare_digest(
        row.token_hash, _hash(f"{account.pk}:{row.purpose}:{(code or '').strip()}")
    ):
        AccountToken.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
        raise ValidationError({"code": [_("This code is not the right one.")]})
    with transaction.atomic():
        AccountToken.objects.filter(pk=row.pk).update(used_at=timezone.now())
        try:
            TenantAccount.objects.filter(pk=account.pk).update(
                mobile=row.target, mobile_verified_at=timezone.now()
            )
        except IntegrityError:
            raise ValidationError(
                {"mobile": [_("This number is already used by another account.")]}
            ) from None
        audit("mobile_verified", organisation_id=account.organisation_id, account=account)


def current_consents(household_id: int) -> dict:
    latest = {}
    for consent in Consent.objects.filter(household_id=household_id).order_by("-at", "-id"):
        latest.setdefault(consent.kind, consent)
    return latest


@_french
def update_consents(
    account: TenantAccount, choices: Choices, actor=None, source: str = "profile"
) -> None:
    check_writable(account) if actor is None or actor == account.user else None
    household = account.current_household
    lease = Lease.objects.current().filter(household=household).first()
    if choices.paperless and (lease is None or lease.payment_method != PaymentMethod.DIRECT_DEBIT):
        raise ValidationError(
            {
                "paperless": [
                    _("The paperless rent notice is offered to leases paid by direct debit only.")
                ]
            }
        )
    now = timezone.now()
    latest = current_consents(household.pk)
    rows = []
    for kind, value in (
        (Consent.Kind.PAPERLESS, choices.paperless),
        (Consent.Kind.COMMERCIAL, choices.commercial),
        (Consent.Kind.GENERAL, choices.general),
    ):
        if kind not in latest or latest[kind].granted != value:
            rows.append(
                Consent(
                    account=account,
                    household=household,
                    person=account.person,
                    kind=kind,
                    granted=value,
                    version=settings.TENANT_CONSENT_VERSION,
                    source=source,
                    at=now,
                )
            )
    with transaction.atomic():
        Consent.objects.bulk_create(rows)
        apply_to_messaging(account.person, choices.commercial, choices.general)


# --- several homes --------------------------------------------------------------------------------


@_french
def merge(
    account: TenantAccount,
    *,
    identifier: str,
    secret: str = "",
    reference: str = "",
    module: str = "",
    surname: str = "",
    password: str = "",
    address: str = "",
) -> Household:
    """Add another contract to this login (the same landlord; any of its agencies): with that
    home's provisional credentials, or its rent notice, and this account's password."""
    check_writable(account)
    _reauthenticate(account, password, "password", address)
    if identifier:
        credential = check_provisional(account.organisation, identifier, secret, address)
        household, lease = (
            credential.household,
            Lease.objects.current().filter(household=credential.household).first(),
        )
    else:
        attempt = _throttle(f"activation:{normalise_contract_reference(reference)}", address)
        lease, other = _matching_lease(account.organisation, reference, module, surname)
        if lease is not None and (
            account.person is None
            or normalise(other.last_name) != normalise(account.person.last_name)
        ):
            lease = None  # a contract in someone else's name is not joined
        if lease is None:
            raise ValidationError(
                {
                    "reference": [
                        _(
                            "These details match no home: check the contract reference (digits, without the L), the module number and the surname on your rent notice."
                        )
                    ]
                }
            )
        attempt.succeeded()
        household = lease.household
    with transaction.atomic():
        AccountHome.objects.get_or_create(
            account=account, household=household, defaults={"via": "merge"}
        )
        if identifier:
            ProvisionalCredential.objects.filter(identifier=identifier.strip().upper()).update(
                used_at=timezone.now()
            )
        audit(
            "merged",
            organisation_id=account.organisation_id,
            account=account,
            household=household,
            actor=account.user,
        )
    return household


def switch_home(account: TenantAccount, household_id: int) -> Household:
    home = account.homes.select_related("household").filter(household_id=household_id).first()
    if home is None:
        raise ValidationError({"household": [_("This home is not one of yours.")]})
    TenantAccount.objects.filter(pk=account.pk).update(current_household=home.household)
    account.current_household = home.household
    return home.household


def homes_of(account: TenantAccount):
    return Household.objects.filter(account_homes__account=account).prefetch_related(
        "leases__unit__entrance__building", "leases__residence__agency"
    )


def visible_requests(account: TenantAccount):
    """The tenant's own requests: those of the household being read."""
    from tickets.models import Request

    return Request.objects.filter(household=account.current_household).filter(
        Q(person__isnull=True) | Q(person__household=account.current_household)
    )
