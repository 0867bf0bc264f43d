"""Requests, incidents, work orders and appointments: every write goes through here, each in
one transaction with its timeline event and its messages (the outbox rows commit with it).
Rules: docs/tickets.md."""

import functools
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from backend.accounts.models import Role, User
from backend.accounts.scoping import STAFF_ROLES, get_scoped_or_404, require_role, scoped
from backend.core import images
from backend.core.errors import Conflict, ServiceError
from backend.core.text import join_for_search
from backend.estate.models import (
    Building,
    Entrance,
    Equipment,
    Lease,
    Person,
    Provider,
    ProviderKind,
    Residence,
    Unit,
)
from backend.estate.services import contracts_for
from tickets import deadlines
from tickets.models import (
    CATEGORY_RULES,
    OPEN_STATUSES,
    TRANSITIONS,
    Appointment,
    Category,
    Counter,
    Event,
    Incident,
    IntakeChannel,
    Link,
    Payer,
    Photo,
    Request,
    Slot,
    Status,
    Urgency,
    WorkOrder,
)

INTAKE_ROLES = STAFF_ROLES  # agents, advisors, managers, administrators take requests
STAFF_CHANNELS = {
    IntakeChannel.PHONE,
    IntakeChannel.COUNTER,
    IntakeChannel.FIELD,
    IntakeChannel.EMAIL,
    IntakeChannel.SMS,
    IntakeChannel.API,
}


