"""The tenant extranet's API, at /api/tenant/: the same flows as the pages (tenant_views.py,
tenant_space.py, tenant_extras.py), for an app. Thin: every rule lives in the services
(tenancy.py, tenant_extras.py); this module only maps JSON to them and back.

Authentication: the tenant's Django session (`TenantSessionAuth`); the public endpoints
(activation, verification, login, recovery, help) say `auth=None`. A staff session or an API
token is refused here (401), as a tenant's session is on the staff endpoints.

CSRF: django-ninja marks all its views csrf-exempt and checks the token only inside its
cookie authentications (SessionAuth with csrf=True), so an endpoint with `auth=None` is not
protected at all, and a session login without the token would allow login CSRF. This router
therefore checks Django's CSRF token itself on every unsafe method (POST, PUT), public
endpoints included, before anything else runs: the same rule as the pages. An app first calls
GET /session, which sets the `csrftoken` cookie and returns the token, then sends it in the
`X-CSRFToken` header; /login returns the new token (Django rotates it at login).

Answers never reveal whether an account or a contract exists (the services' rule): the
activation answers the same for a new and an existing account, the recoveries answer the same
for a known and an unknown identifier.
"""

import functools
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.contrib.auth import update_session_auth_hash
from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile
from ninja.utils import check_csrf

from backend.accounts import passwords, tenancy, tenant_extras
from backend.accounts.auth import TenantSessionAuth, is_tenant_user
from backend.accounts.forms import client_address
from backend.accounts.models import Consent, HouseholdBalance, HouseholdDocument
from backend.accounts.tenant_space import mask
from backend.accounts.tenant_views import (
    PENDING_KEY,
    current_account,
    end_session,
    organisation_of,
    start_session,
)
from backend.api import ERRORS, ErrorOut, error_response
from backend.core.errors import ServiceError
from backend.estate.models import Lease, PaymentMethod

ALL_ERRORS = {**ERRORS, 429: ErrorOut}


def _csrf_on_writes(run):
    """Django's CSRF check on every unsafe method, public endpoints included (see above)."""

    @functools.wraps(run)
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and check_csrf(request):
            return error_response(
                request,
                403,
                "csrf_failed",
                _("Security token missing or expired: reload the page and try again."),
            )
        return run(request, *args, **kwargs)

    return wrapper


router = Router(auth=TenantSessionAuth(csrf=True))
router.add_decorator(_csrf_on_writes, mode="view")


def _organisation(request):
    organisation = organisation_of(request)
    if organisation is None:
        raise ServiceError(
            _(
                "Give the codes of your landlord (client and company) from the link your "
                "agency gave you."
            ),
            code="landlord_unknown",
        )
    return organisation


# --- schemas ----------------------------------------------------------------------------------


class MessageOut(Schema):
    message: str


class OrganisationOut(Schema):
    code: str
    name: str


class SessionOut(Schema):
    csrf_token: str
    logged_in: bool
    organisation: OrganisationOut | None = None


class ChoicesIn(Schema):
    paperless: bool = False
    commercial: bool = False
    general: bool = False


class TermsIn(ChoicesIn):
    accept_terms: bool = False

    def choices(self) -> tenancy.Choices:
        return tenancy.Choices(
            paperless=self.paperless,
            commercial=self.commercial,
            general=self.general,
            accept_terms=self.accept_terms,
        )


class NoticeActivationIn(TermsIn):
    reference: str = Field(..., max_length=30)
    module: str = Field(..., max_length=20)
    surname: str = Field(..., max_length=100)
    email: str = Field(..., max_length=254)
    password: str = Field(..., max_length=128)
    confirm: str = Field(..., max_length=128)


class ActivationOut(Schema):
    email: str
    message: str


class ProvisionalIn(Schema):
    identifier: str = Field(..., max_length=20)
    secret: str = Field(..., max_length=64)


