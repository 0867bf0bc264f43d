"""The tenant's space: home, profile (identifiers, password, mobile, devices), consents,
several homes. Read-only after the departure, sensitive data masked."""

import functools

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from backend.accounts import tenancy
from backend.accounts import tenant_forms as forms
from backend.accounts.auth import is_tenant_user
from backend.accounts.forms import client_address
from backend.accounts.models import Consent
from backend.accounts.tenant_views import current_account
from backend.core.errors import ServiceError
from backend.estate.models import Lease, PaymentMethod


def tenant_required(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_tenant_user(request.user):
            return redirect("tenants:login")
        account = current_account(request)
        return view(request, account, *args, **kwargs)

    return wrapper


def writable(view):
    """A write from a read-only space (departed) is refused before the form is read: back to
    the page, which no longer shows the form, with the reason. The services refuse too
    (tenancy.ensure_writable), whoever calls them."""

    @functools.wraps(view)
    def wrapper(request, account, *args, **kwargs):
        if request.method == "POST":
            try:
                tenancy.ensure_writable(account)
            except ServiceError as exc:
                flash.error(request, exc.message)
                return redirect(request.path)
        return view(request, account, *args, **kwargs)

    return wrapper


def _fail(request, form, exc):
    if isinstance(exc, ValidationError):
        forms.attach(form, exc)
    else:
        flash.error(request, exc.message)


def mask(value: str) -> str:
    """Sensitive data after the departure: the first and last characters only."""
    if not value:
        return ""
    if len(value) <= 4:
        return "•" * len(value)
    return value[:2] + "•" * (len(value) - 4) + value[-2:]


@tenant_required
def space(request, account):
    household = account.current_household
    lease = (
        Lease.objects.filter(household=household)
        .select_related("unit__entrance__building", "residence__agency")
        .order_by("-start_date")
        .first()
    )
    consents = tenancy.current_consents(household.pk) if household else {}
    shown = mask if account.read_only else str
    context = {
        "account": account,
        "household": household,
        "lease": lease,
        "people": [
            f"{shown(p.first_name)} {shown(p.last_name)}"
            for p in (household.people.all() if household else [])
        ],
        "homes": [(h.pk, shown(h.name)) for h in tenancy.homes_of(account)],
        "consents": [consents.get(kind) for kind in Consent.Kind.values if kind in consents],
        "read_only": account.read_only,
        "reference": shown(lease.reference) if lease else "",
    }
    from backend.accounts import lifecycle, tenant_extras

    context.update(tenant_extras.space_context(account))
    if account.read_only:
        context["closes_on"] = lifecycle.closes_on(account)
        if context.get("balance") is not None:
            context["balance_amount"] = "•••"
    elif context.get("balance") is not None:
        context["balance_amount"] = context["balance"].amount
    return render(request, "tenants/space.html", context)


@tenant_required
@require_POST
def switch(request, account):
    try:
        tenancy.switch_home(account, request.POST.get("household"))
    except (ValidationError, ValueError):
        flash.error(request, _("This home is not one of yours."))
    return redirect("tenants:space")


@tenant_required
@writable
@require_http_methods(["GET", "POST"])
def profile(request, account):
    post = request.POST if request.method == "POST" else None
    action = request.POST.get("action") if post else None
    password_form = forms.ChangePasswordForm(post if action == "password" else None, prefix="pw")
    email_form = forms.ChangeEmailForm(post if action == "email" else None, prefix="em")
    mobile_form = forms.MobileForm(post if action == "mobile" else None, prefix="mo")
    code_form = forms.CodeForm(post if action == "code" else None, prefix="co")
    try:
        if action == "password" and password_form.is_valid():
            data = password_form.cleaned_data
            tenancy.change_password(account, data["old"], data["password"], data["confirm"])
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, account.user)
            flash.success(request, _("Your password is changed."))
            return redirect("tenants:profile")
        if action == "email" and email_form.is_valid():
            tenancy.request_email_change(
                account, email_form.cleaned_data["email"], email_form.cleaned_data["password"]
            )
            flash.success(
                request,
                _("Open the link sent to your new address: it replaces the old one only then."),
            )
            return redirect("tenants:profile")
        if action == "mobile" and mobile_form.is_valid():
            tenancy.start_mobile(account, mobile_form.cleaned_data["mobile"])
            flash.success(request, _("A code was sent by text message: type it below."))
            return redirect("tenants:profile")
        if action == "code" and code_form.is_valid():
            tenancy.confirm_mobile(account, code_form.cleaned_data["code"])
            flash.success(request, _("Your mobile number is verified: you may log in with it."))
            return redirect("tenants:profile")
    except ValidationError as exc:
        target = {"password": password_form, "email": email_form, "mobile": mobile_form}.get(
            action, code_form
        )
        forms.attach(target, exc)
    except ServiceError as exc:
        flash.error(request, exc.message)
    return render(
        request,
        "tenants/profile.html",
        {
            "account": account,
            "password_form": password_form,
            "email_form": email_form,
            "mobile_form": mobile_form,
            "code_form": code_form,
            "read_only": account.read_only,
            "email_shown": mask(account.email) if account.read_only else account.email,
            "mobile_shown": mask(account.mobile) if account.read_only else account.mobile,
        },
    )


@tenant_required
@writable
@require_http_methods(["GET", "POST"])
def consents(request, account):
    household = account.current_household
    latest = tenancy.current_consents(household.pk)
    initial = {
        kind: "yes" if latest.get(kind) and latest[kind].granted else "no"
        for kind in ("paperless", "commercial", "general")
    }
    form = forms.ConsentsForm(request.POST or None, initial=initial)
    lease = Lease.objects.current().filter(household=household).first()
    direct_debit = lease is not None and lease.payment_method == PaymentMethod.DIRECT_DEBIT
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tenancy.update_consents(
                account,
                tenancy.Choices(
                    paperless=data["paperless"] == "yes",
                    commercial=data["commercial"] == "yes",
                    general=data["general"] == "yes",
                ),
                actor=account.user,
            )
        except (ValidationError, ServiceError) as exc:
            _fail(request, form, exc)
        else:
            flash.success(request, _("Your choices are saved and apply at once."))
            return redirect("tenants:consents")
    history = Consent.objects.filter(household=household).order_by("-at", "-id")[:30]
    return render(
        request,
        "tenants/consents.html",
        {
            "form": form,
            "history": history,
            "direct_debit": direct_debit,
            "read_only": account.read_only,
        },
    )


@tenant_required
@writable
@require_http_methods(["GET", "POST"])
def merge(request, account):
    form = forms.MergeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            household = tenancy.merge(
                account,
                identifier=data["identifier"],
                secret=data["secret"],
                reference=data["reference"],
                module=data["module"],
                surname=data["surname"],
                password=data["password"],
                address=client_address(request),
            )
        except (ValidationError, ServiceError) as exc:
            _fail(request, form, exc)
        else:
            flash.success(
                request,
                _("Accounts joined: %(home)s is now in your homes.") % {"home": household.name},
            )
            return redirect("tenants:space")
    return render(request, "tenants/merge.html", {"form": form, "read_only": account.read_only})
