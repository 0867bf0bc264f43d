"""Text messages from tenants (messaging's inbound_received signal): a satisfaction score for
a closed request, a message attached to the tenant's open request, or a new request."""

import re

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tickets.models import OPEN_STATUSES, Event, IntakeChannel, Request

_SCORE = re.compile(r"^\s*([0-9]+)\s*[./!]*\s*(?:/\s*5)?\s*$")


def _reply(request: Request, person, text: str) -> None:
    from messaging.models import Purpose
    from messaging.services import Texts, notify

    notify(
        [person.pk],
        purpose=Purpose.OPERATIONAL,
        title=_("Reply to %(reference)s") % {"reference": request.reference},
        texts=Texts(sms_body=text),
        residence=request.residence,
        about=request,
        urgent=True,
    )


def on_inbound(sender, message, **kwargs) -> None:
    """Runs in the transaction that stores the inbound message."""
    from messaging.models import InboundMessage

    if message.kind != InboundMessage.Kind.FROM_TENANT or message.person_id is None:
        return  # STOP handled by messaging; unknown numbers wait for an advisor
    with translation.override(settings.LANGUAGE_CODE):
        handle(message)


def handle(message) -> Request | None:
    from tickets import services

    person = message.person
    body = (message.body or "").strip()
    waiting = services.awaiting_rating(person)
    if waiting is not None:
        match = _SCORE.match(body)
        if match and 1 <= int(match.group(1)) <= 5:
            score = int(match.group(1))
            Request.objects.filter(pk=waiting.pk).update(satisfaction=score)
            services.add_event(
                waiting,
                Event.Kind.RATING,
                _("Satisfaction: %(score)d / 5.") % {"score": score},
                label=str(person),
                channel="sms",
            )
            _mark(message, waiting)
            _reply(
                waiting, person, _("Thank you for your answer: %(score)d / 5.") % {"score": score}
            )
            return waiting
        if match or len(body) <= 20:
            # "6", "super", "0": not a score from 1 to 5. Nothing stored as a score; the text is
            # kept on the request, and the tenant is told how to answer.
            services.add_event(
                waiting,
                Event.Kind.INBOUND,
                _("Reply that is not a score: “%(text)s”.") % {"text": body[:200]},
                label=str(person),
                channel="sms",
            )
            _mark(message, waiting)
            _reply(
                waiting,
                person,
                _(
                    "Sorry, we did not understand. To rate the intervention, reply with one "
                    "number from 1 (not satisfied) to 5 (very satisfied)."
                ),
            )
            return waiting
    open_request = (
        Request.objects.filter(person=person, status__in=OPEN_STATUSES)
        .select_related("residence")
        .order_by("-created_at")
        .first()
    )
    if open_request is not None:
        services.add_event(
            open_request,
            Event.Kind.INBOUND,
            body[:2000] or "—",
            label=str(person),
            channel="sms",
        )
        _mark(message, open_request, handled=False)
        return open_request
    if message.residence_id is None or len(body) < 3:
        return None  # kept in messaging's inbox for an advisor
    from backend.estate.models import Lease

    lease = Lease.objects.current().filter(household=person.household_id).first()
    request = services.create_request(
        None,
        services.RequestInput(
            residence_id=message.residence_id,
            unit_id=lease.unit_id if lease else None,
            category="other",
            description=body[:4000],
            person_id=person.pk,
        ),
        IntakeChannel.SMS,
        residences=[message.residence_id],
        label=str(person),
    )
    _mark(message, request, handled=False)
    return request


def _mark(message, request: Request, handled: bool = True) -> None:
    """Attach the inbound message to the request (and mark it handled when nothing remains for
    an advisor to do)."""
    from django.contrib.contenttypes.models import ContentType

    from messaging.models import InboundMessage

    values = {
        "content_type": ContentType.objects.get_for_model(Request),
        "object_id": str(request.pk),
    }
    if handled:
        values["handled_at"] = timezone.now()
    InboundMessage.objects.filter(pk=message.pk).update(**values)
