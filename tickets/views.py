"""Request pages: the advisor's intake (one search box, the unit prefilled, the entrance's open
incidents shown before a duplicate is made), lists with overdue flags, a request's timeline and
actions, incidents, the régie's workload, the hall's QR sheet; the contractor's work orders
and slots; the tenant's personal link and the public page of the hall's QR code."""

import uuid
from datetime import datetime, timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from backend.accounts.models import Role
from backend.accounts.scoping import STAFF_ROLES, get_scoped_or_404, require_role, scoped
from backend.core import images
from backend.core.errors import ServiceError
from backend.core.text import search_terms
from backend.estate import services as estate_services
from backend.estate.models import (
    Entrance,
    Equipment,
    Lease,
    Provider,
    ProviderKind,
    Residence,
    Unit,
)
from tickets import public, services
from tickets.models import (
    OPEN_STATUSES,
    TECHNICAL_CATEGORIES,
    Appointment,
    Category,
    Event,
    Incident,
    IntakeChannel,
    Payer,
    Request,
    Slot,
    Status,
    Team,
    Urgency,
    WorkOrder,
)

ADVISOR_CHANNELS = [
    (c.value, c.label)
    for c in (IntakeChannel.PHONE, IntakeChannel.COUNTER, IntakeChannel.EMAIL, IntakeChannel.SMS)
]


def _staff(user):
    require_role(user, STAFF_ROLES)


def _fail(request, exc):
    if isinstance(exc, ValidationError):
        flash.error(request, " ".join(exc.messages))
    elif isinstance(exc, PermissionDenied):
        flash.error(request, _("Your role cannot do this."))
    else:
        flash.error(request, exc.message)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- lists ------------------------------------------------------------------------------------


def filter_requests(user, params):
    """The request list's filters (page and API): status, team, category, residence, overdue,
    and a search by reference, tenant or address."""
    requests = scoped(user, Request)
    status = params.get("statut")
    if status == "ouvertes" or not status:
        requests = requests.filter(status__in=OPEN_STATUSES)
    elif status in Status.values:
        requests = requests.filter(status=status)
    if params.get("equipe") in Team.values:
        requests = requests.filter(team=params["equipe"])
    if params.get("categorie") in Category.values:
        requests = requests.filter(category=params["categorie"])
    residence = _int(params.get("residence"))
    if residence:
        requests = requests.filter(residence_id=residence)
    if params.get("retard"):
        now = timezone.now()
        requests = requests.filter(
            Q(status=Status.NEW, acknowledge_due_at__lt=now)
            | Q(status__in=OPEN_STATUSES[:3], resolve_due_at__lt=now)
        )
    query = (params.get("q") or "").strip()
    if query:
        requests = search(requests, query)
    return requests


def search(requests, query: str):
    """By reference (exact, the index), else every word in the search column (tenant name,
    address, residence)."""
    upper = query.strip().upper()
    if upper.startswith("D") and "-" in upper and upper[1:5].isdigit():
        return requests.filter(reference=upper)
    for term in search_terms(query):
        requests = requests.filter(search_text__contains=term)
    return requests


@login_required
@require_GET
def request_list(request):
    _staff(request.user)
    requests = filter_requests(request.user, request.GET).select_related("residence", "unit")
    page = Paginator(requests.order_by("-created_at"), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "tickets/request_list.html",
        {
            "page": page,
            "filters": request.GET,
            "statuses": Status.choices,
            "teams": Team.choices,
            "categories": Category.choices,
            "residences": scoped(request.user, Residence).only("pk", "name"),
            "incidents": scoped(request.user, Incident)
            .filter(status=Incident.Status.OPEN)
            .select_related("residence")
            .annotate(reports=Count("requests"))[:10],
        },
    )


# --- intake -----------------------------------------------------------------------------------


def _entrance_open(user, entrance_id):
    if not entrance_id:
        return [], []
    incidents = scoped(user, Incident).filter(
        Q(entrance_id=entrance_id) | Q(equipment__entrance_id=entrance_id),
        status=Incident.Status.OPEN,
    )
    requests = (
        scoped(user, Request)
        .filter(entrance_id=entrance_id, status__in=OPEN_STATUSES)
        .select_related("unit")
        .order_by("-created_at")
    )
    return list(incidents[:10]), list(requests[:20])


