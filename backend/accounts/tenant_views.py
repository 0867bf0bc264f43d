"""The tenant extranet's pages (French, phone-first): activation, verification, login and
recovery, profile, consents, merged homes. The tenant's space itself (documents, requests,
insurance, data) is in tenant_space.py. Rules: docs/tenants.md."""

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts import passwords, tenancy
from backend.accounts import tenant_forms as forms
from backend.accounts.auth import is_tenant_user
from backend.accounts.forms import client_address
from backend.accounts.models import TenantAccount
from backend.core.errors import ServiceError
from backend.estate.models import Agency, Organisation

PENDING_KEY = "tenant_pending_account"
PROVISIONAL_KEY = "tenant_provisional"
ORGANISATION_KEY = "tenant_organisation"


def organisation_of(request) -> Organisation | None:
    """The landlord: from the link the agency gave (?client=CODE&societe=CODE), remembered in
    the session; the only one when the deployment serves one landlord."""
    code = request.GET.get("client")
    if code:
        found = Organisation.objects.filter(code=code.strip().upper()).first()
        if found is not None:
            company = request.GET.get("societe")
            if company and not Agency.objects.filter(organisation=found, code=company).exists():
                found = None
        if found is not None:
            request.session[ORGANISATION_KEY] = found.pk
            return found
    pk = request.session.get(ORGANISATION_KEY)
    if pk:
        found = Organisation.objects.filter(pk=pk).first()
        if found is not None:
            return found
    only = list(Organisation.objects.all()[:2])
    return only[0] if len(only) == 1 else None


def _needs_organisation(request):
    return redirect("tenants:codes")


def _fail(form, exc):
    if isinstance(exc, ValidationError):
        forms.attach(form, exc)
    else:
        form.add_error(None, exc.message)


@require_GET
def welcome(request):
    if is_tenant_user(request.user):
        return redirect("tenants:space")
    organisation_of(request)
    return render(request, "tenants/welcome.html")


@require_http_methods(["GET", "POST"])
def codes(request):
    """Client and company codes, when the deployment serves several landlords."""
    error = ""
    if request.method == "POST":
        organisation = Organisation.objects.filter(
            code=request.POST.get("client", "").strip().upper()
        ).first()
        company = request.POST.get("societe", "").strip()
        if organisation and Agency.objects.filter(organisation=organisation, code=company).exists():
            request.session[ORGANISATION_KEY] = organisation.pk
            return redirect("tenants:welcome")
        error = _("These codes are unknown: copy them from the link your agency gave you.")
    return render(request, "tenants/codes.html", {"error": error})


@require_http_methods(["GET", "POST"])
def activate(request):
    organisation = organisation_of(request)
    if organisation is None:
        return _needs_organisation(request)
    form = forms.NoticeActivationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = tenancy.activate_from_notice(
                organisation,
                reference=data["reference"],
                module=data["module"],
                surname=data["surname"],
                email=data["email"],
                password=data["password"],
                confirm=data["confirm"],
                choices=form.choices(),
                address=client_address(request),
            )
        except (ValidationError, ServiceError) as exc:
            _fail(form, exc)
        else:
            request.session[PENDING_KEY] = {"id": result.account_id, "email": result.email}
            return redirect("tenants:sent")
    return render(request, "tenants/activate.html", {"form": form})


@require_http_methods(["GET", "POST"])
def activate_provisional(request):
    organisation = organisation_of(request)
    if organisation is None:
        return _needs_organisation(request)
    form = forms.ProvisionalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credential = tenancy.check_provisional(
                organisation,
                form.cleaned_data["identifier"],
                form.cleaned_data["secret"],
                client_address(request),
            )
        except (ValidationError, ServiceError) as exc:
            _fail(form, exc)
        else:
            request.session[PROVISIONAL_KEY] = credential.pk
            return redirect("tenants:secure")
    return render(request, "tenants/provisional.html", {"form": form})


@require_http_methods(["GET", "POST"])
def secure(request):
    """Step 2 with the agency's letter: e-mail, password, terms and consents."""
    from backend.accounts.models import ProvisionalCredential

    credential = (
        ProvisionalCredential.objects.select_related("household")
        .filter(
            pk=request.session.get(PROVISIONAL_KEY),
            used_at__isnull=True,
            expires_at__gt=timezone.now(),  # replaced or expired since step 1: start again
        )
        .first()
    )
    if credential is None:
        return redirect("tenants:provisional")
    person = credential.household.people.order_by("role").first()
    initial = {"email": person.email} if person and person.email else {}
    form = forms.SecureAccountForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = tenancy.activate_from_provisional(
                credential,
                email=data["email"],
                password=data["password"],
                confirm=data["confirm"],
                choices=form.choices(),
            )
        except (ValidationError, ServiceError) as exc:
            _fail(form, exc)
        else:
            request.session.pop(PROVISIONAL_KEY, None)
            request.session[PENDING_KEY] = {"id": result.account_id, "email": result.email}
            return redirect("tenants:sent")
    return render(request, "tenants/secure.html", {"form": form})