class TicketOut(Schema):
    ticket: str
    expires_in: int = Field(..., description="Seconds.")


class SecureIn(TermsIn):
    ticket: str = Field(..., max_length=500)
    email: str = Field(..., max_length=254)
    password: str = Field(..., max_length=128)
    confirm: str = Field(..., max_length=128)


class TokenIn(Schema):
    token: str = Field(..., max_length=200)


class VerifiedOut(Schema):
    email: str
    message: str


class LoginIn(Schema):
    identifier: str = Field(..., max_length=254)
    password: str = Field(..., max_length=128)
    remember: bool = False


class LogoutIn(Schema):
    everywhere: bool = False


class IdentifierIn(Schema):
    identifier: str = Field(..., max_length=254)


class ForgotIdentifierIn(Schema):
    reference: str = Field(..., max_length=30)
    surname: str = Field(..., max_length=100)


class ResetIn(Schema):
    token: str = Field(..., max_length=200)
    password: str = Field(..., max_length=128)
    confirm: str = Field(..., max_length=128)


class PasswordCheckIn(Schema):
    password: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    surname: str = Field("", max_length=100)


class RuleOut(Schema):
    key: str
    ok: bool
    label: str


class ChecklistOut(Schema):
    rules: list[RuleOut]


class BalanceOut(Schema):
    amount: Decimal
    as_of: date


class HomeOut(Schema):
    id: int
    name: str
    current: bool
    contract: str
    residence: str
    unit: str
    agency: str
    agency_phone: str
    start_date: date | None
    end_date: date | None
    balance: BalanceOut | None


class MeOut(Schema):
    email: str
    pending_email: str
    mobile: str
    mobile_verified: bool
    first_name: str
    last_name: str
    status: str
    read_only: bool
    activated_at: datetime | None
    home: HomeOut | None


class LoginOut(Schema):
    csrf_token: str
    me: MeOut


class ChangePasswordIn(Schema):
    old: str = Field(..., max_length=128)
    password: str = Field(..., max_length=128)
    confirm: str = Field(..., max_length=128)


class ChangeEmailIn(Schema):
    email: str = Field(..., max_length=254)
    password: str = Field(..., max_length=128)


class MobileIn(Schema):
    mobile: str = Field(..., max_length=20)


class CodeIn(Schema):
    code: str = Field(..., max_length=6)


class ConsentOut(Schema):
    kind: str
    label: str
    granted: bool
    version: str
    source: str
    at: datetime


class ConsentsOut(Schema):
    paperless: bool
    commercial: bool
    general: bool
    paperless_offered: bool = Field(..., description="Leases paid by direct debit only.")
    history: list[ConsentOut]


class SwitchIn(Schema):
    household_id: int


class MergeIn(Schema):
    identifier: str = Field("", max_length=20)
    secret: str = Field("", max_length=64)
    reference: str = Field("", max_length=30)
    module: str = Field("", max_length=20)
    surname: str = Field("", max_length=100)
    password: str = Field(..., max_length=128)


class MergeOut(Schema):
    household_id: int
    name: str
    message: str


class RequestOut(Schema):
    id: UUID
    reference: str
    category: str
    category_label: str
    status: str
    status_label: str
    place: str
    description: str
    created_at: datetime


class EventOut(Schema):
    at: datetime
    kind: str
    kind_label: str
    status: str
    text: str
    told: str
    by: str


class RequestDetailOut(RequestOut):
    agency: str
    agency_phone: str
    events: list[EventOut]


class NewRequestIn(Schema):
    category: str = Field(..., max_length=20)
    place: str = Field("unit", description="“unit” (in my home) or “entrance” (common areas).")
    description: str = Field(..., max_length=4000)


class DocumentOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    period: date | None
    is_demo: bool
    imported_at: datetime


class InsuranceIn(Schema):
    insurer: str = Field("", max_length=200)
    valid_until: date


