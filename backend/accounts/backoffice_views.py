"""The extranet's back office pages, under /extranet/ (advisors, managers, administrators):
households by activation status, a household's accounts and history with the advisor's
actions, reminders, adoption figures, printed letters, the consents export, help requests.
The rules live in backend.accounts.backoffice; these views only read forms and show results."""

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts import backoffice as bo
from backend.accounts.models import ProvisionalCredential, TenantAccount
from backend.accounts.scoping import scoped
from backend.core.errors import ServiceError
from backend.core.text import french_csv
from backend.estate.models import Agency, Lease, Residence


def _number(value) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _places(user):
    return {
        "agencies": scoped(user, Agency).order_by("name").only("pk", "name"),
        "residences": scoped(user, Residence)
        .select_related("agency")
        .order_by("agency__name", "name")
        .only("pk", "name", "agency__name"),
    }


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return exc.message


# --- households --------------------------------------------------------------------------------


@login_required
@require_GET
def households(request):
    user = request.user
    bo.require_backoffice(user)
    filters = bo.HouseholdFilters.from_params(request.GET)
    counts = bo.status_counts(bo.filtered_households(user, filters))
    page = Paginator(bo.household_list(user, filters), 30).get_page(request.GET.get("page"))
    for found in page:
        found.activation_label = bo.Activation.LABELS[found.activation]
    return render(
        request,
        "extranet/households.html",
        {
            "page": page,
            "filters": filters,
            "counts": [
                (key, bo.Activation.LABELS[key], counts[key]) for key in bo.Activation.ORDER
            ],
            "total": sum(counts.values()),
            "statuses": bo.Activation.choices(),
            "labels": bo.Activation.LABELS,
            **_places(user),
        },
    )


ACTIONS = {"close", "paper", "restart", "throttle"}


