"""Request endpoints: staff intake and follow-up, contractors' work orders (with their token),
slots and appointments. Thin: every write goes through tickets.services; every read through
the scoping function."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate

from backend.accounts.models import Role
from backend.accounts.scoping import get_scoped_or_404, scoped
from backend.api import ERRORS
from backend.core import images
from tickets import services
from tickets.models import Appointment, Event, Incident, Request, Slot, WorkOrder
from tickets.views import filter_requests

router = Router()


class RequestIn(Schema):
    id: UUID | None = Field(None, description="The caller's id: sending it again is safe.")
    residence_id: int | None = None
    building_id: int | None = None
    entrance_id: int | None = None
    unit_id: int | None = None
    equipment_id: int | None = None
    category: str
    urgency: str = ""
    payer: str = ""
    description: str = Field(..., max_length=4000)
    person_id: int | None = None
    contact_name: str = Field("", max_length=200)
    contact_phone: str = Field("", max_length=32)
    contact_email: str = Field("", max_length=254)
    channel: Literal["phone", "counter", "field", "email", "sms", "api"] = "api"
    acknowledge: bool = False


class RequestOut(Schema):
    id: UUID
    reference: str
    residence_id: int
    entrance_id: int | None
    unit_id: int | None
    equipment_id: int | None
    kind: str
    category: str
    team: str
    urgency: str
    payer: str
    description: str
    channel: str
    status: str
    person_id: int | None
    incident_id: UUID | None
    created_at: datetime
    acknowledge_due_at: datetime | None
    resolve_due_at: datetime | None
    overdue: bool = Field(alias="is_overdue")
    satisfaction: int | None


class EventOut(Schema):
    at: datetime
    kind: str
    status: str
    text: str
    told: str
    channel: str
    by: str = Field(alias="author_label")


class TransitionIn(Schema):
    action: Literal["acknowledge", "done", "close", "cancel"]
    text: str = Field("", max_length=500, description="Delay, comment or reason.")


class OrderIn(Schema):
    provider_id: int | None = None
    technician_id: int | None = None
    access: str = WorkOrder.Access.TENANT_PRESENT
    access_note: str = Field("", max_length=300)
    instructions: str = Field("", max_length=4000)
    price_line: str = Field("", max_length=100)


class OrderOut(Schema):
    id: UUID
    number: str
    request_id: UUID
    reference: str = Field(alias="request.reference")
    category: str = Field(alias="request.category")
    place: str = Field(alias="request.place")
    description: str = Field(alias="request.description")
    provider_id: int
    purchase_order: str
    price_line: str
    access: str
    access_note: str
    status: str
    sent_at: datetime
    done_at: datetime | None


class MilestoneIn(Schema):
    kind: Literal["on_site", "no_access", "another_visit", "done"]
    comment: str = Field("", max_length=4000)
    signatory_name: str = Field("", max_length=200)


class DeclineIn(Schema):
    reason: str = Field(..., max_length=300)


class SlotIn(Schema):
    starts_at: datetime
    ends_at: datetime


class SlotsIn(Schema):
    slots: list[SlotIn] = Field(..., max_length=100)
    technician_id: int | None = None


class SlotOut(Schema):
    id: int
    provider_id: int
    starts_at: datetime
    ends_at: datetime


class BookIn(Schema):
    slot_id: int


class AppointmentOut(Schema):
    id: int
    work_order_id: UUID
    slot: SlotOut
    status: str


class GroupIn(Schema):
    request_ids: list[UUID] = Field(..., min_length=1, max_length=50)
    incident_id: UUID | None = None
    title: str = Field("", max_length=200)


class IncidentOut(Schema):
    id: UUID
    title: str
    residence_id: int
    status: str
    requests: list[UUID]


class RequestFilters(Schema):
    q: str | None = Field(None, max_length=200, description="Reference, tenant or address.")
    statut: str | None = Field(None, description="A status, or “ouvertes” (default).")
    equipe: str | None = None
    categorie: str | None = None
    residence: int | None = None
    retard: bool = False


@router.get("/requests", response={200: list[RequestOut], **ERRORS})
@paginate
def list_requests(request, filters: Query[RequestFilters]):
    if request.auth.role == Role.CONTRACTOR:
        raise PermissionDenied
    params = {k: v for k, v in filters.dict().items() if v not in (None, False)}
    return filter_requests(request.auth, params).order_by("-created_at")


@router.post("/requests", response={201: RequestOut, 200: RequestOut, **ERRORS})
def create_request(request, payload: RequestIn):
    """Take a request (phone, counter, e-mail received, field, integration). The tenant is sent
    its reference at once. Sending the same `id` again returns the request already taken."""
    data = payload.dict()
    existing = scoped(request.auth, Request).filter(pk=payload.id).first() if payload.id else None
    if existing is not None:
        return Status(200, existing)
    created = services.create_request(
        request.auth,
        services.RequestInput(
            **{
                k: data[k]
                for k in services.RequestInput.__dataclass_fields__  # the input's own fields
            }
        ),
        payload.channel,
        request_id=payload.id,
        acknowledge=payload.acknowledge,
    )
    return Status(201, created)


@router.get("/requests/{uuid:request_id}", response={200: RequestOut, **ERRORS})
def get_request(request, request_id: UUID):
    return get_scoped_or_404(request.auth, Request, pk=request_id)


@router.get("/requests/{uuid:request_id}/timeline", response={200: list[EventOut], **ERRORS})
def get_timeline(request, request_id: UUID):
    """Every event; contractors (for their work orders) do not see staff-only notes."""
    obj = get_scoped_or_404(request.auth, Request, pk=request_id)
    events = obj.events.order_by("at", "id")
    if request.auth.role == Role.CONTRACTOR:
        # No staff-only notes, and not the texts sent to the tenant (their personal link).
        events = list(events.filter(internal=False).exclude(kind=Event.Kind.INBOUND))
        for event in events:
            event.told = ""
        return events
    return list(events)


@router.post("/requests/{uuid:request_id}/transition", response={200: RequestOut, **ERRORS})
def transition(request, request_id: UUID, payload: TransitionIn):
    actions = {
        "acknowledge": services.acknowledge,
        "done": services.mark_done,
        "close": services.close,
        "cancel": services.cancel,
    }
    return actions[payload.action](request.auth, request_id, payload.text)


@router.post("/requests/{uuid:request_id}/photos", response={201: dict, **ERRORS})
def add_photo(request, request_id: UUID, id: Form[UUID], file: File[UploadedFile]):
    obj = get_scoped_or_404(request.auth, Request, pk=request_id)
    if request.auth.role == Role.CONTRACTOR:
        raise PermissionDenied
    photo = services.add_photo(request.auth, obj, id, images.read_upload(file))
    return Status(201, {"id": str(photo.pk), "width": photo.width, "height": photo.height})


@router.post("/requests/{uuid:request_id}/work-orders", response={201: OrderOut, **ERRORS})
def send_order(request, request_id: UUID, payload: OrderIn):
    return Status(
        201, services.send_order(request.auth, request_id, services.OrderInput(**payload.dict()))
    )


@router.post("/incidents", response={200: IncidentOut, **ERRORS})
def group(request, payload: GroupIn):
    incident = services.group(
        request.auth, payload.request_ids, incident_id=payload.incident_id, title=payload.title
    )
    return _incident(incident)


def _incident(incident: Incident) -> dict:
    return {
        "id": incident.pk,
        "title": incident.title,
        "residence_id": incident.residence_id,
        "status": incident.status,
        "requests": list(incident.requests.values_list("pk", flat=True)),
    }


@router.get("/incidents/{uuid:incident_id}", response={200: IncidentOut, **ERRORS})
def get_incident(request, incident_id: UUID):
    return _incident(get_scoped_or_404(request.auth, Incident, pk=incident_id))


# --- contractors -------------------------------------------------------------------------------


@router.get("/work-orders", response={200: list[OrderOut], **ERRORS})
@paginate
def list_orders(request, status: str | None = None):
    """A contractor's work orders (with its API token): only its own."""
    orders = scoped(request.auth, WorkOrder).select_related(
        # request.place reads the unit, equipment, entrance or building with their parents.
        "request__residence",
        "request__unit__entrance__building__residence",
        "request__equipment",
        "request__entrance__building__residence",
        "request__building__residence",
    )
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-sent_at")


