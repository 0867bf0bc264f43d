"""What the agents' app keeps of technical requests, and the changes it may send (docs/sync.md):
the technical requests of the sector (open ones, and those closed in the last week), a request
reported in the field, its photos."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backend.accounts.scoping import STAFF_ROLES, scoped
from backend.estate import phones
from backend.estate.models import Residence
from backend.sync import media, push, records
from tickets import services
from tickets.models import OPEN_STATUSES, Appointment, IntakeChannel, Kind, Request, Status

RECENT_DAYS = 7  # phones keep the requests closed (or cancelled) in the last week
DESCRIPTION_CHARS = 280  # what a card shows; the whole text stays on the server
PLACE_JOINS = (
    "residence",
    "building__residence",
    "entrance__building__residence",
    "unit__entrance__building__residence",
    "equipment",
)


def _uuid(value, field="record"):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError({field: [_("This identifier is not valid.")]}) from None


def _id(data: dict, key: str) -> int | None:
    """An id the phone took from its records: a number, or nothing."""
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
        return int(value)
    if key == "person":
        message = _("This tenant is unknown or outside your sector.")
    else:
        message = _("This place is unknown or outside your sector.")
    raise ValidationError({f"{key}_id": [message]})


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    return value[:limit] if isinstance(value, str) else ""


def keep_requests(queryset):
    """Technical requests only: complaints (rent, charges, neighbours) are the office's, and
    say more about a household than a field agent needs on a phone."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    return queryset.filter(kind=Kind.TECHNICAL).filter(
        Q(status__in=OPEN_STATUSES)
        | Q(status__in=[Status.CLOSED, Status.CANCELLED], closed_at__gte=since)
    )


def serialize_requests(requests: list[Request]) -> list[dict]:
    """A page of requests: the place comes from the declared joins, the appointments of the
    whole page from one query."""
    appointments = {}
    if requests:
        booked = (
            Appointment.objects.filter(
                work_order__request_id__in=[r.pk for r in requests],
                status=Appointment.Status.BOOKED,
            )
            .order_by("slot__starts_at")
            .values_list("work_order__request_id", "slot__starts_at", "slot__ends_at")
        )
        for request_id, starts_at, ends_at in booked:
            appointments.setdefault(request_id, (starts_at, ends_at))
    out = []
    with translation.override(settings.LANGUAGE_CODE):  # the place in words, in French
        for r in requests:
            description = " ".join(r.description.split())
            if len(description) > DESCRIPTION_CHARS:
                description = description[: DESCRIPTION_CHARS - 1].rstrip() + "…"
            appointment = appointments.get(r.pk)
            out.append(
                {
                    "reference": r.reference,
                    "residence": r.residence_id,
                    "building": r.building_id,
                    "entrance": r.entrance_id,
                    "unit": r.unit_id,
                    "equipment": r.equipment_id,
                    "category": r.category,
                    "urgency": r.urgency,
                    "status": r.status,
                    "description": description,
                    "created_at": r.created_at.isoformat(),
                    "closed_at": r.closed_at.isoformat() if r.closed_at else None,
                    "place": r.place,
                    "appointment": appointment[0].isoformat() if appointment else None,
                    "appointment_end": appointment[1].isoformat() if appointment else None,
                    "channel": r.channel,
                }
            )
    return out


def _appointment_records(appointment: Appointment) -> list[tuple]:
    """A booked, moved or cancelled appointment changes its request's record."""
    from tickets.models import WorkOrder

    row = (
        WorkOrder.objects.filter(pk=appointment.work_order_id)
        .values_list("request_id", "residence_id")
        .first()
    )
    return [(row[0], row[1], None)] if row else []


def register() -> None:
    records.register(
        records.RecordType(
            kind="request",
            model=Request,
            residence="residence_id",
            serialize=lambda r: serialize_requests([r])[0],
            serialize_many=serialize_requests,
            keep=keep_requests,
            related=PLACE_JOINS,
            watch=((Appointment, _appointment_records),),
        )
    )
    push.register(
        push.Handler("request.create", create, current=current_request, after=attach_photos)
    )
    media.register("request.photo", attach_request_photo)


def current_request(user, record_id):
    request = scoped(user, Request).select_related(*PLACE_JOINS).filter(pk=_uuid(record_id)).first()
    if request is None:
        return None
    return {"t": "request", "id": str(request.pk), "d": serialize_requests([request])[0]}


def _contact_phone(user, data: dict, residence_id) -> str:
    """The mobile of the person to keep informed, in E.164 (a French refusal when it is not
    one), read for the residence's region (La Réunion's numbers for a residence there)."""
    raw = _text(data, "contact_phone", 32).strip()
    if not raw:
        return ""
    residence = (
        scoped(user, Residence).filter(pk=residence_id).only("postcode").first()
        if residence_id
        else None
    )
    try:
        return phones.parse_mobile(raw, residence.phone_region if residence else "FR")
    except ValidationError as exc:
        raise ValidationError({"contact_phone": exc.messages}) from None


def create(user, record_id, data):
    """`request.create`: a request reported in the field, its id made by the phone (a replay
    finds the first one). The tenant, or the person named, is told its reference at once."""
    if not isinstance(data, dict):
        data = {}
    request_id = _uuid(record_id)
    residence_id = _id(data, "residence")
    request = services.create_request(
        user,
        services.RequestInput(
            residence_id=residence_id,
            building_id=_id(data, "building"),
            entrance_id=_id(data, "entrance"),
            unit_id=_id(data, "unit"),
            equipment_id=_id(data, "equipment"),
            category=_text(data, "category", 20),
            urgency=_text(data, "urgency", 10),
            payer=_text(data, "payer", 10),
            description=_text(data, "description", 4001),
            person_id=_id(data, "person"),
            contact_name=_text(data, "contact_name", 200),
            contact_phone=_contact_phone(user, data, residence_id),
        ),
        IntakeChannel.FIELD,
        request_id=request_id,
    )
    return current_request(user, request.pk)


def attach_photos(user, record_id):
    media.attach_waiting(record_id)


def attach_request_photo(user, item, data: bytes):
    """`request.photo`: attached to its request once both are here, in whichever order."""
    if user.role not in STAFF_ROLES and not user.is_superuser:
        raise Http404
    request = scoped(user, Request).filter(pk=_uuid(item.record_id)).first()
    if request is None:
        raise Http404  # not arrived yet: attached when its request.create is applied
    services.add_photo(user, request, item.pk, data)