@login_required
@require_http_methods(["GET", "POST"])
def household(request, pk):
    user = request.user
    found = bo.household_or_404(user, pk)
    errors, values = {}, {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        account_id = request.POST.get("account", "")
        reason = request.POST.get("reason", "")
        key = f"{action}-{account_id}" if account_id else action
        try:
            if action == "close":
                bo.close_account(user, found.pk, account_id, reason)
                flash.success(request, _("The account is closed."))
            elif action == "paper":
                bo.back_to_paper(user, found.pk, reason)
                flash.success(request, _("The household is back to paper rent notices."))
            elif action == "restart":
                bo.restart_activation(user, found.pk, account_id, reason)
                flash.success(
                    request, _("The pending account is removed: the tenant can start again.")
                )
            elif action == "throttle":
                count = bo.lift_throttle(user, found.pk, reason)
                flash.success(
                    request,
                    _("Login throttle lifted (%(count)d failed attempts removed).")
                    % {"count": count},
                )
            else:
                flash.error(request, _("Unknown action."))
        except ValidationError as exc:
            errors[key] = _message(exc)
            values[key] = reason
        except ServiceError as exc:
            flash.error(request, exc.message)
        if not errors:
            return redirect("extranet:household", pk=found.pk)
    return render(
        request, "extranet/household.html", _household_context(user, found, errors, values)
    )


def _household_context(user, found, errors, values):
    from backend.accounts.tenancy import current_consents

    accounts = list(
        TenantAccount.objects.filter(homes__household=found)
        .select_related("person")
        .order_by("created_at")
    )
    leases = (
        Lease.objects.filter(household=found, residence__in=scoped(user, Residence))
        .select_related("unit__entrance__building", "residence__agency")
        .order_by("-start_date")
    )
    consents = current_consents(found.pk)
    status = bo.with_activation(bo.households_in_scope(user).filter(pk=found.pk)).values_list(
        "activation", flat=True
    )[0]
    credentials = (
        ProvisionalCredential.objects.filter(household=found)
        .select_related("created_by")
        .order_by("-created_at")
    )
    history = [
        {
            "at": record.at,
            "label": bo.action_label(record.action),
            "by": record.actor_label,
            "reason": record.reason,
        }
        for record in bo.household_history(found, accounts)
    ]
    now = timezone.now()
    paperless = bool(
        consents.get(bo.Consent.Kind.PAPERLESS) and consents[bo.Consent.Kind.PAPERLESS].granted
    )
    failures = len(bo.throttle_rows(found))

    def form(action, label, account=None, danger=False):
        key = f"{action}-{account.pk}" if account else action
        return {
            "action": action,
            "label": label,
            "account": account.pk if account else "",
            "id": f"reason-{key}",
            "error": errors.get(key, ""),
            "value": values.get(key, ""),
            "danger": danger,
        }

    closed = (TenantAccount.Status.DEACTIVATED, TenantAccount.Status.ANONYMISED)
    for account in accounts:
        account.forms = []
        if account.status == TenantAccount.Status.PENDING:
            account.forms.append(form("restart", _("Restart the activation"), account))
        if account.status not in closed:
            account.forms.append(form("close", _("Close the account"), account, danger=True))
    household_forms = []
    if paperless:
        household_forms.append(form("paper", _("Back to paper rent notices")))
    household_forms.append(form("throttle", _("Lift the login throttle")))
    return {
        "household": found,
        "household_forms": household_forms,
        "status": status,
        "status_label": bo.Activation.LABELS[status],
        "accounts": accounts,
        "leases": leases,
        "people": found.people.order_by("role", "last_name"),
        "consents": [
            (kind, label, consents.get(kind))
            for kind, label in bo.Consent.Kind.choices
            if kind in bo.CONSENT_KINDS
        ],
        "paperless": paperless,
        "credentials": [
            {
                "identifier": c.identifier,
                "created_at": c.created_at,
                "by": c.created_by.display_name if c.created_by else "",
                "expires_at": c.expires_at,
                "state": (
                    _("used")
                    if c.used_at
                    else (_("expired or replaced") if c.expires_at <= now else _("valid"))
                ),
            }
            for c in credentials
        ],
        "failures": failures,
        "history": history,
        "errors": errors,
        "can_issue": status in (bo.Activation.NONE, bo.Activation.PENDING),
    }


def _qr_svg(url: str) -> str:
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def _letters_response(request, batch):
    # Letters go to tenants: in French, whatever the language of the advisor's pages.
    with translation.override(settings.LANGUAGE_CODE):
        response = render(
            request, "extranet/letters.html", {"batch": batch, "qr": _qr_svg(batch.url)}
        )
    # The secrets are in this page only: no cache, no copy anywhere.
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_POST
@never_cache
def household_letter(request, pk):
    try:
        batch = bo.issue_letter_for_household(request.user, pk, request.POST.get("reason", ""))
    except ServiceError as exc:
        flash.error(request, exc.message)
        return redirect("extranet:household", pk=pk)
    return _letters_response(request, batch)


# --- letters in bulk ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def letters(request):
    user = request.user
    bo.require_backoffice(user)
    error = ""
    if request.method == "POST":
        residence = _number(request.POST.get("residence"))
        if residence is None:
            error = _("Choose a residence.")
        else:
            try:
                return _letters_response(request, bo.issue_letters_for_residence(user, residence))
            except ServiceError as exc:
                error = exc.message
    residences = _places(user)["residences"]
    waiting = bo.letters_waiting(user, residences)
    return render(
        request,
        "extranet/letters_form.html",
        {
            "residences": [(r, *waiting.get(r.pk, (0, 0))) for r in residences],
            "error": error,
            "chosen": _number(request.POST.get("residence")) if request.method == "POST" else None,
            "per_batch": bo.LETTERS_PER_BATCH,
        },
    )


# --- reminders ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def reminders(request):
    from messaging.models import Campaign

    user = request.user
    bo.require_backoffice(user)
    params = request.POST if request.method == "POST" else request.GET
    agency, residence = _number(params.get("agence")), _number(params.get("residence"))
    delivery = params.get("envoi") or Campaign.Delivery.PREFERRED
    plan = preview = None
    error = ""
    # The send goes to the selection that was previewed, not to one changed since.
    selection = f"{agency or ''}:{residence or ''}:{delivery}"
    if agency or residence:
        try:
            plan = bo.reminder_plan(user, agency, residence)
            wants_send = request.method == "POST" and request.POST.get("action") == "send"
            if wants_send and request.POST.get("vu") != selection:
                error = _("The selection changed since the preview: check the recipients again.")
            elif wants_send:
                campaign = bo.send_reminder(user, plan, agency, delivery)
                flash.success(request, _("The reminder is on its way: follow it here."))
                return redirect("messaging:campaign", pk=campaign.pk)
            preview = bo.preview_reminder(user, plan, agency, delivery)
        except ValidationError as exc:
            error = _message(exc)
        except ServiceError as exc:
            error = exc.message
    elif request.method == "POST" or "agence" in params or "residence" in params:
        error = _("Choose an agency or a residence.")
    return render(
        request,
        "extranet/reminders.html",
        {
            "plan": plan,
            "preview": preview,
            "error": error,
            "agency": agency,
            "residence": residence,
            "delivery": delivery,
            "deliveries": Campaign.Delivery.choices,
            "template_key": bo.REMINDER_TEMPLATE,
            "selection": selection,
            **_places(user),
        },
    )


# --- adoption ----------------------------------------------------------------------------------


def _week_label(day) -> str:
    return day.strftime("%d/%m")


def _month_label(day) -> str:
    return day.strftime("%m/%Y")


@login_required
@require_GET
def adoption(request):
    user = request.user
    agency = _number(request.GET.get("agence"))
    figures = bo.adoption(user, agency)
    created, activated = _("Accounts created"), _("Accounts activated")
    lowest = sorted(
        (r for r in figures.residences if r.rate is not None), key=lambda r: (r.rate, r.label)
    )[:30]
    return render(
        request,
        "extranet/adoption.html",
        {
            "figures": figures,
            "agency": agency,
            "agencies": _places(user)["agencies"],
            "week_labels": [_week_label(p.start) for p in figures.weeks],
            "week_series": {
                created: [p.created for p in figures.weeks],
                activated: [p.activated for p in figures.weeks],
            },
            "month_labels": [_month_label(p.start) for p in figures.months],
            "month_series": {
                created: [p.created for p in figures.months],
                activated: [p.activated for p in figures.months],
            },
            "agency_chart": [(r.label, r.rate) for r in figures.agencies if r.rate is not None],
            "residence_chart": [(r.label, r.rate) for r in lowest],
            "residence_chart_cut": len(lowest)
            < len([r for r in figures.residences if r.rate is not None]),
        },
    )


@login_required
@require_GET
def adoption_csv(request):
    user = request.user
    agency = _number(request.GET.get("agence"))
    figures = bo.adoption(user, agency)
    data = request.GET.get("donnees", "residences")
    if data in ("semaines", "mois"):
        periods = figures.weeks if data == "semaines" else figures.months
        header = [
            _("Week of") if data == "semaines" else _("Month"),
            _("Accounts created"),
            _("Accounts activated"),
        ]
        rows = [
            [
                p.start.strftime("%d/%m/%Y") if data == "semaines" else _month_label(p.start),
                p.created,
                p.activated,
            ]
            for p in periods
        ]
    else:
        data = "agences" if data == "agences" else "residences"
        header = [
            _("Agency") if data == "agences" else _("Residence"),
            *([_("Agency")] if data == "residences" else []),
            _("Households with a current lease"),
            _("Households with an active account"),
            _("Activation rate (%)"),
        ]
        source = figures.agencies if data == "agences" else figures.residences
        rows = [
            [
                r.label,
                *([r.group] if data == "residences" else []),
                r.households,
                r.active,
                "" if r.rate is None else str(r.rate).replace(".", ","),
            ]
            for r in source
        ]
    response = HttpResponse(french_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="adoption-{data}-{timezone.localdate():%Y%m%d}.csv"'
    )
    return response


# --- consents export ---------------------------------------------------------------------------


def consents_csv_response(user) -> StreamingHttpResponse:
    """The consents of every household in scope, as the landlord's ERP reads them."""

    def stream():
        rows = bo.consent_csv_rows(user)
        first = True
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == 1000:
                yield _chunk(batch, first)
                first, batch = False, []
        if batch or first:
            yield _chunk(batch, first)

    bo.require_backoffice(user)
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="consentements-{timezone.localdate():%Y%m%d}.csv"'
    )
    return response


def _chunk(rows, first: bool) -> str:
    text = french_csv(bo.CONSENT_CSV_HEADER, rows)
    if first:
        return text
    # french_csv writes the byte-order mark and the header: only once, at the top.
    return text.split("\n", 1)[1]


@login_required
@require_GET
def consents_csv(request):
    return consents_csv_response(request.user)


# --- help requests -----------------------------------------------------------------------------


@login_required
@require_GET
def help_requests(request):
    user = request.user
    handled = request.GET.get("traitees") == "1"
    page = Paginator(bo.help_requests(user, handled), 30).get_page(request.GET.get("page"))
    openable = bo.visible_household_ids(user, [h.household_id for h in page])
    return render(
        request,
        "extranet/help.html",
        {"page": page, "handled": handled, "openable": openable},
    )


@login_required
@require_POST
def help_handled(request, pk):
    bo.mark_handled(request.user, pk)
    flash.success(request, _("Marked as handled."))
    return redirect("extranet:help")
