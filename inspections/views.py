"""Inspection pages: managers' dashboard with rates and alerts, visits, rework, penalties,
grids; the provider's pages (its rework requests and penalties, or a personal link)."""

import uuid
from datetime import date, timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.models import Role, User
from backend.accounts.scoping import get_scoped_or_404, require_role, scoped
from backend.core import images
from backend.core.errors import ServiceError
from backend.core.text import french_csv
from backend.estate.models import Provider, Residence
from inspections import grids, rates, scoring, services
from inspections.models import Answer, Grid, Penalty, Rework, Visit

_staff = services.require_staff


def _manager(user):
    require_role(user, services.MANAGERS)


def _period(request) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        months = max(1, min(60, int(request.GET.get("mois", 12))))
    except ValueError:
        months = 12
    return today - timedelta(days=30 * months), today


def _fail(request, exc):
    if isinstance(exc, ValidationError):
        flash.error(request, " ".join(exc.messages))
    else:
        flash.error(request, exc.message)


@login_required
@require_GET
def dashboard(request):
    _staff(request.user)
    start, end = _period(request)
    by = request.GET.get("par") if request.GET.get("par") in rates.DIMENSIONS else "residence"
    result = rates.compute(request.user, start, end, by)
    visits = scoped(request.user, Visit).select_related("residence", "agent")
    today = timezone.localdate()
    return render(
        request,
        "inspections/dashboard.html",
        {
            "rates": result,
            "by": by,
            "months": request.GET.get("mois", "12"),
            "score_chart": [
                (r.label, r.average_score) for r in result.rows if r.average_score is not None
            ][:15],
            "visit_rate_chart": [
                (r.label, r.visit_rate) for r in result.rows if r.visit_rate is not None
            ][:15],
            "month_labels": [m.strftime("%m/%Y") for m, _s, _n in result.months],
            "month_scores_series": {_("Average score"): [s for _m, s, _n in result.months]},
            "under_controlled": rates.under_controlled(request.user, today),
            "late": visits.filter(status=Visit.Status.PLANNED, planned_for__lt=today).order_by(
                "planned_for"
            )[:20],
            "upcoming": visits.filter(status=Visit.Status.PLANNED, planned_for__gte=today).order_by(
                "planned_for"
            )[:20],
            "open_reworks": scoped(request.user, Rework)
            .filter(status__in=[Rework.Status.REQUESTED, Rework.Status.DONE])
            .count(),
            "to_decide": scoped(request.user, Penalty)
            .filter(status__in=[Penalty.Status.PROPOSED, Penalty.Status.CONTESTED])
            .count(),
        },
    )