class InsuranceOut(Schema):
    id: int
    insurer: str
    valid_until: date
    message: str


class HelpIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    contact: str = Field(..., min_length=1, max_length=254)
    contract_reference: str = Field("", max_length=30)
    message: str = Field(..., min_length=1, max_length=4000)


# --- session, activation, verification ----------------------------------------------------------


@router.get("/session", auth=None, response={200: SessionOut, **ALL_ERRORS})
def session(request):
    """The CSRF token (also set as the `csrftoken` cookie) and whether a tenant is logged in.
    `?client=CODE&societe=CODE` (the agency's link) chooses the landlord for this session."""
    organisation = organisation_of(request)
    return {
        "csrf_token": get_token(request),
        "logged_in": is_tenant_user(request.user),
        "organisation": organisation,
    }


def _pending(request, result: tenancy.Activation) -> dict:
    request.session[PENDING_KEY] = {"id": result.account_id, "email": result.email}
    return {
        "email": result.email,
        "message": _(
            "An e-mail was sent to %(email)s. Open it and follow the link to activate your account."
        )
        % {"email": result.email},
    }


@router.post("/activation", auth=None, response={200: ActivationOut, **ALL_ERRORS})
def activate(request, payload: NoticeActivationIn):
    """With the rent notice: contract reference, module number, the signatory's surname. The
    same answer whether or not the household already has an account."""
    result = tenancy.activate_from_notice(
        _organisation(request),
        reference=payload.reference,
        module=payload.module,
        surname=payload.surname,
        email=payload.email,
        password=payload.password,
        confirm=payload.confirm,
        choices=payload.choices(),
        address=client_address(request),
    )
    return _pending(request, result)


@router.post("/activation/provisional", auth=None, response={200: TicketOut, **ALL_ERRORS})
def activate_provisional(request, payload: ProvisionalIn):
    """Step 1 with the agency's letter: the provisional credentials give a short-lived ticket."""
    credential = tenancy.check_provisional(
        _organisation(request), payload.identifier, payload.secret, client_address(request)
    )
    return {
        "ticket": tenancy.provisional_ticket(credential),
        "expires_in": tenancy.PROVISIONAL_TICKET_MINUTES * 60,
    }


@router.post(
    "/activation/provisional/secure", auth=None, response={200: ActivationOut, **ALL_ERRORS}
)
def secure(request, payload: SecureIn):
    """Step 2 with the ticket: the e-mail that becomes the identifier, a password, the terms."""
    credential = tenancy.credential_from_ticket(payload.ticket)
    result = tenancy.activate_from_provisional(
        credential,
        email=payload.email,
        password=payload.password,
        confirm=payload.confirm,
        choices=payload.choices(),
    )
    return _pending(request, result)


def _pending_id(request):
    pending = request.session.get(PENDING_KEY)
    if not pending:
        raise ServiceError(
            _("No activation is waiting in this session: start it again."), code="nothing_pending"
        )
    return pending.get("id")


@router.post("/activation/resend", auth=None, response={200: MessageOut, **ALL_ERRORS})
def resend(request):
    """The verification e-mail again (the previous link stops working)."""
    account_id = _pending_id(request)
    if account_id:
        tenancy.resend_verification(account_id)
    return {"message": _("A new e-mail is on its way.")}


@router.post("/activation/restart", auth=None, response={200: MessageOut, **ALL_ERRORS})
def restart(request):
    """Start again (a mistyped address): the pending account is removed."""
    account_id = _pending_id(request)
    if account_id:
        tenancy.restart_activation(account_id)
    request.session.pop(PENDING_KEY, None)
    return {"message": _("Start again with the right address.")}


@router.post("/verify", auth=None, response={200: VerifiedOut, **ALL_ERRORS})
def verify(request, payload: TokenIn):
    """The token of a verification link (`/locataire/verifier/<token>/`): activates the
    account, or confirms a new address."""
    account = tenancy.verify_email(payload.token)
    request.session.pop(PENDING_KEY, None)
    return {
        "email": account.email,
        "message": _("Your e-mail address is confirmed. Log in with it and your password."),
    }