@login_required
@require_http_methods(["GET", "POST"])
def intake(request):
    """Phone and counter: find the tenant, the unit comes prefilled, see what is already open at
    the entrance, then take the request."""
    _staff(request.user)
    user = request.user
    params = request.POST if request.method == "POST" else request.GET
    query = request.GET.get("q", "")[:200]
    hits = []
    if query.strip():
        hits = estate_services.search_hits(estate_services.search_units(user, query)[:20])
    unit = None
    unit_id = _int(params.get("unit_id"))
    if unit_id:
        unit = (
            scoped(user, Unit)
            .select_related("entrance__building", "residence")
            .filter(pk=unit_id)
            .first()
        )
    residence_id = unit.residence_id if unit else _int(params.get("residence_id"))
    entrance_id = unit.entrance_id if unit else _int(params.get("entrance_id"))
    people = []
    if unit is not None:
        lease = Lease.objects.current().filter(unit=unit).select_related("household").first()
        if lease is not None:
            people = list(lease.household.people.all())
    errors = {}
    if request.method == "POST":
        data = services.RequestInput(
            residence_id=residence_id,
            entrance_id=entrance_id,
            unit_id=unit.pk if unit else None,
            equipment_id=_int(request.POST.get("equipment_id")),
            category=request.POST.get("category", ""),
            urgency=request.POST.get("urgency", ""),
            payer=request.POST.get("payer", ""),
            description=request.POST.get("description", ""),
            person_id=_int(request.POST.get("person_id")),
            contact_name=request.POST.get("contact_name", ""),
            contact_phone=request.POST.get("contact_phone", ""),
        )
        channel = request.POST.get("channel", "")
        try:
            photo = images.read_upload(request.FILES.get("photo"))
            if photo:
                images.process(photo)  # a bad file is refused before anything is saved
            created = services.create_request(
                user,
                data,
                channel,
                acknowledge=request.POST.get("acknowledge") == "on",
            )
            if photo:
                services.add_photo(user, created, uuid.uuid4(), photo)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            flash.error(request, _("The request is not saved: correct the fields shown."))
        except (ServiceError, PermissionDenied) as exc:
            _fail(request, exc)
        else:
            flash.success(
                request,
                _("Request %(reference)s taken. The tenant was sent its reference.")
                % {"reference": created.reference},
            )
            return redirect("tickets:detail", pk=created.pk)
    incidents, open_requests = _entrance_open(user, entrance_id)
    residences = scoped(user, Residence).only("pk", "name")
    entrances = (
        scoped(user, Entrance).filter(residence_id=residence_id).select_related("building")
        if residence_id
        else []
    )
    equipment = scoped(user, Equipment).filter(residence_id=residence_id) if residence_id else []
    # Each message goes next to its field; those of fields the form does not show, on top.
    shown = {"category", "urgency", "payer", "description", "channel", "photo"}
    shown |= {"person_id"} if people else {"contact_name", "contact_phone"}
    shown |= {"entrance_id"} if unit is None else set()
    shown |= {"equipment_id"} if equipment else set()
    return render(
        request,
        "tickets/intake.html",
        {
            "query": query,
            "hits": hits,
            "unit": unit,
            "people": people,
            "residence_id": residence_id,
            "entrance_id": entrance_id,
            "residences": residences,
            "entrances": entrances,
            "equipment": equipment,
            "incidents": incidents,
            "open_requests": open_requests,
            "categories": Category.choices,
            "urgencies": Urgency.choices,
            "payers": Payer.choices,
            "channels": ADVISOR_CHANNELS,
            "errors": errors,
            "other_errors": [m for f, ms in errors.items() if f not in shown for m in ms],
            "values": request.POST,
        },
    )


# --- one request ------------------------------------------------------------------------------


def timeline(request_obj: Request, *, staff: bool):
    events = request_obj.events.select_related("author").order_by("at", "id")
    return events if staff else events.filter(internal=False)


