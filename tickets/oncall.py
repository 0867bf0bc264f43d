"""The on-call service (astreinte): urgent requests outside office hours go at once to the
agency's person or platform on call; the next morning they are handed to the day team."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.models import Role, User
from tickets import deadlines
from tickets.models import OPEN_STATUSES, Digest, Event, OnCallShift, Request


def shift_for(agency_id: int, at=None) -> OnCallShift | None:
    at = at or timezone.now()
    return (
        OnCallShift.objects.filter(agency_id=agency_id, starts_at__lte=at, ends_at__gt=at)
        .select_related("user")
        .order_by("-starts_at")
        .first()
    )


def route(request: Request) -> OnCallShift | None:
    """Send an urgent request to the on-call person or platform (called in the transaction
    that creates it). Without a shift, the agency's managers are alerted instead."""
    from messaging.services import Contact, Texts, notify_contacts
    from tickets.services import add_event

    residence = request.residence
    shift = shift_for(residence.agency_id)
    link = settings.SITE_URL + reverse("tickets:detail", args=[request.pk])
    text = _(
        "URGENT %(reference)s — %(category)s at %(place)s: %(description)s %(phone)s %(link)s"
    ) % {
        "reference": request.reference,
        "category": request.get_category_display(),
        "place": request.place,
        "description": request.description[:200],
        "phone": request.person.mobile_display if request.person else request.contact_phone,
        "link": link,
    }
    if shift is not None:
        contacts = (
            [Contact(shift.user.display_name, shift.user.email, shift.user.phone)]
            if shift.user_id
            else [Contact(shift.platform, shift.email, shift.phone)]
        )
        who = shift.who
    else:
        managers = User.objects.filter(
            agencies=residence.agency_id, role=Role.MANAGER, is_active=True
        )
        contacts = [Contact(m.display_name, m.email, m.phone) for m in managers]
        who = ""
    notify_contacts(
        contacts,
        title=_("Urgent request %(reference)s") % {"reference": request.reference},
        texts=Texts(
            sms_body=text,
            email_subject=_("Urgent request %(reference)s") % {"reference": request.reference},
            email_text=text,
        ),
        residence=residence,
        about=request,
    )
    Request.objects.filter(pk=request.pk).update(on_call=True)
    request.on_call = True
    add_event(
        request,
        Event.Kind.ON_CALL,
        _("Outside office hours: sent at once to the on-call service (%(who)s).") % {"who": who}
        if shift is not None
        else _("Outside office hours and nobody on call: the agency's managers were alerted."),
        label=_("Ronde"),
        internal=True,
    )
    return shift


def hand_over(now=None) -> int:
    """In office hours, the night's on-call requests are handed to the day team: one line each
    on the timeline and one message per agency to its advisors and managers."""
    from messaging.services import Contact, Texts, notify_contacts
    from tickets.services import add_event

    now = now or timezone.now()
    pending = (
        Request.objects.filter(on_call=True, handed_over_at__isnull=True)
        .select_related("residence__agency", "residence__organisation")
        .order_by("created_at")
    )
    by_agency: dict = {}
    for request in pending:
        if deadlines.is_office_hours(request.residence.organisation, now):
            by_agency.setdefault(request.residence.agency, []).append(request)
    handed = 0
    for agency, requests in by_agency.items():
        with transaction.atomic():
            claimed = [
                r
                for r in requests
                if Request.objects.filter(pk=r.pk, handed_over_at__isnull=True).update(
                    handed_over_at=now
                )
            ]
            if not claimed:
                continue
            handed += len(claimed)
            for request in claimed:
                add_event(
                    request,
                    Event.Kind.ON_CALL,
                    _("Handed over to the day team."),
                    label=_("Ronde"),
                    internal=True,
                )
            staff = User.objects.filter(
                agencies=agency, role__in=[Role.ADVISOR, Role.MANAGER], is_active=True
            )
            lines = "\n".join(
                f"- {r.reference} ({r.get_status_display()}) {r.get_category_display()}, {r.place}"
                for r in claimed
            )
            notify_contacts(
                [Contact(u.display_name, u.email) for u in staff if u.email],
                title=_("On-call handover"),
                organisation_id=agency.organisation_id,
                texts=Texts(
                    email_subject=_("%(count)d urgent requests of the night at %(agency)s")
                    % {"count": len(claimed), "agency": agency.name},
                    email_text=_("Hello,\n\nThe on-call service took these requests:\n\n%(lines)s")
                    % {"lines": lines},
                ),
            )
    return handed


def overdue_digest(today=None) -> int:
    """Once a day, each agency's managers get the list of overdue open requests."""
    from messaging.services import Contact, Texts, notify_contacts

    today = today or timezone.localdate()
    now = timezone.now()
    overdue = (
        Request.objects.filter(status__in=OPEN_STATUSES[:3])
        .filter(resolve_due_at__lt=now)
        .select_related("residence__agency")
        .order_by("resolve_due_at")
    )
    by_agency: dict = {}
    for request in overdue:
        by_agency.setdefault(request.residence.agency, []).append(request)
    sent = 0
    link = settings.SITE_URL + reverse("tickets:list") + "?retard=1"
    for agency, requests in by_agency.items():
        with transaction.atomic():
            try:
                with transaction.atomic():
                    Digest.objects.create(agency=agency, kind="overdue", day=today)
            except IntegrityError:
                continue
            managers = User.objects.filter(agencies=agency, role=Role.MANAGER, is_active=True)
            lines = "\n".join(
                _("- %(reference)s %(category)s, %(place)s: due %(due)s")
                % {
                    "reference": r.reference,
                    "category": r.get_category_display(),
                    "place": r.place,
                    "due": timezone.localtime(r.resolve_due_at).strftime("%d/%m/%Y %H:%M"),
                }
                for r in requests[:200]
            )
            campaign = notify_contacts(
                [Contact(m.display_name, m.email) for m in managers if m.email],
                title=_("Overdue requests"),
                organisation_id=agency.organisation_id,
                texts=Texts(
                    email_subject=_("%(count)d overdue requests at %(agency)s")
                    % {"count": len(requests), "agency": agency.name},
                    email_text=_(
                        "Hello,\n\nThese requests are past their deadline:\n\n%(lines)s\n\n%(link)s"
                    )
                    % {"lines": lines, "link": link},
                ),
            )
            sent += campaign is not None
    return sent