# --- login and recovery --------------------------------------------------------------------------


@router.post("/login", auth=None, response={200: LoginOut, **ALL_ERRORS})
def login(request, payload: LoginIn):
    """E-mail, verified mobile or contract reference, and the password. Throttled (429)."""
    account = tenancy.authenticate(
        _organisation(request), payload.identifier, payload.password, client_address(request)
    )
    start_session(request, account, payload.remember)
    return {"csrf_token": get_token(request), "me": _me(current_account(request))}


@router.post("/logout", response={200: MessageOut, **ALL_ERRORS})
def logout(request, payload: LogoutIn):
    end_session(request, payload.everywhere)
    return {
        "message": _("You are logged out of every device.")
        if payload.everywhere
        else _("You are logged out.")
    }


def _forgot_sent() -> dict:
    return {
        "message": _(
            "If these details match an account, an e-mail is on its way to its address. It may "
            "take a few minutes; look in the spam folder too."
        )
    }


@router.post("/password/forgot", auth=None, response={200: MessageOut, **ALL_ERRORS})
def forgot_password(request, payload: IdentifierIn):
    """The same answer for a known and an unknown identifier."""
    tenancy.forgot_password(_organisation(request), payload.identifier)
    return _forgot_sent()


@router.post("/identifier/forgot", auth=None, response={200: MessageOut, **ALL_ERRORS})
def forgot_identifier(request, payload: ForgotIdentifierIn):
    tenancy.forgot_identifier(_organisation(request), payload.reference, payload.surname)
    return _forgot_sent()


@router.post("/password/reset", auth=None, response={200: MessageOut, **ALL_ERRORS})
def reset_password(request, payload: ResetIn):
    """The token of a reset link (`/locataire/reinitialiser/<token>/`) and the new password:
    every other device is logged out, the login delays are lifted."""
    tenancy.reset_password(payload.token, payload.password, payload.confirm)
    return {"message": _("Your password is changed. Log in with it.")}


@router.post("/password/check", auth=None, response={200: ChecklistOut, **ALL_ERRORS})
def password_check(request, payload: PasswordCheckIn):
    """The live checklist beside a new password field: the server's own rules (a POST, so that
    the password stays out of URLs and logs)."""
    rules = passwords.check(payload.password, email=payload.email, names=[payload.surname])
    return {"rules": [{"key": r.key, "ok": r.ok, "label": r.message} for r in rules]}


@router.post("/help", auth=None, response={200: MessageOut, **ALL_ERRORS})
def help_request(request, payload: HelpIn):
    """ "Need help to log in?": a message to the agency's advisors (no account needed)."""
    tenant_extras.send_help(_organisation(request), client_address(request), **payload.dict())
    return {"message": _("Thank you: an advisor of your agency will answer you.")}


# --- the tenant's own space ------------------------------------------------------------------------


def _home(account, household, lease) -> dict:
    balance = HouseholdBalance.objects.filter(household=household).first()
    residence = lease.residence if lease else None
    return {
        "id": household.pk,
        "name": household.name,
        "current": household.pk == account.current_household_id,
        "contract": (mask(lease.reference) if account.read_only else lease.reference)
        if lease
        else "",
        "residence": residence.name if residence else "",
        "unit": str(lease.unit) if lease else "",
        "agency": residence.agency.name if residence else "",
        "agency_phone": residence.agency.phone if residence else "",
        "start_date": lease.start_date if lease else None,
        "end_date": lease.end_date if lease else None,
        "balance": {"amount": balance.amount, "as_of": balance.as_of} if balance else None,
    }


def _lease_of(household):
    return (
        Lease.objects.filter(household=household)
        .select_related("unit__entrance__building", "residence__agency")
        .order_by("-start_date")
        .first()
    )