def _in_french(function):
    """Messages and timeline lines are written in the organisation's language (French),
    whatever the language of the person whose action writes them."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return function(*args, **kwargs)

    return wrapper


def _label(user) -> str:
    if user is None or not user.is_authenticated:
        return ""
    if user.role == Role.CONTRACTOR and user.provider_id:
        return f"{user.display_name} ({user.provider.name})"
    return f"{user.display_name} ({user.get_role_display()})"


def _local(moment: datetime, organisation) -> datetime:
    return timezone.localtime(moment, organisation.zone)


def day_text(moment: datetime, organisation) -> str:
    return formats.date_format(_local(moment, organisation), "l j F")


def window_text(slot: Slot, organisation) -> str:
    def hour(moment):  # French style: "9 h", "14 h 30"
        return f"{moment.hour} h" + (f" {moment.minute:02d}" if moment.minute else "")

    start, end = _local(slot.starts_at, organisation), _local(slot.ends_at, organisation)
    return _("between %(start)s and %(end)s") % {"start": hour(start), "end": hour(end)}


# --- references, links ---------------------------------------------------------------------


def next_number(organisation_id: int, prefix: str, year: int) -> int:
    """The next number of a yearly sequence, safe under concurrent writers (an atomic update
    of one counter row, which also serialises them)."""
    for _attempt in range(2):
        updated = Counter.objects.filter(
            organisation_id=organisation_id, prefix=prefix, year=year
        ).update(value=F("value") + 1)
        if updated:
            return Counter.objects.get(
                organisation_id=organisation_id, prefix=prefix, year=year
            ).value
        try:
            with transaction.atomic():
                Counter.objects.create(
                    organisation_id=organisation_id, prefix=prefix, year=year, value=1
                )
            return 1
        except IntegrityError:
            continue  # created by another writer meanwhile: update it
    raise RuntimeError("reference counter unavailable")


def make_reference(organisation_id: int, prefix: str, at: datetime | None = None) -> str:
    year = timezone.localdate(at or timezone.now()).year
    return f"{prefix}{year}-{next_number(organisation_id, prefix, year):06d}"


def link_for(request: Request, person_id: int | None) -> str:
    """The person's personal link to the request's timeline (kept while valid)."""
    now = timezone.now()
    link = (
        Link.objects.filter(request=request, person_id=person_id, expires_at__gt=now)
        .only("token")
        .first()
    )
    if link is None:
        link = Link.objects.create(
            token=secrets.token_urlsafe(16),
            request=request,
            person_id=person_id,
            expires_at=now + timedelta(days=settings.TICKETS_LINK_DAYS),
        )
    return settings.SITE_URL + reverse("tickets:track", args=[link.token])


def request_from_link(token: str) -> tuple[Request, Link]:
    link = (
        Link.objects.select_related("request__residence", "request__organisation")
        .filter(token=token[:43])
        .first()
    )
    if link is None:
        raise ServiceError(
            _("This link is not valid. Check that it was copied whole, or call your agency."),
            code="bad_link",
            status=404,
        )
    if link.expires_at <= timezone.now():
        raise ServiceError(
            _(
                "This link has expired. The next message about your request will bring a new "
                "one; your agency can also tell you where it stands."
            ),
            code="expired_link",
            status=410,
        )
    return link.request, link


# --- the timeline and the tenant's messages ---------------------------------------------------


def add_event(request: Request, kind: str, text: str, *, user=None, label="", **fields) -> Event:
    return Event.objects.create(
        request=request,
        kind=kind,
        text=text,
        author=user if user is not None and user.is_authenticated else None,
        author_label=label or _label(user),
        **fields,
    )


MESSAGES = {
    # key: (title, text). The organisation may write its own template under the same key.
    "demande-prise-en-compte": (
        lambda: _("Request taken"),
        lambda: _(
            "Hello {{ prenom }}, your request {{ reference_demande }} is registered. We keep you "
            "informed of each step: {{ lien_suivi }} {{ agence }}"
        ),
    ),
    "demande-delai": (
        lambda: _("Request acknowledged"),
        lambda: _(
            "Hello {{ prenom }}, your request {{ reference_demande }} is being handled. "
            "{{ delai }} Follow it: {{ lien_suivi }} {{ agence }}"
        ),
    ),
    "demande-rdv": (
        lambda: _("Appointment"),
        lambda: _(
            "Hello {{ prenom }}, for your request {{ reference_demande }}, {{ prestataire }} "
            "will come on {{ date_rdv }} {{ heure_rdv }}. {{ lien_suivi }} {{ agence }}"
        ),
    ),
    "demande-rdv-rappel": (
        lambda: _("Appointment reminder"),
        lambda: _(
            "Reminder: {{ prestataire }} comes tomorrow, {{ date_rdv }} {{ heure_rdv }}, for "
            "your request {{ reference_demande }}. {{ agence }} {{ telephone_agence }}"
        ),
    ),
    "demande-rdv-annule": (
        lambda: _("Appointment cancelled"),
        lambda: _(
            "Hello {{ prenom }}, the appointment of {{ date_rdv }} {{ heure_rdv }} for your "
            "request {{ reference_demande }} is cancelled. {{ delai }} {{ agence }}"
        ),
    ),
    "demande-absent": (
        lambda: _("Missed visit"),
        lambda: _(
            "Hello {{ prenom }}, {{ prestataire }} could not get in for your request "
            "{{ reference_demande }}. {{ delai }} {{ agence }} {{ telephone_agence }}"
        ),
    ),
    "demande-realisee": (
        lambda: _("Intervention done"),
        lambda: _(
            "Hello {{ prenom }}, the intervention for your request {{ reference_demande }} is "
            "done. {{ lien_suivi }} {{ agence }}"
        ),
    ),
    "demande-cloture": (
        lambda: _("Request closed"),
        lambda: _(
            "Your request {{ reference_demande }} is closed. Are you satisfied? Reply from 1 "
            "(not at all) to 5 (very). {{ agence }}"
        ),
    ),
    "demande-cloture-contact": (
        lambda: _("Request closed"),
        lambda: _(
            "Hello {{ prenom }}, your request {{ reference_demande }} is closed. Thank you for "
            "reporting it. {{ agence }}"
        ),
    ),
    "demande-annulee": (
        lambda: _("Request cancelled"),
        lambda: _(
            "Hello {{ prenom }}, your request {{ reference_demande }} is cancelled: {{ delai }} "
            "{{ agence }} {{ telephone_agence }}"
        ),
    ),
    "demande-incident": (
        lambda: _("Grouped with other reports"),
        lambda: _(
            "Hello {{ prenom }}, other tenants reported the same problem: your request "
            "{{ reference_demande }} is handled with theirs and we keep you informed. "
            "{{ lien_suivi }} {{ agence }}"
        ),
    ),
}


def _texts(key: str, residence: Residence):
    from messaging.services import Texts, resolve_template, template_texts

    template = resolve_template(key, residence)
    if template is not None:
        return template_texts(template)
    title, body = MESSAGES[key]
    text = body()
    return Texts(sms_body=text, email_subject=str(title()), email_text=text)


@_in_french
def tell_tenant(
    request: Request,
    key: str,
    *,
    user=None,
    extra: dict | None = None,
    urgent: bool = True,
    expects_reply: bool = False,
) -> str:
    """Send the request's tenant (or its contact) the message `key`; record what they were
    told on the timeline. Returns the text, or "" when nobody can be reached."""
    from messaging.models import Message, Purpose
    from messaging.services import Contact, notify, notify_contacts

    residence = request.residence
    context = {
        "reference_demande": request.reference,
        "delai": "",
        "date_rdv": "",
        "heure_rdv": "",
        "prestataire": "",
        "lien_suivi": "",
        **(extra or {}),
    }
    texts = _texts(key, residence)
    title = f"{MESSAGES[key][0]()} — {request.reference}"
    campaign = None
    if request.person_id:
        context["lien_suivi"] = link_for(request, request.person_id)
        campaign = notify(
            [request.person_id],
            purpose=Purpose.OPERATIONAL,
            title=title,
            texts=texts,
            residence=residence,
            about=request,
            urgent=urgent,
            author=user if user is not None and user.is_authenticated else None,
            extra=context,
            expects_reply=expects_reply,
        )
    elif request.contact_phone or request.contact_email:
        if key == "demande-cloture":  # their text reply would reach nobody: no question
            key = "demande-cloture-contact"
            texts = _texts(key, residence)
        context["lien_suivi"] = link_for(request, None)
        campaign = notify_contacts(
            [Contact(request.contact_name, request.contact_email, request.contact_phone)],
            title=title,
            texts=texts,
            residence=residence,
            about=request,
            extra={"prenom": request.contact_name or _("Sir or Madam"), **context},
        )
    message = Message.objects.filter(campaign=campaign).order_by("pk").first() if campaign else None
    if message is None:
        add_event(
            request,
            Event.Kind.TOLD,
            _("Nobody could be told: no mobile or e-mail for this request."),
            internal=True,
            label=_("Ronde"),
        )
        return ""
    add_event(
        request,
        Event.Kind.TOLD,
        _("Tenant informed: %(title)s") % {"title": MESSAGES[key][0]()},
        told=message.body,
        channel=message.channel,
        label=_("Ronde"),
    )
    return message.body


# --- intake --------------------------------------------------------------------------------------


@dataclass
class RequestInput:
    residence_id: int | None = None
    building_id: int | None = None
    entrance_id: int | None = None
    unit_id: int | None = None
    equipment_id: int | None = None
    category: str = ""
    urgency: str = ""
    payer: str = ""
    description: str = ""
    person_id: int | None = None
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""


def _place(user, data: RequestInput, residences=None):
    """Resolve and check the location: the finest given place fills the coarser ones, and every
    place must be in the user's scope (or, for public intake, in `residences`)."""
    errors = {}

    def get(model, pk, field):
        if pk in (None, ""):
            return None
        queryset = model.objects.all()
        if residences is not None:
            queryset = queryset.filter(
                **({"pk__in": residences} if model is Residence else {"residence__in": residences})
            )
        else:
            queryset = scoped(user, queryset)
        try:
            return queryset.get(pk=pk)
        except (model.DoesNotExist, ValueError, TypeError):
            errors[field] = [_("This place is unknown or outside your sector.")]
            return None

    unit = get(Unit, data.unit_id, "unit_id")
    equipment = get(Equipment, data.equipment_id, "equipment_id")
    entrance = get(Entrance, data.entrance_id, "entrance_id")
    building = get(Building, data.building_id, "building_id")
    residence = get(Residence, data.residence_id, "residence_id")
    if unit is not None:
        entrance = entrance or unit.entrance
        if entrance.pk != unit.entrance_id:
            errors["unit_id"] = [_("This unit is not in the chosen entrance.")]
    if equipment is not None:
        entrance = entrance or equipment.entrance
        building = building or equipment.building
        residence = residence or equipment.residence
    if entrance is not None:
        building = building or entrance.building
        if entrance.building_id != building.pk:
            errors["entrance_id"] = [_("This entrance is not in the chosen building.")]
    if building is not None:
        residence = residence or building.residence
        if building.residence_id != residence.pk:
            errors["building_id"] = [_("This building is not in the chosen residence.")]
    if equipment is not None and equipment.residence_id != getattr(residence, "pk", None):
        errors["equipment_id"] = [_("This equipment is not in the chosen residence.")]
    if residence is None and not errors:
        errors["residence_id"] = [
            _("Say where the problem is: a unit, an entrance or a residence.")
        ]
    if errors:
        raise ValidationError(errors)
    return residence, building, entrance, unit, equipment


def _check_fields(data: RequestInput) -> dict:
    errors = {}
    if data.category not in CATEGORY_RULES:
        errors["category"] = [_("Choose a category.")]
    if data.urgency and data.urgency not in Urgency.values:
        errors["urgency"] = [_("Choose an urgency.")]
    if data.payer and data.payer not in Payer.values:
        errors["payer"] = [_("Choose who pays.")]
    description = (data.description or "").strip()
    if len(description) < 3:
        errors["description"] = [_("Describe the problem in a few words.")]
    elif len(description) > 4000:
        errors["description"] = [_("The description is too long (4,000 characters at most).")]
    return errors