@login_required
@require_GET
def rates_csv(request):
    """The rates as CSV (the steering export)."""
    _staff(request.user)
    start, end = _period(request)
    by = request.GET.get("par") if request.GET.get("par") in rates.DIMENSIONS else "residence"
    result = rates.compute(request.user, start, end, by)
    header = [
        _("Name"),
        _("Visits planned"),
        _("Visits done"),
        _("Visit rate (%)"),
        _("Average score (%)"),
        _("Defect rate (%)"),
        _("Rework"),
        _("Rework rate (%)"),
        _("Lead time (h)"),
        _("Lifted on time (%)"),
        _("Penalties (€)"),
    ]
    rows = (
        [
            r.label,
            r.planned,
            r.done,
            r.visit_rate or "",
            r.average_score or "",
            r.defect_rate or "",
            r.reworks,
            r.rework_rate or "",
            r.lead_time_hours or "",
            r.on_time_rate or "",
            str(r.penalties).replace(".", ","),
        ]
        for r in result.rows
    )
    response = HttpResponse(french_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="taux-{by}-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    )
    return response


@login_required
@require_GET
def visit_list(request):
    _staff(request.user)
    visits = scoped(request.user, Visit).select_related("residence", "agent", "contract__provider")
    status = request.GET.get("statut")
    today = timezone.localdate()
    if status == "late":
        visits = visits.filter(status=Visit.Status.PLANNED, planned_for__lt=today)
    elif status in Visit.Status.values:
        visits = visits.filter(status=status)
    residence = request.GET.get("residence")
    if residence and residence.isdigit():
        visits = visits.filter(residence_id=int(residence))
    page = Paginator(visits.order_by("-planned_for", "-finished_at"), 30).get_page(
        request.GET.get("page")
    )
    agents = User.objects.filter(
        role=Role.AGENT, is_active=True, sectors__residences__in=scoped(request.user, Residence)
    ).distinct()
    return render(
        request,
        "inspections/visit_list.html",
        {
            "page": page,
            "statuses": Visit.Status.choices,
            "filters": request.GET,
            "residences": scoped(request.user, Residence).order_by("name"),
            "agents": agents.order_by("last_name"),
            "can_reassign": services.is_manager(request.user),
        },
    )


@login_required
@require_POST
def visit_reassign(request, pk):
    agent = request.POST.get("agent")
    planned = request.POST.get("planned_for")
    try:
        services.reassign(
            request.user,
            pk,
            int(agent) if agent and agent.isdigit() else None,
            date.fromisoformat(planned) if planned else None,
        )
    except ValueError:
        flash.error(request, _("Enter the date as YYYY-MM-DD."))
    except (ServiceError, ValidationError) as exc:
        _fail(request, exc)
    else:
        flash.success(request, _("Visit reassigned."))
    return redirect("inspections:visits")


@login_required
@require_GET
def visit_detail(request, pk):
    _staff(request.user)
    visit = get_scoped_or_404(
        request.user,
        Visit.objects.select_related(
            "residence", "entrance", "agent", "contract__provider", "grid_version__grid"
        ),
        pk=pk,
    )
    answers = {a.item_id: a for a in Answer.objects.filter(visit=visit).prefetch_related("photos")}
    items = services.visit_items(visit)
    zones, current = [], None
    for item in items:
        if current is None or current["name"] != item.zone.name:
            current = {"name": item.zone.name, "rows": []}
            zones.append(current)
        current["rows"].append((item, answers.get(item.pk)))
    score = scoring.of_items(items, answers)
    return render(
        request,
        "inspections/visit_detail.html",
        {
            "visit": visit,
            "zones": zones,
            "zone_scores": score.zones,
            "zone_chart": [(z.name, z.percent) for z in score.zones if z.percent is not None],
            "reworks": visit.reworks.select_related("answer__item"),
        },
    )


@login_required
@require_POST
def visit_inform(request, pk):
    visit = get_scoped_or_404(request.user, Visit, pk=pk)
    try:
        campaign = services.inform_tenants(
            request.user, visit=visit, place=request.POST.get("place", "entrance")
        )
    except (ServiceError, ValidationError) as exc:
        _fail(request, exc)
        return redirect("inspections:visit", pk=pk)
    flash.success(request, _("The tenants will be told: follow the send here."))
    return redirect("messaging:campaign", pk=campaign.pk)


@login_required
@require_GET
def rework_list(request):
    _staff(request.user)
    reworks = scoped(request.user, Rework).select_related("residence", "provider", "answer__item")
    status = request.GET.get("statut")
    if status in Rework.Status.values:
        reworks = reworks.filter(status=status)
    page = Paginator(reworks.order_by("-requested_at"), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "inspections/rework_list.html",
        {"page": page, "statuses": Rework.Status.choices, "filters": request.GET},
    )


@login_required
@require_http_methods(["GET", "POST"])
def rework_detail(request, pk):
    _staff(request.user)
    rework = get_scoped_or_404(
        request.user,
        Rework.objects.select_related("residence", "provider", "answer__item__zone", "visit"),
        pk=pk,
    )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action in ("lifted", "not_lifted"):
                services.recheck(
                    request.user,
                    rework.pk,
                    lifted=action == "lifted",
                    comment=request.POST.get("comment", ""),
                )
                flash.success(request, _("Re-check recorded."))
            elif action == "inform":
                campaign = services.inform_tenants(
                    request.user, rework=rework, place=request.POST.get("place", "entrance")
                )
                return redirect("messaging:campaign", pk=campaign.pk)
        except (ServiceError, ValidationError) as exc:
            _fail(request, exc)
        except PermissionDenied:
            flash.error(request, _("Your role cannot re-check a rework."))
        return redirect("inspections:rework", pk=pk)
    return render(
        request,
        "inspections/rework_detail.html",
        {
            "rework": rework,
            "photos": [*rework.answer.photos.all(), *rework.photos.all()],
            "penalty": getattr(rework, "penalty", None),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def penalty_list(request):
    _staff(request.user)
    if request.method == "POST":
        try:
            services.decide_penalty(
                request.user,
                request.POST.get("penalty", ""),  # a malformed id is a 404, like an unknown one
                confirm=request.POST.get("decision") == "confirm",
                reason=request.POST.get("reason", ""),
            )
            flash.success(request, _("Decision recorded."))
        except (ServiceError, ValidationError) as exc:
            _fail(request, exc)
        return redirect("inspections:penalties")
    penalties = scoped(request.user, Penalty).select_related(
        "residence", "provider", "rework__answer__item"
    )
    status = request.GET.get("statut")
    if status in Penalty.Status.values:
        penalties = penalties.filter(status=status)
    page = Paginator(penalties.order_by("-proposed_at"), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "inspections/penalty_list.html",
        {
            "page": page,
            "statuses": Penalty.Status.choices,
            "filters": request.GET,
            "providers": scoped(request.user, Provider).order_by("name"),
            "this_month": timezone.localdate().strftime("%Y-%m"),
            "can_decide": services.is_manager(request.user),
            "now": timezone.now(),
        },
    )


@login_required
@require_GET
def penalty_export(request):
    _manager(request.user)
    provider = get_scoped_or_404(request.user, Provider, pk=request.GET.get("prestataire") or 0)
    try:
        month = date.fromisoformat((request.GET.get("mois") or "") + "-01")
    except ValueError:
        month = timezone.localdate().replace(day=1)
    response = HttpResponse(
        services.export_penalties(request.user, provider.pk, month),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="penalites-{provider.pk}-{month:%Y-%m}.csv"'
    )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def grid_list(request):
    _staff(request.user)
    grids_in_scope = (
        scoped(request.user, Grid)
        .select_related("organisation", "contract__provider")
        .order_by("name")
    )
    if request.method == "POST":
        _manager(request.user)
        source = get_scoped_or_404(request.user, Grid, pk=request.POST.get("grid") or 0)
        current = source.current  # a query: read once
        if current is None:
            raise Http404
        with transaction.atomic():
            copy = Grid.objects.create(
                organisation_id=request.user.organisation_id,
                name=source.name,
                category=source.category,
                threshold=source.threshold,
            )
            grids.publish(copy, grids.as_text(current), request.user)
        flash.success(request, _("Grid copied to your organisation: adapt it here."))
        return redirect("inspections:grid", pk=copy.pk)
    return render(request, "inspections/grid_list.html", {"grids": grids_in_scope})


@login_required
@require_http_methods(["GET", "POST"])
def grid_edit(request, pk):
    _staff(request.user)
    grid = get_scoped_or_404(request.user, Grid, pk=pk)
    editable = grid.organisation_id is not None and (services.is_manager(request.user))
    current = grid.current  # a query: read once
    text = grids.as_text(current) if current else ""
    error = None
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        text = request.POST.get("structure", "")
        try:
            version = grids.publish(grid, text, request.user)
        except ServiceError as exc:
            error = exc.message
        else:
            if version:
                flash.success(
                    request,
                    _("Version %(number)d published: new visits use it.")
                    % {"number": version.number},
                )
            else:
                flash.info(request, _("Nothing changed."))
            return redirect("inspections:grid", pk=grid.pk)
    return render(
        request,
        "inspections/grid_edit.html",
        {
            "grid": grid,
            "text": text,
            "error": error,
            "editable": editable,
            "versions": grid.versions.all(),
        },
    )


# --- the provider's pages ----------------------------------------------------------------------


def _contractor(user):
    if not (user.is_authenticated and user.role == Role.CONTRACTOR and user.provider_id):
        raise PermissionDenied


@login_required
@require_GET
def provider_home(request):
    _contractor(request.user)
    reworks = (
        scoped(request.user, Rework)
        .select_related("residence", "answer__item")
        .order_by("deadline")
    )
    return render(
        request,
        "inspections/provider_home.html",
        {
            "to_answer": reworks.filter(status=Rework.Status.REQUESTED),
            "answered": reworks.exclude(status=Rework.Status.REQUESTED)[:20],
            "penalties": scoped(request.user, Penalty)
            .select_related("residence", "rework__answer__item")
            .order_by("-proposed_at")[:30],
            "now": timezone.now(),
        },
    )


def _answer_rework(request, rework, user):
    try:
        upload = request.FILES.get("photo")
        services.mark_rework_done(
            user,
            rework,
            request.POST.get("comment", ""),
            photo=images.read_upload(upload),
            photo_id=uuid.uuid4(),
        )
    except (ServiceError, ValidationError) as exc:
        _fail(request, exc)
        return False
    flash.success(request, _("Thank you: the rework is recorded as done. An agent will check it."))
    return True


@login_required
@require_http_methods(["GET", "POST"])
def provider_rework(request, pk):
    _contractor(request.user)
    rework = get_scoped_or_404(
        request.user, Rework.objects.select_related("residence", "answer__item__zone"), pk=pk
    )
    if request.method == "POST":
        _answer_rework(request, rework, request.user)
        return redirect("inspections:provider-rework", pk=pk)
    return render(
        request,
        "inspections/provider_rework.html",
        {"rework": rework, "photos": rework.answer.photos.all()},
    )


@require_http_methods(["GET", "POST"])
def rework_link(request, token):
    """The provider's personal link from the e-mail: no login, the signed token is the key."""
    try:
        rework = services.rework_from_link(token)
    except ServiceError as exc:
        return render(
            request, "inspections/link_invalid.html", {"message": exc.message}, status=exc.status
        )
    if request.method == "POST":
        _answer_rework(request, rework, request.user)
        return redirect("inspections:rework-link", token=token)
    return render(
        request,
        "inspections/provider_rework.html",
        {"rework": rework, "photos": [], "by_link": True},
    )


@login_required
@require_http_methods(["GET", "POST"])
def provider_penalty(request, pk):
    _contractor(request.user)
    penalty = get_scoped_or_404(
        request.user, Penalty.objects.select_related("residence", "rework__answer__item"), pk=pk
    )
    if request.method == "POST":
        try:
            services.contest_penalty(request.user, penalty.pk, request.POST.get("text", ""))
            flash.success(request, _("Your objection is recorded: a manager will decide."))
        except (ServiceError, ValidationError) as exc:
            _fail(request, exc)
        return redirect("inspections:provider-penalty", pk=pk)
    return render(
        request, "inspections/provider_penalty.html", {"penalty": penalty, "now": timezone.now()}
    )