def _me(account) -> dict:
    household = account.current_household
    return {
        "email": account.email,
        "pending_email": account.pending_email,
        "mobile": account.mobile if account.mobile_verified_at else "",
        "mobile_verified": bool(account.mobile_verified_at),
        "first_name": account.user.first_name,
        "last_name": account.user.last_name,
        "status": account.status,
        "read_only": account.read_only,
        "activated_at": account.activated_at,
        "home": _home(account, household, _lease_of(household)) if household else None,
    }


@router.get("/me", response={200: MeOut, **ALL_ERRORS})
def me(request):
    return _me(current_account(request))


@router.post("/me/password", response={200: MessageOut, **ALL_ERRORS})
def change_password(request, payload: ChangePasswordIn):
    """The current password and the new one; this device stays logged in."""
    account = current_account(request)
    tenancy.change_password(account, payload.old, payload.password, payload.confirm)
    update_session_auth_hash(request, account.user)
    return {"message": _("Your password is changed.")}


@router.post("/me/email", response={200: MessageOut, **ALL_ERRORS})
def change_email(request, payload: ChangeEmailIn):
    """The new address takes over once its link is followed (POST /verify)."""
    tenancy.request_email_change(current_account(request), payload.email, payload.password)
    return {
        "message": _("Open the link sent to your new address: it replaces the old one only then.")
    }


@router.post("/me/mobile", response={200: MessageOut, **ALL_ERRORS})
def start_mobile(request, payload: MobileIn):
    tenancy.start_mobile(current_account(request), payload.mobile)
    return {"message": _("A code was sent by text message: type it below.")}


@router.post("/me/mobile/confirm", response={200: MessageOut, **ALL_ERRORS})
def confirm_mobile(request, payload: CodeIn):
    tenancy.confirm_mobile(current_account(request), payload.code)
    return {"message": _("Your mobile number is verified: you may log in with it.")}


def _consents(account) -> dict:
    household = account.current_household
    latest = tenancy.current_consents(household.pk)
    lease = Lease.objects.current().filter(household=household).first()
    history = Consent.objects.filter(household=household).order_by("-at", "-id")[:30]
    return {
        **{
            kind: bool(latest.get(kind) and latest[kind].granted)
            for kind in ("paperless", "commercial", "general")
        },
        "paperless_offered": lease is not None
        and lease.payment_method == PaymentMethod.DIRECT_DEBIT,
        "history": [
            {
                "kind": c.kind,
                "label": c.get_kind_display(),
                "granted": c.granted,
                "version": c.version,
                "source": c.source,
                "at": c.at,
            }
            for c in history
        ],
    }


@router.get("/me/consents", response={200: ConsentsOut, **ALL_ERRORS})
def consents(request):
    return _consents(current_account(request))


@router.put("/me/consents", response={200: ConsentsOut, **ALL_ERRORS})
def update_consents(request, payload: ChoicesIn):
    """The three answers at once; they apply to messaging at once."""
    account = current_account(request)
    tenancy.update_consents(
        account,
        tenancy.Choices(
            paperless=payload.paperless, commercial=payload.commercial, general=payload.general
        ),
        actor=account.user,
    )
    return _consents(account)


@router.get("/me/homes", response={200: list[HomeOut], **ALL_ERRORS})
def homes(request):
    account = current_account(request)
    return [_home(account, h, _lease_of(h)) for h in tenancy.homes_of(account).order_by("pk")]


@router.post("/me/homes/switch", response={200: MeOut, **ALL_ERRORS})
def switch_home(request, payload: SwitchIn):
    account = current_account(request)
    tenancy.switch_home(account, payload.household_id)
    return _me(account)