@login_required
@require_http_methods(["GET", "POST"])
def request_detail(request, pk):
    user = request.user
    _staff(user)
    obj = get_scoped_or_404(
        user,
        Request.objects.select_related(
            "residence__organisation", "entrance", "unit", "equipment", "person", "incident"
        ),
        pk=pk,
    )
    if request.method == "POST":
        action = request.POST.get("action")
        post = request.POST
        try:
            if action == "acknowledge":
                services.acknowledge(user, obj.pk, post.get("delay", ""))
            elif action == "qualify":
                services.update_request(
                    user,
                    obj.pk,
                    urgency=post.get("urgency"),
                    payer=post.get("payer"),
                    category=post.get("category"),
                )
            elif action == "order":
                services.send_order(
                    user,
                    obj.pk,
                    services.OrderInput(
                        provider_id=_int(post.get("provider_id")),
                        access=post.get("access", ""),
                        access_note=post.get("access_note", ""),
                        instructions=post.get("instructions", ""),
                        price_line=post.get("price_line", ""),
                    ),
                )
            elif action == "book":
                services.book(user, post.get("order_id"), _int(post.get("slot_id")))
            elif action == "move":
                services.move_appointment(
                    user, _int(post.get("appointment_id")), _int(post.get("slot_id"))
                )
            elif action == "cancel_appointment":
                services.cancel_appointment(
                    user, _int(post.get("appointment_id")), post.get("reason", "")
                )
            elif action == "done":
                services.mark_done(user, obj.pk, post.get("comment", ""))
            elif action == "close":
                services.close(user, obj.pk, post.get("comment", ""))
            elif action == "cancel":
                services.cancel(user, obj.pk, post.get("reason", ""))
            elif action == "note":
                services.add_note(user, obj.pk, post.get("text", ""))
            elif action == "group":
                ids = [obj.pk, *post.getlist("request_ids")]
                incident = services.group(
                    user,
                    ids,
                    incident_id=post.get("incident_id") or None,
                    title=post.get("title", ""),
                )
                flash.success(request, _("Grouped under the incident."))
                return redirect("tickets:incident", pk=incident.pk)
            else:
                raise ValidationError(_("Unknown action."))
            flash.success(request, _("Saved."))
        except (ServiceError, ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        return redirect("tickets:detail", pk=pk)
    order = obj.work_orders.select_related("provider", "technician").order_by("-sent_at").first()
    appointment = slots = None
    if order is not None and order.is_open:
        appointment = (
            order.appointments.filter(status=Appointment.Status.BOOKED)
            .select_related("slot")
            .first()
        )
        slots = list(services.free_slots(order.provider_id)[:12])
    incidents, similar = services.grouping_candidates(obj)
    default, _contract = services.default_provider(obj) if obj.kind == "technical" else (None, None)
    return render(
        request,
        "tickets/request_detail.html",
        {
            "r": obj,
            "events": timeline(obj, staff=True),
            "photos": obj.photos.all(),
            "order": order,
            "orders": obj.work_orders.select_related("provider").order_by("-sent_at"),
            "appointment": appointment,
            "slots": slots,
            "candidate_incidents": incidents,
            "similar": similar,
            "providers": Provider.objects.filter(organisation_id=obj.organisation_id).exclude(
                kind=ProviderKind.CLEANING
            ),
            "default_provider": default,
            "access_choices": WorkOrder.Access.choices,
            "categories": Category.choices,
            "urgencies": Urgency.choices,
            "payers": Payer.choices,
            "transitions": obj.status,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def incident_detail(request, pk):
    _staff(request.user)
    incident = get_scoped_or_404(
        request.user, Incident.objects.select_related("residence", "entrance", "equipment"), pk=pk
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "inform":
                campaign = services.inform_entrance(
                    request.user, incident.pk, request.POST.get("text", "")
                )
                flash.success(request, _("The message is on its way."))
                return redirect("messaging:campaign", pk=campaign.pk)
            if request.POST.get("action") == "note":
                Incident.objects.filter(pk=incident.pk).update(
                    public_note=request.POST.get("public_note", "").strip()[:200]
                )
                flash.success(request, _("Saved."))
        except (ServiceError, ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        return redirect("tickets:incident", pk=pk)
    return render(
        request,
        "tickets/incident_detail.html",
        {
            "incident": incident,
            "requests": incident.requests.select_related("person", "unit").order_by("created_at"),
            "subscribers": incident.subscriptions.filter(told_at__isnull=True).count(),
        },
    )


@login_required
@require_GET
def workload(request):
    """The régie's open orders per technician and day (appointments of the coming two weeks)."""
    require_role(request.user, {Role.MANAGER, Role.ADMIN, Role.ADVISOR})
    today = timezone.localdate()
    days = [today + timedelta(days=n) for n in range(14)]
    orders = (
        scoped(request.user, WorkOrder)
        .filter(provider__kind=ProviderKind.REGIE, status__in=WorkOrder.OPEN)
        .select_related("technician", "request__residence")
        .prefetch_related(
            Prefetch(
                "appointments",
                queryset=Appointment.objects.filter(
                    status=Appointment.Status.BOOKED
                ).select_related("slot"),
                to_attr="booked",
            )
        )
    )
    rows: dict = {}
    unscheduled: dict = {}
    for order in orders:
        who = order.technician.display_name if order.technician_id else _("Not assigned")
        rows.setdefault(who, dict.fromkeys(days, 0))
        if order.booked:
            day = timezone.localdate(order.booked[0].slot.starts_at)
            if day in rows[who]:
                rows[who][day] += 1
        else:
            unscheduled[who] = unscheduled.get(who, 0) + 1
    table = [
        {"who": who, "days": [counts[d] for d in days], "unscheduled": unscheduled.get(who, 0)}
        for who, counts in sorted(rows.items())
    ]
    return render(request, "tickets/workload.html", {"days": days, "table": table})


@login_required
@require_GET
def qr_sheet(request, residence_id):
    """A printable sheet for the halls of a residence: one QR code per entrance and per piece
    of equipment."""
    _staff(request.user)
    residence = get_scoped_or_404(request.user, Residence, pk=residence_id)
    places = []
    for entrance in residence.entrances.select_related("building").order_by(
        "building__name", "name"
    ):
        url = public.place_url(entrance)
        places.append({"name": str(entrance), "url": url, "svg": public.qr_svg(url)})
    for equipment in residence.equipment.filter(is_active=True):
        url = public.place_url(equipment)
        places.append(
            {
                "name": f"{equipment} ({equipment.residence.name})",
                "url": url,
                "svg": public.qr_svg(url),
            }
        )
    return render(request, "tickets/qr_sheet.html", {"residence": residence, "places": places})


# --- contractors ------------------------------------------------------------------------------


def _contractor(user):
    if not (user.is_authenticated and user.role == Role.CONTRACTOR and user.provider_id):
        raise PermissionDenied


@login_required
@require_GET
def order_list(request):
    _contractor(request.user)
    orders = (
        scoped(request.user, WorkOrder)
        .select_related("request__residence", "request__entrance", "request__unit")
        .order_by("-sent_at")
    )
    return render(
        request,
        "tickets/order_list.html",
        {
            "to_answer": orders.filter(status=WorkOrder.Status.SENT),
            "in_progress": orders.filter(status__in=WorkOrder.OPEN).exclude(
                status=WorkOrder.Status.SENT
            ),
            "finished": orders.exclude(status__in=WorkOrder.OPEN)[:30],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_detail(request, pk):
    user = request.user
    if not (user.is_authenticated and (user.role == Role.CONTRACTOR or user.is_superuser)):
        _staff(user)
    order = get_scoped_or_404(
        user,
        WorkOrder.objects.select_related(
            "request__residence__organisation",
            "request__entrance",
            "request__unit",
            "request__person",
            "provider",
        ),
        pk=pk,
    )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "accept":
                services.accept_order(user, order.pk)
            elif action == "decline":
                services.decline_order(user, order.pk, request.POST.get("reason", ""))
            elif action == "book":
                services.book(user, order.pk, _int(request.POST.get("slot_id")))
            elif action in services.MILESTONES:
                signature = request.FILES.get("signature")
                services.report(
                    user,
                    order.pk,
                    services.Milestone(
                        kind=action,
                        comment=request.POST.get("comment", ""),
                        signatory_name=request.POST.get("signatory_name", ""),
                        signature=images.read_upload(signature) if signature else None,
                        photo=images.read_upload(request.FILES.get("photo")),
                    ),
                )
            else:
                raise ValidationError(_("Unknown action."))
            flash.success(request, _("Saved."))
        except (ServiceError, ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        return redirect("tickets:order", pk=pk)
    req = order.request
    appointment = (
        order.appointments.filter(status=Appointment.Status.BOOKED).select_related("slot").first()
    )
    return render(
        request,
        "tickets/order_detail.html",
        {
            "order": order,
            "r": req,
            "events": timeline(req, staff=False).exclude(kind=Event.Kind.INBOUND)
            if user.role == Role.CONTRACTOR
            else timeline(req, staff=False),
            # The tenant's messages carry their personal link: not for the contractor's eyes.
            "hide_told": user.role == Role.CONTRACTOR,
            "appointment": appointment,
            "slots": list(services.free_slots(order.provider_id)[:12]) if order.is_open else [],
            "photos": req.photos.all(),
        },
    )


def _parse_window(day: str, start: str, end: str, zone):
    try:
        date_value = datetime.strptime(day, "%Y-%m-%d").date()
        start_time = datetime.strptime(start, "%H:%M").time()
        end_time = datetime.strptime(end, "%H:%M").time()
    except ValueError:
        raise ValidationError({"slots": [_("Give a date and two times (HH:MM).")]}) from None
    return (
        timezone.make_aware(datetime.combine(date_value, start_time), zone),
        timezone.make_aware(datetime.combine(date_value, end_time), zone),
    )


@login_required
@require_http_methods(["GET", "POST"])
def slots(request):
    _contractor(request.user)
    user = request.user
    zone = user.organisation.zone if user.organisation_id else timezone.get_current_timezone()
    if request.method == "POST":
        try:
            if request.POST.get("action") == "withdraw":
                services.withdraw_slot(user, _int(request.POST.get("slot_id")))
            else:
                window = _parse_window(
                    request.POST.get("day", ""),
                    request.POST.get("start", ""),
                    request.POST.get("end", ""),
                    zone,
                )
                services.publish_slots(user, [window])
            flash.success(request, _("Saved."))
        except (ServiceError, ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        return redirect("tickets:slots")
    upcoming = (
        scoped(user, Slot)
        .filter(ends_at__gte=timezone.now())
        .prefetch_related(
            Prefetch(
                "appointments",
                queryset=Appointment.objects.filter(
                    status=Appointment.Status.BOOKED
                ).select_related("work_order"),
                to_attr="booked",
            )
        )
        .order_by("starts_at")[:100]
    )
    return render(
        request,
        "tickets/slots.html",
        {"slots": upcoming, "today": timezone.localdate().isoformat()},
    )


# --- public pages: the tenant's link, the hall's QR code ---------------------------------------


@require_GET
def track(request, token):
    try:
        obj, _link = services.request_from_link(token)
    except ServiceError as exc:
        return render(
            request, "tickets/link_invalid.html", {"message": exc.message}, status=exc.status
        )
    timezone.activate(obj.organisation.zone)  # public pages: the landlord's time, not ours
    appointment = (
        Appointment.objects.filter(work_order__request=obj, status=Appointment.Status.BOOKED)
        .select_related("slot", "work_order__provider")
        .first()
    )
    return render(
        request,
        "tickets/track.html",
        {
            "r": obj,
            "events": timeline(obj, staff=False).filter(
                kind__in=[
                    Event.Kind.CREATED,
                    Event.Kind.STATUS,
                    Event.Kind.TOLD,
                    Event.Kind.GROUPED,
                    Event.Kind.APPOINTMENT,
                    Event.Kind.MILESTONE,
                    Event.Kind.RATING,
                ]
            ),
            "appointment": appointment,
        },
    )


@require_http_methods(["GET", "POST"])
def place(request, token):
    try:
        where = public.place_from_token(token)
    except ServiceError as exc:
        return render(
            request, "tickets/link_invalid.html", {"message": exc.message}, status=exc.status
        )
    timezone.activate(where.residence.organisation.zone)
    entrance = public.entrance_of(where)
    equipment = where if isinstance(where, Equipment) else None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "subscribe":
                from backend.accounts.forms import client_address

                incidents, _requests = public.open_incidents(where)
                wanted = request.POST.get("incident_id", "")
                incident = next((i for i in incidents if str(i.pk) == wanted), None)
                if incident is None:
                    raise ValidationError(_("This problem is already fixed."))
                public.allow_report(client_address(request))
                public.subscribe(incident.pk, request.POST.get("address", ""))
                flash.success(request, _("Thank you: you will be told when it is fixed."))
            elif action == "report":
                from backend.accounts.forms import client_address

                public.allow_report(client_address(request))
                if request.POST.get("category", "") not in TECHNICAL_CATEGORIES:
                    raise ValidationError(_("Choose what is wrong."))
                created = services.create_request(
                    None,
                    services.RequestInput(
                        residence_id=where.residence_id,
                        entrance_id=entrance.pk if entrance else None,
                        equipment_id=equipment.pk if equipment else None,
                        category=request.POST.get("category", ""),
                        description=request.POST.get("description", ""),
                        contact_name=request.POST.get("contact_name", ""),
                        contact_phone=request.POST.get("contact_phone", ""),
                    ),
                    IntakeChannel.QR,
                    residences=[where.residence_id],
                    label=_("Report from the hall's QR code"),
                )
                flash.success(
                    request,
                    _("Thank you: your report %(reference)s is registered.")
                    % {"reference": created.reference},
                )
        except ValidationError as exc:
            _fail(request, exc)
        except ServiceError as exc:
            _fail(request, exc)
        return redirect("tickets:place", token=token)
    incidents, requests = public.open_incidents(where)
    return render(
        request,
        "tickets/place.html",
        {
            "where": where,
            # An entrance's name holds its residence's already; a piece of equipment's does not.
            "heading": f"{where.residence.name} — {where}" if equipment else str(where),
            "residence": where.residence,
            "incidents": [(i, i.public_note) for i in incidents],
            "reports": [(r, public.public_status(r)) for r in requests],
            "categories": services.new_category_choices("technical"),
        },
    )