@router.get("/work-orders/{uuid:order_id}", response={200: OrderOut, **ERRORS})
def get_order(request, order_id: UUID):
    return get_scoped_or_404(request.auth, WorkOrder.objects.select_related("request"), pk=order_id)


@router.post("/work-orders/{uuid:order_id}/accept", response={200: OrderOut, **ERRORS})
def accept(request, order_id: UUID):
    return services.accept_order(request.auth, order_id)


@router.post("/work-orders/{uuid:order_id}/decline", response={200: OrderOut, **ERRORS})
def decline(request, order_id: UUID, payload: DeclineIn):
    return services.decline_order(request.auth, order_id, payload.reason)


@router.post("/work-orders/{uuid:order_id}/milestones", response={200: OrderOut, **ERRORS})
def milestone(
    request,
    order_id: UUID,
    payload: Form[MilestoneIn],
    photo: File[UploadedFile] = None,
    signature: File[UploadedFile] = None,
):
    """On site, tenant absent or no access, another visit needed, done (a comment; optionally a
    photo and the tenant's signature on the intervention report)."""
    return services.report(
        request.auth,
        order_id,
        services.Milestone(
            kind=payload.kind,
            comment=payload.comment,
            signatory_name=payload.signatory_name,
            photo=images.read_upload(photo),
            signature=images.read_upload(signature),
        ),
    )