@router.post("/me/merge", response={200: MergeOut, **ALL_ERRORS})
def merge(request, payload: MergeIn):
    """Add another contract of the same landlord: its provisional credentials, or its rent
    notice, and this account's password."""
    household = tenancy.merge(
        current_account(request), **payload.dict(), address=client_address(request)
    )
    return {
        "household_id": household.pk,
        "name": household.name,
        "message": _("Accounts joined: %(home)s is now in your homes.") % {"home": household.name},
    }


def _request(r) -> dict:
    return {
        "id": r.pk,
        "reference": r.reference,
        "category": r.category,
        "category_label": r.get_category_display(),
        "status": r.status,
        "status_label": r.get_status_display(),
        "place": r.place,
        "description": r.description,
        "created_at": r.created_at,
    }


@router.get("/me/requests", response={200: list[RequestOut], **ALL_ERRORS})
def requests(request):
    """The current home's requests, newest first."""
    account = current_account(request)
    found = tenancy.visible_requests(account).select_related("residence", "unit")
    return [_request(r) for r in found.order_by("-created_at")[:100]]


@router.get("/me/requests/{uuid:request_id}", response={200: RequestDetailOut, **ALL_ERRORS})
def request_detail(request, request_id: UUID):
    """One request and its timeline, without the staff-only lines; another household's
    request is "not found"."""
    obj, events = tenant_extras.request_of(current_account(request), request_id)
    return {
        **_request(obj),
        "agency": obj.residence.agency.name,
        "agency_phone": obj.residence.agency.phone,
        "events": [
            {
                "at": e.at,
                "kind": e.kind,
                "kind_label": e.get_kind_display(),
                "status": e.status,
                "text": e.text,
                "told": e.told,
                "by": e.author_label,
            }
            for e in events
        ],
    }


@router.post("/me/requests", response={201: RequestDetailOut, **ALL_ERRORS})
def new_request(request, payload: Form[NewRequestIn], photo: File[UploadedFile] = None):
    """A new request (multipart form, an optional photo), registered with the channel
    "portal"; its reference is sent to the tenant at once."""
    account = current_account(request)
    created = tenant_extras.submit_request(
        account,
        category=payload.category,
        place=payload.place,
        description=payload.description,
        photo=photo,
    )
    return Status(201, request_detail(request, created.pk))


def _document(d: HouseholdDocument) -> dict:
    return {
        "id": d.pk,
        "kind": d.kind,
        "kind_label": d.get_kind_display(),
        "title": d.title,
        "period": d.period,
        "is_demo": d.is_demo,
        "imported_at": d.imported_at,
    }


@router.get("/me/documents", response={200: list[DocumentOut], **ALL_ERRORS})
def documents(request):
    """The current home's documents, as last imported from the landlord's ERP."""
    account = current_account(request)
    found = HouseholdDocument.objects.filter(household=account.current_household)
    return [_document(d) for d in found[:100]]


@router.get("/me/documents/{int:document_id}", response={200: None, **ALL_ERRORS})
def document(request, document_id: int):
    """The file itself (an attachment); another household's document is "not found"."""
    return tenant_extras.document_response(
        tenant_extras.document_of(current_account(request), document_id)
    )


@router.post("/me/insurance", response={201: InsuranceOut, **ALL_ERRORS})
def insurance(request, payload: Form[InsuranceIn], file: File[UploadedFile]):
    """The home-insurance certificate (multipart: PDF, JPEG or PNG, 10 MB at most)."""
    certificate = tenant_extras.save_insurance(
        current_account(request), file, payload.insurer, payload.valid_until
    )
    return Status(
        201,
        {
            "id": certificate.pk,
            "insurer": certificate.insurer,
            "valid_until": certificate.valid_until,
            "message": _("Thank you: your certificate is sent to your agency."),
        },
    )


@router.get("/me/data", response={200: dict, **ALL_ERRORS})
def my_data(request):
    """Everything the account holds about the tenant (an access request, recorded)."""
    return tenant_extras.export_for(current_account(request))