def _person(user, data: RequestInput, unit, residences=None):
    if not data.person_id:
        return None
    people = Person.objects.select_related("household")
    people = people if residences is not None else scoped(user, people)
    person = people.filter(pk=data.person_id).first()
    if person is None:
        raise ValidationError({"person_id": [_("This tenant is unknown or outside your sector.")]})
    if unit is not None:
        living = Lease.objects.current().filter(unit=unit, household_id=person.household_id)
        if not living.exists():
            raise ValidationError({"person_id": [_("This tenant does not live in this unit.")]})
    return person


@_in_french
def create_request(
    user,
    data: RequestInput,
    channel: str,
    *,
    request_id: uuid.UUID | None = None,
    acknowledge: bool = False,
    residences=None,
    label: str = "",
) -> Request:
    """Take a request. Staff act within their scope; public intake (QR code, tenant portal,
    inbound SMS) passes `residences` and no user. A phone's retry with the same id returns the
    first request. The tenant gets its reference at once."""
    if residences is None:
        require_role(user, INTAKE_ROLES)
        if channel not in STAFF_CHANNELS:
            raise ValidationError({"channel": [_("Choose how the request came in.")]})
    if request_id is not None:
        existing = _same_id(user, request_id, residences)
        if existing is not None:
            return existing
    errors = _check_fields(data)
    try:
        residence, building, entrance, unit, equipment = _place(user, data, residences)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    person = _person(user, data, unit, residences)
    contact_phone = data.contact_phone.strip()
    if contact_phone:
        from backend.estate import phones

        try:
            contact_phone = phones.parse_mobile(contact_phone, residence.phone_region)
        except ValidationError:
            raise ValidationError(
                {"contact_phone": [_("Enter a mobile number (06 or 07…) or leave it empty.")]}
            ) from None
    contact_email = data.contact_email.strip().lower()
    if contact_email:
        from django.core.validators import validate_email

        try:
            validate_email(contact_email)
        except ValidationError:
            raise ValidationError({"contact_email": [_("Enter a valid e-mail address.")]}) from None
    rule = CATEGORY_RULES[data.category]
    urgency = data.urgency or rule.urgency
    payer = data.payer or (
        Payer.CONTRACT if equipment and equipment.contract_id else Payer.LANDLORD
    )
    now = timezone.now()
    acknowledge_due, resolve_due = deadlines.due_dates(
        residence.organisation_id, data.category, urgency, now
    )
    office_hours = deadlines.is_office_hours(residence.organisation, now)  # one query, always
    household = person.household if person else None
    if household is None and unit is not None:
        lease = Lease.objects.current().filter(unit=unit).select_related("household").first()
        household = lease.household if lease else None
    with transaction.atomic():
        request = Request(
            id=request_id or uuid.uuid4(),
            reference=make_reference(residence.organisation_id, "D", now),
            organisation_id=residence.organisation_id,
            residence=residence,
            building=building,
            entrance=entrance,
            unit=unit,
            equipment=equipment,
            kind=rule.kind,
            category=data.category,
            team=rule.team,
            urgency=urgency,
            payer=payer,
            description=data.description.strip(),
            channel=channel,
            household=household,
            person=person,
            contact_name=data.contact_name.strip()[:200],
            contact_phone=contact_phone,
            contact_email=contact_email[:254],
            created_by=user if user is not None and user.is_authenticated else None,
            created_at=now,
            acknowledge_due_at=acknowledge_due,
            resolve_due_at=resolve_due,
        )
        request.search_text = search_text_of(request)
        try:
            with transaction.atomic():
                request.save(force_insert=True)
        except IntegrityError:
            # The same phone's id sent twice at once: the other one won.
            existing = _same_id(user, request.pk, residences)
            if existing is not None:
                return existing
            raise
        add_event(
            request,
            Event.Kind.CREATED,
            _("Request taken (%(channel)s): %(category)s, %(urgency)s.")
            % {
                "channel": request.get_channel_display(),
                "category": request.get_category_display(),
                "urgency": request.get_urgency_display().lower(),
            },
            user=user,
            label=label,
            channel=channel,
            status=Status.NEW,
        )
        tell_tenant(request, "demande-prise-en-compte", user=user)
        if urgency == Urgency.URGENT and not office_hours:
            from tickets import oncall

            oncall.route(request)
        if acknowledge:
            _move(request, Status.ACKNOWLEDGED, user, _("Request acknowledged."))
    return request


def _same_id(user, request_id, residences):
    """A retry of the caller's own request (same id), within what the caller may see; an id
    that another request holds outside that scope is refused, never revealed."""
    if not Request.objects.filter(pk=request_id).exists():
        return None
    visible = (
        scoped(user, Request)
        if residences is None
        else Request.objects.filter(residence_id__in=residences)
    )
    existing = visible.filter(pk=request_id).first()
    if existing is None:
        raise Conflict(_("This identifier is already used: make a new one."), code="id_taken")
    return existing


def search_text_of(request: Request) -> str:
    person = request.person
    return join_for_search(
        request.reference,
        request.residence.name,
        request.residence.address,
        request.residence.city,
        request.entrance.address if request.entrance else "",
        request.unit.door if request.unit else "",
        person.first_name if person else "",
        person.last_name if person else "",
        request.household.name if request.household else "",
        request.contact_name,
    )[:600]


