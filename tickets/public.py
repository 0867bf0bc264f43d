"""What the hall's QR code opens, for anyone, without an account: the open incidents of the
place (nothing personal), a subscription to be told when it is fixed, a new report with the
place already filled in. The code carries a signed reference to the place (it does not
expire: it is printed), so places cannot be enumerated."""

import io

import segno
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.errors import ServiceError
from backend.estate import phones
from backend.estate.models import Entrance, Equipment
from tickets.models import OPEN_STATUSES, Incident, Request, Subscription

SALT = "tickets.place"


def place_token(place) -> str:
    kind = "q" if isinstance(place, Equipment) else "e"
    return signing.dumps(f"{kind}{place.pk}", salt=SALT)


def place_url(place) -> str:
    return settings.SITE_URL + reverse("tickets:place", args=[place_token(place)])


def place_from_token(token: str):
    try:
        value = signing.loads(token, salt=SALT)
        kind, pk = value[0], int(value[1:])
    except (signing.BadSignature, ValueError, IndexError, TypeError):
        raise ServiceError(
            _("This QR code is not recognised. Call your agency to report a problem."),
            code="bad_link",
            status=404,
        ) from None
    if kind == "q":
        place = Equipment.objects.select_related("residence", "entrance").filter(pk=pk).first()
    else:
        place = Entrance.objects.select_related("residence", "building").filter(pk=pk).first()
    if place is None:
        raise ServiceError(
            _("This place no longer exists. Call your agency."), code="bad_link", status=404
        )
    return place


def qr_svg(url: str) -> str:
    out = io.BytesIO()
    # No fixed size, a viewBox: the page's style sizes it, on screen and on paper.
    segno.make(url, error="m").save(
        out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, omitsize=True
    )
    return out.getvalue().decode()


def entrance_of(place):
    return place if isinstance(place, Entrance) else place.entrance


def open_incidents(place):
    """What is known to be broken there: open incidents, and open requests about the common
    areas (never a unit's: that is personal)."""
    if isinstance(place, Equipment):
        incidents = Incident.objects.filter(equipment=place, status=Incident.Status.OPEN)
        requests = Request.objects.filter(
            equipment=place, status__in=OPEN_STATUSES, incident__isnull=True
        )
    else:
        incidents = Incident.objects.filter(
            residence_id=place.residence_id, status=Incident.Status.OPEN
        ).filter(Q(entrance=place) | Q(entrance__isnull=True, equipment__isnull=True))
        requests = Request.objects.filter(
            entrance=place, unit__isnull=True, status__in=OPEN_STATUSES, incident__isnull=True
        )
    return list(incidents.order_by("-created_at")[:10]), list(requests.order_by("-created_at")[:10])


def public_status(request: Request) -> str:
    """The next step in words for the hall (no names, no units)."""
    from tickets.models import Appointment, Status

    appointment = (
        Appointment.objects.filter(work_order__request=request, status="booked")
        .select_related("slot")
        .first()
    )
    if appointment is not None:
        from tickets.services import day_text

        return _("Technician expected on %(day)s.") % {
            "day": day_text(appointment.slot.starts_at, request.residence.organisation)
        }
    if request.status == Status.DONE:
        return _("Repaired, being checked.")
    if request.status == Status.ACKNOWLEDGED:
        return _("Reported, being handled.")
    return _("Reported.")


def subscribe(incident_id, raw: str) -> Subscription:
    """Be told when the incident is fixed, by SMS or e-mail. The address is kept only until
    then."""
    incident = Incident.objects.filter(pk=incident_id, status=Incident.Status.OPEN).first()
    if incident is None:
        raise ValidationError({"incident": [_("This problem is already fixed.")]})
    raw = (raw or "").strip()
    if "@" in raw:
        try:
            validate_email(raw)
        except ValidationError:
            raise ValidationError({"address": [_("Enter a valid e-mail address.")]}) from None
        channel, address = "email", raw.lower()
    else:
        try:
            address = phones.parse_mobile(raw, incident.residence.phone_region)
        except ValidationError:
            raise ValidationError(
                {"address": [_("Enter a mobile number (06 or 07…) or an e-mail address.")]}
            ) from None
        channel = "sms"
    try:
        with transaction.atomic():
            return Subscription.objects.create(incident=incident, channel=channel, address=address)
    except IntegrityError:
        return Subscription.objects.get(incident=incident, address=address)


def tell_subscribers(incident: Incident) -> int:
    """The incident is fixed: tell everyone who asked, then forget their addresses."""
    from messaging.services import Contact, Texts, notify_contacts

    subscriptions = list(incident.subscriptions.filter(told_at__isnull=True))
    if not subscriptions:
        return 0
    text = _("Good news: “%(title)s” is fixed. Thank you for your patience. {{ bailleur }}") % {
        "title": incident.title
    }
    notify_contacts(
        [
            Contact(
                "",
                s.address if s.channel == "email" else "",
                s.address if s.channel == "sms" else "",
            )
            for s in subscriptions
        ],
        title=_("Fixed: %(title)s") % {"title": incident.title},
        texts=Texts(sms_body=text, email_subject=incident.title, email_text=text),
        residence=incident.residence,
        about=incident,
    )
    # Sent: the outbox has the addresses it needs; the subscriptions need them no more.
    Subscription.objects.filter(pk__in=[s.pk for s in subscriptions]).update(
        told_at=timezone.now(), address=""
    )
    return len(subscriptions)


REPORTS_PER_HOUR = 10


def allow_report(address: str) -> None:
    """Anonymous reports from one address: at most REPORTS_PER_HOUR an hour (the counter rows
    share the login throttle's table and its daily purge)."""
    from datetime import timedelta

    from backend.accounts.models import LoginFailure

    key = f"qr-report|{address or '-'}"
    recent = LoginFailure.objects.filter(
        key=key, created_at__gte=timezone.now() - timedelta(hours=1)
    ).count()
    if recent >= REPORTS_PER_HOUR:
        raise ServiceError(
            _("Too many reports from this connection: try again in an hour or call your agency."),
            code="throttled",
            status=429,
        )
    LoginFailure.objects.create(key=key)