@router.get("/work-orders/{uuid:order_id}/free-slots", response={200: list[SlotOut], **ERRORS})
def order_free_slots(request, order_id: UUID):
    """The contractor's free slots, to book one while the tenant is on the phone."""
    order = get_scoped_or_404(request.auth, WorkOrder, pk=order_id)
    return list(services.free_slots(order.provider_id)[:50])


@router.post("/work-orders/{uuid:order_id}/appointment", response={201: AppointmentOut, **ERRORS})
def book(request, order_id: UUID, payload: BookIn):
    return Status(201, services.book(request.auth, order_id, payload.slot_id))


@router.post("/appointments/{int:appointment_id}/move", response={200: AppointmentOut, **ERRORS})
def move(request, appointment_id: int, payload: BookIn):
    return services.move_appointment(request.auth, appointment_id, payload.slot_id)


@router.post("/appointments/{int:appointment_id}/cancel", response={200: AppointmentOut, **ERRORS})
def cancel_appointment(request, appointment_id: int, payload: DeclineIn):
    return services.cancel_appointment(request.auth, appointment_id, payload.reason)


@router.get("/slots", response={200: list[SlotOut], **ERRORS})
@paginate
def list_slots(request):
    """A contractor's coming slots (booked or free); staff see those of their residences'
    contractors."""
    return scoped(request.auth, Slot).filter(ends_at__gte=timezone.now()).order_by("starts_at")


@router.post("/slots", response={201: list[SlotOut], **ERRORS})
def publish(request, payload: SlotsIn):
    slots = services.publish_slots(
        request.auth,
        [(s.starts_at, s.ends_at) for s in payload.slots],
        technician_id=payload.technician_id,
    )
    return Status(201, slots)


@router.delete("/slots/{int:slot_id}", response={204: None, **ERRORS})
def withdraw(request, slot_id: int):
    services.withdraw_slot(request.auth, slot_id)
    return Status(204, None)


# Event kinds are part of the timeline's contract.
EVENT_KINDS = Event.Kind.values
APPOINTMENT_STATUSES = Appointment.Status.values