def add_photo(user, request: Request, photo_id: uuid.UUID, data: bytes, work_order=None) -> Photo:
    """Store a request's photo once (its id is the phone's), stripped of every metadata and
    resized before the short transaction that records it."""
    existing = Photo.objects.filter(pk=photo_id).first()
    if existing is not None:
        if existing.request_id != request.pk:
            raise ValidationError({"photo": [_("This photo belongs to another request.")]})
        return existing
    processed = images.process(data)
    photo = Photo(
        id=photo_id,
        request=request,
        work_order=work_order,
        residence_id=request.residence_id,
        width=processed.width,
        height=processed.height,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    photo.image.save(f"{photo_id}.jpg", ContentFile(processed.image), save=False)
    photo.thumbnail.save(f"{photo_id}-thumb.jpg", ContentFile(processed.thumbnail), save=False)
    try:
        with transaction.atomic():
            photo.save(force_insert=True)
    except IntegrityError:
        photo.image.delete(save=False)
        photo.thumbnail.delete(save=False)
        return Photo.objects.get(pk=photo_id)
    return photo


# --- statuses -------------------------------------------------------------------------------


def _followers(request: Request) -> list[Request]:
    """The other open requests of the request's incident: they follow it."""
    if request.incident_id is None:
        return []
    return list(
        # Only the requests' rows: PostgreSQL cannot lock the nullable side of an outer join.
        Request.objects.select_for_update(of=("self",))
        .filter(incident_id=request.incident_id, status__in=OPEN_STATUSES)
        .exclude(pk=request.pk)
        .select_related("residence", "person")
    )


def _move(request: Request, status: str, user, text: str, *, told_key=None, extra=None):
    """Change the status of a request (and of the requests that follow it under an incident),
    with an event each, and tell each tenant."""
    if status == request.status:
        raise Conflict(
            _("This request is already “%(current)s”.") % {"current": request.get_status_display()},
            code="bad_transition",
        )
    if status not in TRANSITIONS[request.status]:
        raise Conflict(
            _("A request that is “%(current)s” cannot become “%(wanted)s”.")
            % {"current": request.get_status_display(), "wanted": Status(status).label},
            code="bad_transition",
        )
    now = timezone.now()
    followers = [] if status == Status.CANCELLED else _followers(request)
    for each in [request, *followers]:
        if each is not request and (
            each.status == status
            or status not in TRANSITIONS.get(each.status, set())
            or (
                status == Status.DONE
                and each.work_orders.filter(status__in=WorkOrder.OPEN).exists()
            )
        ):
            continue
        each.status = status
        fields = ["status", "updated_at"]
        if status == Status.ACKNOWLEDGED and each.acknowledged_at is None:
            each.acknowledged_at = now
            fields.append("acknowledged_at")
        if status == Status.DONE:
            each.done_at = now
            fields.append("done_at")
        if status in (Status.CLOSED, Status.CANCELLED):
            each.closed_at = now
            fields.append("closed_at")
        each.save(update_fields=fields)
        add_event(each, Event.Kind.STATUS, text, user=user, status=status)
        if told_key:
            tell_tenant(
                each,
                told_key,
                user=user,
                extra=extra,
                expects_reply=told_key == "demande-cloture",
            )
    if (
        request.incident_id
        and status in (Status.DONE, Status.CLOSED)
        and not request.incident.requests.filter(status__in=OPEN_STATUSES)
        .exclude(status=Status.DONE)
        .exists()
    ):
        _resolve_incident(request.incident)


def _resolve_incident(incident: Incident):
    if incident.status == Incident.Status.RESOLVED:
        return
    incident.status = Incident.Status.RESOLVED
    incident.resolved_at = timezone.now()
    incident.public_note = ""
    incident.save(update_fields=["status", "resolved_at", "public_note"])
    from tickets import public

    public.tell_subscribers(incident)


def _staff_request(user, request_id, lock=True) -> Request:
    require_role(user, STAFF_ROLES)
    queryset = Request.objects.select_related("residence__organisation", "person", "incident")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return get_scoped_or_404(user, queryset, pk=request_id)


@_in_french
def acknowledge(user, request_id, delay: str = "") -> Request:
    """The request is qualified and taken in charge; `delay` (an estimated delay in words) is
    sent to the tenant."""
    with transaction.atomic():
        request = _staff_request(user, request_id)
        _move(
            request,
            Status.ACKNOWLEDGED,
            user,
            _("Request acknowledged.") + (f" {delay.strip()}" if delay.strip() else ""),
            told_key="demande-delai" if delay.strip() else None,
            extra={"delai": delay.strip()[:200]},
        )
    return request


@_in_french
def mark_done(user, request_id, comment: str = "") -> Request:
    """Done without a work order (an agent fixed it, a complaint answered)."""
    with transaction.atomic():
        request = _staff_request(user, request_id)
        if request.work_orders.filter(status__in=WorkOrder.OPEN).exists():
            raise Conflict(
                _("A work order is open: the contractor reports the intervention done."),
                code="order_open",
            )
        _move(
            request,
            Status.DONE,
            user,
            _("Done.") + (f" {comment.strip()}" if comment.strip() else ""),
            told_key="demande-realisee",
        )
    return request


@_in_french
def close(user, request_id, comment: str = "") -> Request:
    """Closure confirmed: the tenant is asked one question by SMS (1 to 5)."""
    with transaction.atomic():
        request = _staff_request(user, request_id)
        if request.status != Status.DONE:
            raise Conflict(
                _("Only a request whose intervention is done can be closed."),
                code="bad_transition",
            )
        _move(
            request,
            Status.CLOSED,
            user,
            _("Closed.") + (f" {comment.strip()}" if comment.strip() else ""),
            told_key="demande-cloture",
        )
        Request.objects.filter(
            Q(pk=request.pk) | Q(incident_id=request.incident_id, incident__isnull=False),
            status=Status.CLOSED,
            satisfaction_asked_at__isnull=True,
        ).update(satisfaction_asked_at=timezone.now())
    return request


@_in_french
def cancel(user, request_id, reason: str) -> Request:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the request is cancelled.")]})
    with transaction.atomic():
        request = _staff_request(user, request_id)
        incident = request.incident
        if incident is not None:
            # Only this request is cancelled (a duplicate, a mistake): it leaves its incident,
            # unless it carries the work order the others follow.
            others = incident.requests.filter(status__in=OPEN_STATUSES).exclude(pk=request.pk)
            if others.exists() and request.work_orders.filter(status__in=WorkOrder.OPEN).exists():
                raise Conflict(
                    _(
                        "This request carries the work order its incident's other requests "
                        "follow: cancel the order first, or the other requests."
                    ),
                    code="order_open",
                )
            Request.objects.filter(pk=request.pk).update(incident=None)
            request.incident = None
        _move(
            request,
            Status.CANCELLED,
            user,
            _("Cancelled: %(reason)s") % {"reason": reason},
            told_key="demande-annulee",
            extra={"delai": reason[:200]},
        )
        for order in request.work_orders.filter(status__in=WorkOrder.OPEN):
            _cancel_order(order, user, _("The request was cancelled."))
        if (
            incident is not None
            and not incident.requests.filter(status__in=OPEN_STATUSES)
            .exclude(status=Status.DONE)
            .exists()
        ):
            _resolve_incident(incident)
    return request


@_in_french
def add_note(user, request_id, text: str, internal: bool = True) -> Event:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Write the note.")]})
    with transaction.atomic():
        request = _staff_request(user, request_id)
        return add_event(request, Event.Kind.NOTE, text[:4000], user=user, internal=internal)


@_in_french
def update_request(user, request_id, *, urgency=None, payer=None, category=None) -> Request:
    """Qualify a request: urgency, who pays, category (deadlines follow)."""
    with transaction.atomic():
        request = _staff_request(user, request_id)
        if not request.is_open:
            raise Conflict(_("This request is finished: it can no longer change."))
        changes = []
        if category and category != request.category:
            if category not in CATEGORY_RULES:
                raise ValidationError({"category": [_("Choose a category.")]})
            rule = CATEGORY_RULES[category]
            request.category, request.kind, request.team = category, rule.kind, rule.team
            changes.append(_("category: %(value)s") % {"value": request.get_category_display()})
        if urgency and urgency != request.urgency:
            if urgency not in Urgency.values:
                raise ValidationError({"urgency": [_("Choose an urgency.")]})
            request.urgency = urgency
            changes.append(_("urgency: %(value)s") % {"value": request.get_urgency_display()})
        if payer and payer != request.payer:
            if payer not in Payer.values:
                raise ValidationError({"payer": [_("Choose who pays.")]})
            request.payer = payer
            changes.append(_("who pays: %(value)s") % {"value": request.get_payer_display()})
        if not changes:
            return request
        request.acknowledge_due_at, request.resolve_due_at = deadlines.due_dates(
            request.organisation_id, request.category, request.urgency, request.created_at
        )
        request.save()
        add_event(request, Event.Kind.NOTE, "; ".join(changes).capitalize(), user=user)
    return request


# --- incidents ------------------------------------------------------------------------------


def grouping_candidates(request: Request) -> tuple[list[Incident], list[Request]]:
    """Open incidents and other open requests that seem to be about the same failure: the same
    equipment, or the same category at the same entrance (or common areas of the residence)
    within TICKETS_GROUPING_HOURS."""
    if request.incident_id or not request.is_open:
        return [], []
    since = request.created_at - timedelta(hours=settings.TICKETS_GROUPING_HOURS)
    if request.equipment_id:
        # The same lift, or the same category reported at its entrance (a tenant who called
        # about "the lift" without naming it).
        same = Q(equipment_id=request.equipment_id)
        if request.entrance_id:
            same |= Q(entrance_id=request.entrance_id, category=request.category)
    elif request.entrance_id:
        same = Q(entrance_id=request.entrance_id, category=request.category)
    else:
        same = Q(
            residence_id=request.residence_id,
            entrance__isnull=True,
            category=request.category,
        )
    incidents = list(
        Incident.objects.filter(same, status=Incident.Status.OPEN).order_by("-created_at")[:5]
    )
    requests = list(
        Request.objects.filter(same, status__in=OPEN_STATUSES, created_at__gte=since)
        .exclude(pk=request.pk)
        .select_related("person")
        .order_by("created_at")[:20]
    )
    return incidents, requests


@_in_french
def group(user, request_ids: list, incident_id=None, title: str = "") -> Incident:
    """Group requests under an incident (a new one, or an open one): they follow it from now
    on, and each reporter is told."""
    require_role(user, STAFF_ROLES)
    with transaction.atomic():
        requests = list(
            scoped(user, Request)
            .select_for_update(of=("self",))
            .filter(pk__in=request_ids)
            .select_related("residence", "person", "equipment", "entrance")
            .order_by("created_at")
        )
        if not requests or len(requests) != len(set(map(str, request_ids))):
            raise ValidationError({"requests": [_("Choose the requests to group.")]})
        if incident_id:
            incident = get_scoped_or_404(user, Incident.objects.select_for_update(), pk=incident_id)
            if incident.status != Incident.Status.OPEN:
                raise Conflict(_("This incident is resolved: open a new one."))
        else:
            if len(requests) < 2:
                raise ValidationError(
                    {"requests": [_("An incident groups at least two requests.")]}
                )
            first = requests[0]
            # Never the unit: the title reaches the hall's QR page and the whole entrance.
            common_place = first.equipment or first.entrance or first.building or first.residence
            incident = Incident.objects.create(
                organisation_id=first.organisation_id,
                residence=first.residence,
                entrance=first.entrance,
                equipment=first.equipment,
                category=first.category,
                title=(title.strip() or f"{first.get_category_display()} — {common_place}")[:200],
                created_by=user,
            )
        if any(r.residence_id != incident.residence_id for r in requests):
            raise ValidationError(
                {"requests": [_("These requests are not in the same residence.")]}
            )
        lead = incident.requests.filter(status__in=OPEN_STATUSES).order_by("created_at").first()
        for request in requests:
            if request.incident_id == incident.pk:
                continue
            if not request.is_open:
                raise Conflict(
                    _("Request %(reference)s is finished: it cannot be grouped.")
                    % {"reference": request.reference}
                )
            request.incident = incident
            request.save(update_fields=["incident", "updated_at"])
            add_event(
                request,
                Event.Kind.GROUPED,
                _("Grouped under the incident “%(title)s”.") % {"title": incident.title},
                user=user,
            )
            tell_tenant(request, "demande-incident", user=user)
            lead = lead or request
            if lead is not request and lead.status != request.status:
                # Follow the incident's lead: its status, and its live work order if any.
                target = lead.status
                if target in TRANSITIONS[request.status]:
                    request.status = target
                    request.save(update_fields=["status", "updated_at"])
                    add_event(request, Event.Kind.STATUS, _("Follows the incident."), status=target)
    return incident


@_in_french
def inform_entrance(user, incident_id, text: str):
    """One action informs the whole entrance (or residence) of an incident."""
    from messaging.services import CampaignInput, Texts, create_campaign

    require_role(user, STAFF_ROLES)
    incident = get_scoped_or_404(user, Incident, pk=incident_id)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Write the message.")]})
    audience = (
        {"kind": "entrance", "ids": [incident.entrance_id]}
        if incident.entrance_id
        else {"kind": "residence", "ids": [incident.residence_id]}
    )
    campaign = create_campaign(
        user,
        CampaignInput(
            title=incident.title,
            purpose="operational",
            audience=audience,
            texts=Texts(sms_body=text, email_subject=incident.title, email_text=text),
            personalised=True,
            urgent=True,
        ),
    )
    from django.contrib.contenttypes.models import ContentType

    from messaging.models import Campaign

    Campaign.objects.filter(pk=campaign.pk).update(
        content_type=ContentType.objects.get_for_model(Incident), object_id=str(incident.pk)
    )
    with transaction.atomic():
        for request in incident.requests.filter(status__in=OPEN_STATUSES):
            add_event(
                request,
                Event.Kind.TOLD,
                _("The whole entrance was informed."),
                told=text,
                user=user,
            )
    return campaign


# --- work orders ----------------------------------------------------------------------------


def default_provider(request: Request):
    """The contractor whose active contract covers the residence and the category, else the
    organisation's régie. Returns (provider, contract)."""
    rule = CATEGORY_RULES[request.category]
    if request.equipment_id and request.equipment.contract_id:
        contract = request.equipment.contract
        if contract.is_active():
            return contract.provider, contract
    if rule.work:
        contract = contracts_for([request.residence_id], rule.work).get(request.residence_id)
        if contract is None and rule.work != "multi":
            contract = contracts_for([request.residence_id], "multi").get(request.residence_id)
        if contract is not None:
            return contract.provider, contract
    regie = Provider.objects.filter(
        organisation_id=request.organisation_id, kind=ProviderKind.REGIE
    ).first()
    return regie, None


@dataclass
class OrderInput:
    provider_id: int | None = None
    technician_id: int | None = None
    access: str = WorkOrder.Access.TENANT_PRESENT
    access_note: str = ""
    instructions: str = ""
    price_line: str = ""


def _tell_provider(order: WorkOrder, subject: str, text: str) -> None:
    from messaging.services import Contact, Texts, notify_contacts

    provider = order.provider
    contacts = [Contact(provider.name, provider.email)] if provider.email else []
    if order.technician_id and order.technician.email:
        contacts.append(Contact(order.technician.display_name, order.technician.email))
    link = settings.SITE_URL + reverse("tickets:order", args=[order.pk])
    notify_contacts(
        contacts,
        title=f"{subject} — {order.number}",
        texts=Texts(email_subject=f"{subject} — {order.number}", email_text=f"{text}\n\n{link}"),
        residence=order.request.residence,
        about=order,
    )


@_in_french
def send_order(user, request_id, data: OrderInput) -> WorkOrder:
    """Pass the request to a contractor (default: the one whose contract covers the residence
    and category) or the régie, with the purchase order and entry conditions."""
    require_role(user, {Role.ADVISOR, Role.MANAGER, Role.ADMIN, Role.AGENT})
    with transaction.atomic():
        request = _staff_request(user, request_id)
        if request.kind != "technical":
            raise Conflict(_("A complaint is handled by its team, not by a contractor."))
        if not request.is_open or request.status == Status.DONE:
            raise Conflict(_("This request is not waiting for an intervention."))
        if request.work_orders.filter(status__in=WorkOrder.OPEN).exists():
            raise Conflict(_("A work order is already open for this request."), code="order_open")
        provider, contract = default_provider(request)
        if data.provider_id:
            provider = Provider.objects.filter(
                pk=data.provider_id, organisation_id=request.organisation_id
            ).first()
            if provider is None:
                raise ValidationError({"provider_id": [_("Choose a contractor.")]})
            if contract is None or contract.provider_id != provider.pk:
                contract = next(
                    (
                        c
                        for c in provider.contracts.filter(residences=request.residence_id)
                        if c.is_active()
                    ),
                    None,
                )
        if provider is None:
            raise ValidationError(
                {"provider_id": [_("No contract covers this residence: choose a contractor.")]}
            )
        if provider.kind != ProviderKind.REGIE and contract is None:
            raise ValidationError(
                {"provider_id": [_("This contractor has no contract for this residence.")]}
            )
        if data.access not in WorkOrder.Access.values:
            raise ValidationError({"access": [_("Choose the entry conditions.")]})
        technician = None
        if data.technician_id:
            technician = User.objects.filter(
                pk=data.technician_id, is_active=True, provider=provider
            ).first()
            if technician is None:
                raise ValidationError({"technician_id": [_("This technician is not in the team.")]})
        order = WorkOrder.objects.create(
            number=make_reference(request.organisation_id, "BT"),
            organisation_id=request.organisation_id,
            request=request,
            residence_id=request.residence_id,
            provider=provider,
            contract=contract,
            purchase_order=contract.purchase_order_reference if contract else "",
            price_line=data.price_line.strip()[:100],
            access=data.access,
            access_note=data.access_note.strip()[:300],
            instructions=data.instructions.strip(),
            technician=technician,
            created_by=user,
        )
        if request.status == Status.NEW:
            _move(request, Status.ACKNOWLEDGED, user, _("Request acknowledged."))
        add_event(
            request,
            Event.Kind.ORDER,
            _("Work order %(number)s sent to %(provider)s.")
            % {"number": order.number, "provider": provider.name},
            user=user,
        )
        _tell_provider(
            order,
            _("New work order"),
            _(
                "Work order %(number)s: %(category)s at %(place)s.\n%(description)s\n"
                "Entry: %(access)s %(note)s"
            )
            % {
                "number": order.number,
                "category": request.get_category_display(),
                "place": request.place,
                "description": request.description,
                "access": order.get_access_display(),
                "note": order.access_note,
            },
        )
    return order


def _contractor_order(user, order_id, lock=True) -> WorkOrder:
    """An order the contractor (or the régie's technician, or staff) may act on; another
    contractor's order does not exist for them."""
    if not user.is_authenticated:
        raise PermissionDenied
    queryset = WorkOrder.objects.select_related(
        "request__residence__organisation", "request__person", "provider", "request__incident"
    )
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return get_scoped_or_404(user, queryset, pk=order_id)


def _require_contractor_or_staff(user, order: WorkOrder):
    if user.is_superuser or user.role in (Role.ADVISOR, Role.MANAGER, Role.ADMIN):
        return
    if user.role == Role.CONTRACTOR and user.provider_id == order.provider_id:
        return
    raise PermissionDenied


def _order_event(order: WorkOrder, user, text: str, neutral: str | None = None) -> None:
    """The order's own request gets the whole line; the other requests of its incident (other
    households, whose links show their timeline) a line without comments or names."""
    add_event(order.request, Event.Kind.MILESTONE, text, user=user)
    for follower in _followers(order.request):
        add_event(follower, Event.Kind.MILESTONE, neutral or text, user=user)


@_in_french
def accept_order(user, order_id) -> WorkOrder:
    with transaction.atomic():
        order = _contractor_order(user, order_id)
        _require_contractor_or_staff(user, order)
        if order.status != WorkOrder.Status.SENT:
            raise Conflict(_("This work order was already answered."), code="bad_transition")
        order.status, order.answered_at = WorkOrder.Status.ACCEPTED, timezone.now()
        order.save(update_fields=["status", "answered_at"])
        _order_event(order, user, _("Work order %(number)s accepted.") % {"number": order.number})
    return order


@_in_french
def decline_order(user, order_id, reason: str) -> WorkOrder:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why you decline this work order.")]})
    with transaction.atomic():
        order = _contractor_order(user, order_id)
        _require_contractor_or_staff(user, order)
        if order.status != WorkOrder.Status.SENT:
            raise Conflict(_("This work order was already answered."), code="bad_transition")
        order.status, order.answered_at = WorkOrder.Status.DECLINED, timezone.now()
        order.comment = reason
        order.save(update_fields=["status", "answered_at", "comment"])
        _order_event(
            order,
            user,
            _("Work order %(number)s declined: %(reason)s")
            % {"number": order.number, "reason": reason},
            neutral=_("Work order %(number)s declined.") % {"number": order.number},
        )
    return order


def _cancel_order(order: WorkOrder, user, why: str) -> None:
    order.status = WorkOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    for appointment in order.appointments.filter(status=Appointment.Status.BOOKED):
        appointment.status, appointment.ended_at = Appointment.Status.CANCELLED, timezone.now()
        appointment.save(update_fields=["status", "ended_at"])
    add_event(order.request, Event.Kind.ORDER, f"{order.number} — {why}", user=user)
    _tell_provider(order, _("Work order cancelled"), why)


MILESTONES = {
    "on_site": WorkOrder.Status.ON_SITE,
    "no_access": WorkOrder.Status.NO_ACCESS,
    "another_visit": WorkOrder.Status.ANOTHER_VISIT,
    "done": WorkOrder.Status.DONE,
}


@dataclass
class Milestone:
    kind: str
    comment: str = ""
    signatory_name: str = ""
    signature: bytes | None = None
    photo: bytes | None = None
    photo_id: uuid.UUID | None = None


def _next_slot_text(order: WorkOrder) -> str:
    slot = free_slots(order.provider_id, after=timezone.now()).first()
    if slot is None:
        return _("We will call you to set a new appointment.")
    organisation = order.request.residence.organisation
    return _("A new appointment is offered on %(day)s %(window)s: call us to confirm it.") % {
        "day": day_text(slot.starts_at, organisation),
        "window": window_text(slot, organisation),
    }


@_in_french
def report(user, order_id, milestone: Milestone) -> WorkOrder:
    """A contractor's milestone: on site, tenant absent or no access (a new slot is offered),
    another visit needed, done (comment, photo, the tenant's signature on the report)."""
    if milestone.kind not in MILESTONES:
        raise ValidationError({"kind": [_("Choose what happened.")]})
    if milestone.photo:
        images.process(milestone.photo)  # refused now, before the milestone is written
    signature = images.process_signature(milestone.signature) if milestone.signature else None
    with transaction.atomic():
        order = _contractor_order(user, order_id)
        _require_contractor_or_staff(user, order)
        if not order.is_open or order.status == WorkOrder.Status.SENT:
            raise Conflict(
                _("This work order is not in progress: accept it first.")
                if order.status == WorkOrder.Status.SENT
                else _("This work order is finished."),
                code="bad_transition",
            )
        request = order.request
        status = MILESTONES[milestone.kind]
        comment = (milestone.comment or "").strip()
        if status == WorkOrder.Status.DONE and not comment:
            raise ValidationError({"comment": [_("Say what was done.")]})
        order.status = status
        order.comment = comment or order.comment
        fields = ["status", "comment"]
        booked = order.appointments.filter(status=Appointment.Status.BOOKED).select_related("slot")
        if status == WorkOrder.Status.DONE:
            booked.update(ended_at=timezone.now())  # kept as the visit that happened
        elif status in (WorkOrder.Status.NO_ACCESS, WorkOrder.Status.ANOTHER_VISIT):
            booked.update(status=Appointment.Status.CANCELLED, ended_at=timezone.now())
        names = {
            WorkOrder.Status.ON_SITE: _("Technician on site."),
            WorkOrder.Status.NO_ACCESS: _("Tenant absent or no access."),
            WorkOrder.Status.ANOTHER_VISIT: _("Another visit is needed."),
            WorkOrder.Status.DONE: _("Intervention done."),
        }
        text = names[status] + (f" {comment}" if comment else "")
        if status == WorkOrder.Status.DONE:
            order.done_at = timezone.now()
            order.signatory_name = milestone.signatory_name.strip()[:200]
            fields += ["done_at", "signatory_name"]
            if signature:
                order.signature.save(f"{order.pk}.png", ContentFile(signature), save=False)
                fields.append("signature")
            if order.signatory_name:
                text += " " + _("Report signed by %(name)s.") % {"name": order.signatory_name}
        order.save(update_fields=fields)
        _order_event(order, user, text, neutral=names[status])
        if status == WorkOrder.Status.DONE:
            _move(
                request,
                Status.DONE,
                user,
                _("Intervention reported done."),
                told_key="demande-realisee",
            )
        elif (
            status in (WorkOrder.Status.NO_ACCESS, WorkOrder.Status.ANOTHER_VISIT)
            and request.status == Status.SCHEDULED
        ):
            _move(
                request,
                Status.ACKNOWLEDGED,
                user,
                _("Waiting for a new appointment."),
                told_key="demande-absent" if status == WorkOrder.Status.NO_ACCESS else None,
                extra={"prestataire": order.provider.name, "delai": _next_slot_text(order)},
            )
    if milestone.photo:
        add_photo(user, request, milestone.photo_id or uuid.uuid4(), milestone.photo, order)
    return order


# --- slots and appointments ------------------------------------------------------------------


def free_slots(provider_id: int, after: datetime | None = None):
    """A provider's slots that are still free, from `after` on."""
    booked = Appointment.objects.filter(status=Appointment.Status.BOOKED).values("slot_id")
    return (
        Slot.objects.filter(provider_id=provider_id, starts_at__gte=after or timezone.now())
        .exclude(pk__in=booked)
        .order_by("starts_at")
    )


def publish_slots(user, windows: list[tuple[datetime, datetime]], technician_id=None) -> list[Slot]:
    """A contractor publishes free windows (each between 30 minutes and 12 hours, in the
    future, not overlapping its other slots for the same technician)."""
    if not (user.is_authenticated and user.role == Role.CONTRACTOR and user.provider_id):
        raise PermissionDenied
    now = timezone.now()
    errors = []
    for start, end in windows:
        if start is None or end is None or end <= start:
            errors.append(_("A slot ends after it starts."))
        elif start < now:
            errors.append(_("A slot cannot be in the past."))
        elif not timedelta(minutes=30) <= end - start <= timedelta(hours=12):
            errors.append(_("A slot lasts between 30 minutes and 12 hours."))
    if not windows:
        errors.append(_("Give at least one slot."))
    if errors:
        raise ValidationError({"slots": sorted(set(map(str, errors)))})
    technician = None
    if technician_id:
        technician = User.objects.filter(pk=technician_id, provider_id=user.provider_id).first()
        if technician is None:
            raise ValidationError({"technician_id": [_("This technician is not in the team.")]})
    with transaction.atomic():
        slots = []
        for start, end in windows:
            overlap = Slot.objects.filter(
                provider_id=user.provider_id,
                technician=technician,
                starts_at__lt=end,
                ends_at__gt=start,
            ).exists()
            if overlap:
                raise ValidationError({"slots": [_("This slot overlaps one already published.")]})
            slots.append(
                Slot.objects.create(
                    provider_id=user.provider_id,
                    technician=technician,
                    starts_at=start,
                    ends_at=end,
                )
            )
    return slots


def withdraw_slot(user, slot_id) -> None:
    if not (user.is_authenticated and user.role == Role.CONTRACTOR and user.provider_id):
        raise PermissionDenied
    with transaction.atomic():
        slot = get_scoped_or_404(user, Slot.objects.select_for_update(), pk=slot_id)
        if slot.appointments.filter(status=Appointment.Status.BOOKED).exists():
            raise Conflict(_("This slot is booked: move or cancel the appointment first."))
        if slot.appointments.exists():
            raise Conflict(_("This slot has a history: it cannot be withdrawn."))
        slot.delete()


def _appointment_extra(order: WorkOrder, slot: Slot) -> dict:
    organisation = order.request.residence.organisation
    return {
        "prestataire": order.provider.name,
        "date_rdv": day_text(slot.starts_at, organisation),
        "heure_rdv": window_text(slot, organisation),
    }


def _take_slot(order: WorkOrder, slot_id, user) -> Appointment:
    slot = (
        Slot.objects.select_for_update().filter(pk=slot_id, provider_id=order.provider_id).first()
    )
    if slot is None:
        raise ValidationError({"slot_id": [_("This slot is not one of the contractor's.")]})
    if slot.starts_at < timezone.now():
        raise Conflict(_("This slot has passed: choose another one."), code="slot_taken")
    if slot.appointments.filter(status=Appointment.Status.BOOKED).exists():
        raise Conflict(_("This slot was just taken: choose another one."), code="slot_taken")
    try:
        with transaction.atomic():
            return Appointment.objects.create(work_order=order, slot=slot, booked_by=user)
    except IntegrityError:
        raise Conflict(
            _("This slot was just taken: choose another one."), code="slot_taken"
        ) from None


@_in_french
def book(user, order_id, slot_id) -> Appointment:
    """While the tenant is on the phone: book one of the contractor's free slots. Two advisors
    clicking the same slot at once: one wins, the other is told to choose another."""
    require_role(user, STAFF_ROLES | {Role.CONTRACTOR})
    with transaction.atomic():
        order = _contractor_order(user, order_id)
        if not order.is_open:
            raise Conflict(_("This work order is finished."), code="bad_transition")
        if order.appointments.filter(status=Appointment.Status.BOOKED).exists():
            raise Conflict(
                _("An appointment is already booked: move it instead."), code="already_booked"
            )
        appointment = _take_slot(order, slot_id, user)
        order.status = WorkOrder.Status.APPOINTMENT
        order.answered_at = order.answered_at or timezone.now()
        order.save(update_fields=["status", "answered_at"])
        extra = _appointment_extra(order, appointment.slot)
        text = _("Appointment booked with %(prestataire)s on %(date_rdv)s %(heure_rdv)s.") % extra
        _order_event(order, user, text)
        _move(order.request, Status.SCHEDULED, user, text, told_key="demande-rdv", extra=extra)
        _tell_provider(order, _("Appointment booked"), text)
    return appointment


@_in_french
def move_appointment(user, appointment_id, slot_id) -> Appointment:
    """Move an appointment to another free slot: both sides are told."""
    require_role(user, STAFF_ROLES | {Role.CONTRACTOR})
    with transaction.atomic():
        old = get_scoped_or_404(
            user,
            Appointment.objects.select_for_update(of=("self",)).select_related("slot"),
            pk=appointment_id,
            status=Appointment.Status.BOOKED,
        )
        order = _contractor_order(user, old.work_order_id)
        if not order.is_open or old.ended_at is not None:
            raise Conflict(_("This work order is finished."), code="bad_transition")
        old.status, old.ended_at = Appointment.Status.MOVED, timezone.now()
        old.save(update_fields=["status", "ended_at"])
        appointment = _take_slot(order, slot_id, user)
        extra = _appointment_extra(order, appointment.slot)
        text = _("Appointment moved to %(date_rdv)s %(heure_rdv)s.") % extra
        _order_event(order, user, text)
        request = order.request
        add_event(request, Event.Kind.APPOINTMENT, text, user=user)
        tell_tenant(request, "demande-rdv", user=user, extra=extra)
        _tell_provider(order, _("Appointment moved"), text)
    return appointment


@_in_french
def cancel_appointment(user, appointment_id, reason: str = "") -> Appointment:
    require_role(user, STAFF_ROLES | {Role.CONTRACTOR})
    with transaction.atomic():
        appointment = get_scoped_or_404(
            user,
            Appointment.objects.select_for_update(of=("self",)).select_related("slot"),
            pk=appointment_id,
            status=Appointment.Status.BOOKED,
        )
        order = _contractor_order(user, appointment.work_order_id)
        if not order.is_open or appointment.ended_at is not None:
            raise Conflict(_("This work order is finished."), code="bad_transition")
        appointment.status, appointment.ended_at = Appointment.Status.CANCELLED, timezone.now()
        appointment.save(update_fields=["status", "ended_at"])
        order.status = WorkOrder.Status.ACCEPTED
        order.save(update_fields=["status"])
        extra = _appointment_extra(order, appointment.slot)
        text = _("Appointment of %(date_rdv)s %(heure_rdv)s cancelled.") % extra
        if reason.strip():
            text += f" {reason.strip()}"
        _order_event(order, user, text)
        extra["delai"] = _next_slot_text(order)
        _move(
            order.request,
            Status.ACKNOWLEDGED,
            user,
            text,
            told_key="demande-rdv-annule",
            extra=extra,
        )
        _tell_provider(order, _("Appointment cancelled"), text)
    return appointment


REMINDER_HOURS = (9, 20)  # reminders leave between 9:00 and 20:00, local time


@_in_french
def send_reminders(now: datetime | None = None) -> int:
    """The day before an appointment, remind the tenant (once, whoever runs the job)."""
    now = now or timezone.now()
    sent = 0
    upcoming = Appointment.objects.filter(
        status=Appointment.Status.BOOKED,
        ended_at__isnull=True,
        work_order__status__in=WorkOrder.OPEN,
        reminded_at__isnull=True,
        slot__starts_at__gt=now,
        slot__starts_at__lte=now + timedelta(hours=36),
    ).select_related("slot", "work_order__request__residence__organisation", "work_order__provider")
    for appointment in upcoming:
        organisation = appointment.work_order.request.residence.organisation
        if (
            not REMINDER_HOURS[0]
            <= timezone.localtime(now, organisation.zone).hour
            < REMINDER_HOURS[1]
        ):
            continue  # not at night: the next run in the day sends it
        tomorrow = timezone.localdate(now, organisation.zone) + timedelta(days=1)
        if timezone.localtime(appointment.slot.starts_at, organisation.zone).date() != tomorrow:
            continue
        with transaction.atomic():
            claimed = Appointment.objects.filter(
                pk=appointment.pk, reminded_at__isnull=True
            ).update(reminded_at=now)
            if not claimed:
                continue
            order = appointment.work_order
            tell_tenant(
                order.request,
                "demande-rdv-rappel",
                extra=_appointment_extra(order, appointment.slot),
                urgent=False,
            )
            sent += 1
    return sent


# --- satisfaction ---------------------------------------------------------------------------


def awaiting_rating(person: Person) -> Request | None:
    since = timezone.now() - timedelta(days=settings.TICKETS_RATING_DAYS)
    return (
        Request.objects.filter(
            person=person,
            status=Status.CLOSED,
            satisfaction__isnull=True,
            satisfaction_asked_at__gte=since,
        )
        .select_related("residence")
        .order_by("-satisfaction_asked_at")
        .first()
    )


def new_category_choices(kind: str | None = None):
    return [
        (value, label)
        for value, label in Category.choices
        if kind is None or CATEGORY_RULES[value].kind == kind
    ]