@require_http_methods(["GET", "POST"])
def sent(request):
    """ "Check your e-mail": resend, or start again to fix the address."""
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return redirect("tenants:welcome")
    if request.method == "POST":
        if request.POST.get("action") == "resend":
            if pending.get("id"):
                tenancy.resend_verification(pending["id"])
            flash.success(request, _("A new e-mail is on its way."))
            return redirect("tenants:sent")
        if request.POST.get("action") == "restart":
            if pending.get("id"):
                tenancy.restart_activation(pending["id"])
            request.session.pop(PENDING_KEY, None)
            flash.info(request, _("Start again with the right address."))
            return redirect("tenants:activate")
    return render(
        request,
        "tenants/sent.html",
        {"email": pending.get("email", ""), "demo": settings.DEMO_MODE},
    )


@require_GET
def verify(request, token):
    try:
        account = tenancy.verify_email(token)
    except ServiceError as exc:
        return render(request, "tenants/link_invalid.html", {"message": exc.message}, status=400)
    request.session.pop(PENDING_KEY, None)
    return render(request, "tenants/verified.html", {"account": account})


@require_http_methods(["GET", "POST"])
def login_view(request):
    organisation = organisation_of(request)
    if organisation is None:
        return _needs_organisation(request)
    if is_tenant_user(request.user):
        return redirect("tenants:space")
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = tenancy.authenticate(
                organisation, data["identifier"], data["password"], client_address(request)
            )
        except (ValidationError, ServiceError) as exc:
            _fail(form, exc)
        else:
            start_session(request, account, bool(data.get("remember")))
            return redirect("tenants:space")
    return render(request, "tenants/login.html", {"form": form})


def start_session(request, account: TenantAccount, remember: bool) -> None:
    """Log the tenant in: until the browser closes, or TENANT_REMEMBER_DAYS when asked."""
    login(request, account.user, backend="backend.accounts.backends.ModelBackendWithOrganisation")
    request.session.set_expiry(settings.TENANT_REMEMBER_DAYS * 86400 if remember else 0)


def end_session(request, everywhere: bool) -> None:
    """Log out this device, or every device (the others' sessions stop matching)."""
    if everywhere and is_tenant_user(request.user):
        request.user.log_out_everywhere()
    logout(request)


@require_POST
def logout_view(request):
    everywhere = request.POST.get("everywhere") == "1"
    end_session(request, everywhere)
    flash.success(
        request,
        _("You are logged out of every device.") if everywhere else _("You are logged out."),
    )
    return redirect("tenants:login")


@require_http_methods(["GET", "POST"])
def forgot_password(request):
    organisation = organisation_of(request)
    if organisation is None:
        return _needs_organisation(request)
    form = forms.IdentifierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenancy.forgot_password(organisation, form.cleaned_data["identifier"])
        return render(request, "tenants/forgot_sent.html")
    return render(request, "tenants/forgot_password.html", {"form": form})


@require_http_methods(["GET", "POST"])
def forgot_identifier(request):
    organisation = organisation_of(request)
    if organisation is None:
        return _needs_organisation(request)
    form = forms.ForgotIdentifierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenancy.forgot_identifier(
            organisation, form.cleaned_data["reference"], form.cleaned_data["surname"]
        )
        return render(request, "tenants/forgot_sent.html")
    return render(request, "tenants/forgot_identifier.html", {"form": form})


@require_http_methods(["GET", "POST"])
def reset(request, token):
    form = forms.NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenancy.reset_password(
                token, form.cleaned_data["password"], form.cleaned_data["confirm"]
            )
        except ServiceError as exc:
            return render(
                request, "tenants/link_invalid.html", {"message": exc.message}, status=400
            )
        except ValidationError as exc:
            forms.attach(form, exc)
        else:
            flash.success(request, _("Your password is changed. Log in with it."))
            return redirect("tenants:login")
    return render(request, "tenants/reset.html", {"form": form})


@require_POST
def password_check(request):
    """The live checklist beside a new password field (the same rules as the server's)."""
    rules = passwords.check(
        request.POST.get("password", "")[:200],
        email=request.POST.get("email", "")[:254],
        names=[request.POST.get("surname", "")[:100]],
    )
    return JsonResponse({"rules": [{"key": r.key, "ok": r.ok, "label": r.message} for r in rules]})


def current_account(request) -> TenantAccount:
    if not is_tenant_user(request.user):
        raise Http404
    account = (
        TenantAccount.objects.select_related("user", "person", "organisation", "current_household")
        .filter(user=request.user)
        .first()
    )
    if account is None or account.status not in (
        TenantAccount.Status.ACTIVE,
        TenantAccount.Status.DEPARTED,
    ):
        raise Http404
    return account
