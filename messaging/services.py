"""Messaging operations: every write goes through here (docs/messaging.md).

- create_campaign(): an advisor's send to a place, a group or a list (fan-out by a job).
- notify(): another app's message to the people concerned, written in the caller's
  transaction (the outbox row commits with its cause).
- opt_out(), resend_failed(), resolve_review(), handle_inbound().
"""

import html as html_lib
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend import jobs
from backend.accounts.scoping import STAFF_ROLES, require_role, scoped
from backend.core.errors import ServiceError
from backend.estate.models import Agency, Entrance, Organisation, Person, Residence
from messaging import audiences, rendering, sms, timing
from messaging.models import (
    Campaign,
    Channel,
    ChannelBlock,
    InboundMessage,
    Message,
    MessageEvent,
    OptOut,
    Purpose,
    Template,
)

SENDER_ROLES = STAFF_ROLES
UNSUBSCRIBE_SALT = "messaging.unsubscribe"


# --- texts -----------------------------------------------------------------------------------


@dataclass
class Texts:
    sms_body: str = ""
    email_subject: str = ""
    email_text: str = ""
    email_html: str = ""

    @property
    def wants_sms(self) -> bool:
        return bool(self.sms_body.strip())

    @property
    def wants_email(self) -> bool:
        return bool(self.email_subject.strip())

    def check(self) -> None:
        """Refuse texts that would not render, with the reason per field (French)."""
        errors = rendering.text_errors(self)
        if not (self.wants_sms or self.wants_email):
            errors["sms_body"] = [_("Write a text message, an e-mail, or both.")]
        if self.wants_email and not (self.email_text.strip() or self.email_html.strip()):
            errors["email_text"] = [_("Write the text of the e-mail.")]
        if errors:
            raise ValidationError(errors)


def template_texts(template: Template, language: str = "fr") -> Texts:
    variant = template.variant(language)
    if variant is None:
        return Texts()
    return Texts(
        sms_body=variant.sms_body if template.wants_sms else "",
        email_subject=variant.email_subject if template.wants_email else "",
        email_text=variant.email_text if template.wants_email else "",
        email_html=variant.email_html if template.wants_email else "",
    )


def resolve_template(key: str, residence: Residence) -> Template | None:
    """The most specific active template with this key for a residence."""
    candidates = Template.objects.filter(
        key=key, is_active=True, organisation_id=residence.organisation_id
    )
    for level in (
        {"residence": residence},
        {"residence__isnull": True, "agency_id": residence.agency_id},
        {"residence__isnull": True, "agency__isnull": True},
    ):
        found = candidates.filter(**level).prefetch_related("variants").first()
        if found:
            return found
    return None


# --- context of a recipient ------------------------------------------------------------------


class Places:
    """Names of places, cached per id for one fan-out (bounded by the estate, not the audience)."""

    def __init__(self):
        self._residences, self._entrances = {}, {}
        self._organisations = {}

    def residence(self, pk):
        if pk not in self._residences:
            self._residences[pk] = Residence.objects.select_related("agency").get(pk=pk)
        return self._residences[pk]

    def entrance(self, pk):
        if pk not in self._entrances:
            self._entrances[pk] = Entrance.objects.select_related("building").get(pk=pk)
        return self._entrances[pk]

    def organisation(self, pk):
        if pk not in self._organisations:
            self._organisations[pk] = Organisation.objects.get(pk=pk)
        return self._organisations[pk]


def recipient_context(r: audiences.Recipient, places: Places, extra: dict | None = None) -> dict:
    context = {"prenom": r.first_name, "nom": r.last_name}
    if r.residence_id:
        residence = places.residence(r.residence_id)
        agency: Agency = residence.agency
        context.update(
            residence=residence.name,
            adresse=f"{residence.address}, {residence.postcode} {residence.city}",
            agence=agency.name,
            telephone_agence=agency.phone,
            bailleur=places.organisation(residence.organisation_id).name,
        )
    if r.entrance_id:
        entrance = places.entrance(r.entrance_id)
        context.update(entree=entrance.name, batiment=entrance.building.name)
        if entrance.address and r.residence_id:
            residence = places.residence(r.residence_id)
            context["adresse"] = f"{entrance.address}, {residence.postcode} {residence.city}"
    if r.unit_door:
        context["logement"] = _("door %(door)s") % {"door": r.unit_door}
    context.update(extra or {})
    return context


def unsubscribe_url(person_id: int, purpose: str) -> str:
    token = signing.dumps({"p": person_id, "u": purpose}, salt=UNSUBSCRIBE_SALT, compress=True)
    return settings.SITE_URL + reverse("messaging:unsubscribe", args=[token])


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise ServiceError(_("This unsubscribe link is not valid."), code="invalid_link") from None
    if data.get("u") not in (Purpose.INFORMATION, Purpose.COMMERCIAL):
        raise ServiceError(_("This unsubscribe link is not valid."), code="invalid_link")
    return int(data["p"]), data["u"]


def _email_bodies(texts: Texts, context: dict, purpose: str, person_id: int) -> tuple[str, str]:
    text = rendering.render(texts.email_text, context) if texts.email_text else ""
    if texts.email_html:
        body_html = rendering.render(texts.email_html, context, html=True)
    else:
        body_html = "".join(
            f"<p>{html_lib.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
        )
    if not text:
        text = html_lib.unescape(body_html)
    if purpose != Purpose.OPERATIONAL:
        link = context.get("lien_desinscription") or unsubscribe_url(person_id, purpose)
        text += "\n\n" + _("To stop receiving these messages: %(link)s") % {"link": link}
        body_html += '<p><small><a href="{}">{}</a></small></p>'.format(
            html_lib.escape(link), html_lib.escape(_("Unsubscribe"))
        )
    return text, body_html


def build_messages(
    campaign: Campaign, texts_by_language: dict[str, Texts], chunk, places, now, extra=None
):
    """The outbox rows of one chunk of recipients (channels already chosen)."""
    organisation = campaign.organisation
    sms_due = now
    if timing.quiet_hours_apply(
        channel=Channel.SMS,
        purpose=campaign.purpose,
        is_campaign=campaign.author_id is not None and campaign.content_type_id is None,
        urgent=campaign.urgent,
    ):
        sms_due = timing.next_allowed(organisation, now)
    default = texts_by_language["fr"]
    rows = []
    for r in chunk:
        if not r.channels:
            continue
        texts = texts_by_language.get(r.language, default)
        context = recipient_context(r, places, extra)
        if campaign.purpose != Purpose.OPERATIONAL:
            context["lien_desinscription"] = unsubscribe_url(r.pk, campaign.purpose)
        for channel in r.channels:
            if channel == Channel.SMS:
                body = render_sms(texts.sms_body, context)
                rows.append(
                    Message(
                        campaign=campaign,
                        person_id=r.pk,
                        residence_id=r.residence_id,
                        channel=channel,
                        to=r.mobile,
                        body=body,
                        segments=sms.count_segments(body),
                        next_attempt_at=sms_due,
                    )
                )
            else:
                text, body_html = _email_bodies(texts, context, campaign.purpose, r.pk)
                rows.append(
                    Message(
                        campaign=campaign,
                        person_id=r.pk,
                        residence_id=r.residence_id,
                        channel=channel,
                        to=r.email,
                        subject=rendering.render(texts.email_subject, context)[:300],
                        body=text,
                        html=body_html,
                        next_attempt_at=now,
                    )
                )
    return rows


def render_sms(source: str, context: dict) -> str:
    """An SMS body for one recipient. The values filled in (a residence called "Le Château",
    a tenant named "Françoise") go through the GSM replacements: one â in a name would switch
    the whole message to UCS-2 and double its price. The author's own text is kept as written
    (the editor points its expensive characters out)."""
    values = {
        key: sms.replace_forcing(value) if isinstance(value, str) else value
        for key, value in context.items()
    }
    return sms.clean(rendering.render(source, values))


def render_example(recipient: audiences.Recipient, texts: Texts, purpose: str) -> dict:
    """What the first recipient would receive: the preview on a real recipient."""
    context = recipient_context(recipient, Places())
    if purpose != Purpose.OPERATIONAL:
        context["lien_desinscription"] = unsubscribe_url(recipient.pk, purpose)
    example = {"name": f"{recipient.first_name} {recipient.last_name}"}
    if texts.wants_sms:
        example["sms"] = render_sms(texts.sms_body, context)
    if texts.wants_email:
        example["email_subject"] = rendering.render(texts.email_subject, context)
        example["email_text"] = _email_bodies(texts, context, purpose, recipient.pk)[0]
    return example


def _texts_by_language(campaign: Campaign) -> dict[str, Texts]:
    default = Texts(
        campaign.sms_body, campaign.email_subject, campaign.email_text, campaign.email_html
    )
    result = {"fr": default}
    if campaign.template_id and not campaign.audience.get("personalised"):
        for variant in campaign.template.variants.all():
            if variant.language != "fr":
                result[variant.language] = Texts(
                    variant.sms_body if default.wants_sms else "",
                    variant.email_subject if default.wants_email else "",
                    variant.email_text if default.wants_email else "",
                    variant.email_html if default.wants_email else "",
                )
    return result


def fan_out(campaign: Campaign, queryset, extra: dict | None = None) -> int:
    """Write the outbox rows for the audience, resuming after `prepared_up_to`.

    Each chunk commits on its own (a savepoint inside a caller's transaction), so that a
    campaign of 100,000 never holds SQLite's write lock for long; a unique constraint and the
    resume point make a rerun after a crash add only what is missing.
    """
    texts = _texts_by_language(campaign)
    places = Places()
    now = timezone.now()
    written = 0
    both = campaign.delivery == Campaign.Delivery.BOTH
    default = texts["fr"]
    for chunk in audiences.stream(queryset, after=campaign.prepared_up_to):
        audiences.choose_channels(
            chunk,
            purpose=campaign.purpose,
            wants_sms=default.wants_sms,
            wants_email=default.wants_email,
            both=both,
        )
        rows = build_messages(campaign, texts, chunk, places, now, extra)
        with transaction.atomic():
            Message.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
            campaign.prepared_up_to = chunk[-1].pk
            Campaign.objects.filter(pk=campaign.pk).update(prepared_up_to=campaign.prepared_up_to)
        written += len(rows)
    return written


# --- sends -----------------------------------------------------------------------------------


@dataclass
class CampaignInput:
    title: str
    purpose: str
    audience: dict
    texts: Texts
    delivery: str = Campaign.Delivery.PREFERRED
    template_id: int | None = None
    urgent: bool = False
    personalised: bool = True
    extra: dict = field(default_factory=dict)


def _audience_residence(user, audience: dict) -> Residence | None:
    kind, ids = audience.get("kind"), audience.get("ids") or []
    if len(ids) != 1:
        return None
    if kind == "residence":
        return scoped(user, Residence).filter(pk=ids[0]).first()
    if kind == "building":
        return scoped(user, Residence).filter(buildings=ids[0]).first()
    if kind == "entrance":
        return scoped(user, Residence).filter(entrances=ids[0]).first()
    return None


def check_sender(user) -> None:
    require_role(user, SENDER_ROLES)


def preview_campaign(user, data: CampaignInput, first_only: bool = False) -> audiences.Preview:
    check_sender(user)
    data.texts.check()
    queryset = audiences.people(user, data.audience)
    return audiences.preview(
        queryset,
        purpose=data.purpose,
        wants_sms=data.texts.wants_sms,
        wants_email=data.texts.wants_email,
        both=data.delivery == Campaign.Delivery.BOTH,
        first_only=first_only,
    )


def create_campaign(user, data: CampaignInput) -> Campaign:
    """An advisor's (or agent's, manager's) send. The outbox rows are written by a job, in
    chunks; nothing is sent from the request."""
    check_sender(user)
    if data.purpose not in Purpose.values:
        raise ValidationError({"purpose": [_("Choose the purpose of the message.")]})
    # Someone must be reachable; the job reads the whole audience again when it writes the rows.
    preview = preview_campaign(user, data, first_only=True)
    if preview.recipients == 0:
        raise ServiceError(
            _("Nobody in this audience can receive this message."), code="empty_audience"
        )
    template = (
        scoped(user, Template).filter(pk=data.template_id).first() if data.template_id else None
    )
    residence = _audience_residence(user, data.audience)
    organisation_id = residence.organisation_id if residence else user.organisation_id
    if organisation_id is None:
        raise ServiceError(_("Choose a place of one organisation."), code="invalid_audience")
    with transaction.atomic():
        campaign = Campaign.objects.create(
            organisation_id=organisation_id,
            residence=residence,
            author=user,
            template=template,
            title=data.title[:200] or _("Message"),
            purpose=data.purpose,
            delivery=data.delivery,
            sms_body=data.texts.sms_body,
            email_subject=data.texts.email_subject,
            email_text=data.texts.email_text,
            email_html=data.texts.email_html,
            audience={**data.audience, "personalised": data.personalised},
            urgent=data.urgent,
            expects_reply=data.purpose != Purpose.OPERATIONAL,
        )
        jobs.enqueue(prepare_campaign, campaign.pk)
    return campaign


@jobs.job
def prepare_campaign(campaign_id: int) -> int:
    """Write a campaign's outbox (a job). The audience is read with its author's scope, checked
    when the campaign was created; if the author has lost it since (deactivated, moved), the
    campaign fails with the reason instead of waiting forever."""
    from django.http import Http404

    campaign = Campaign.objects.select_related("organisation", "author", "template").get(
        pk=campaign_id
    )
    if campaign.status != Campaign.Status.PREPARING:
        return 0
    audience = {k: v for k, v in campaign.audience.items() if k in ("kind", "ids")}
    try:
        if campaign.author is None or not campaign.author.is_active:
            raise PermissionDenied
        source = audiences.people(campaign.author, audience)
    except (Http404, PermissionDenied, ServiceError):
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.Status.FAILED,
            failure=_("Its author no longer has access to these recipients."),
        )
        return 0
    written = fan_out(campaign, source)
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.PREPARING).update(
        status=Campaign.Status.READY
    )
    from messaging import outbox

    jobs.enqueue(outbox.dispatch)
    return written


def notify(
    people,
    *,
    purpose: str,
    title: str,
    texts: Texts | None = None,
    template_key: str | None = None,
    residence: Residence,
    about=None,
    urgent: bool = False,
    author=None,
    extra: dict | None = None,
    both: bool = False,
    expects_reply: bool | None = None,
) -> Campaign:
    """Another app tells the people concerned (a Person queryset or list of ids) about
    something. Call it inside the transaction of the event: the outbox rows commit with it.
    `expects_reply` (a satisfaction score, a question) sends from the two-way sender; it is
    on by default for non-operational purposes, which must accept STOP."""
    if texts is None:
        template = resolve_template(template_key, residence) if template_key else None
        if template is None:
            raise LookupError(f"No message template {template_key!r} for {residence}")
        texts = template_texts(template)
    else:
        template = None
    texts.check()
    ids = (
        list(people.values_list("pk", flat=True))
        if hasattr(people, "values_list")
        else list(people)
    )
    campaign = Campaign.objects.create(
        organisation_id=residence.organisation_id,
        residence=residence,
        author=author,
        template=template,
        title=title[:200],
        purpose=purpose,
        sms_body=texts.sms_body,
        email_subject=texts.email_subject,
        email_text=texts.email_text,
        email_html=texts.email_html,
        audience={"kind": "people", "ids": ids},
        urgent=urgent,
        expects_reply=purpose != Purpose.OPERATIONAL if expects_reply is None else expects_reply,
        status=Campaign.Status.READY,
        delivery=Campaign.Delivery.BOTH if both else Campaign.Delivery.PREFERRED,
        content_type=ContentType.objects.get_for_model(about) if about is not None else None,
        object_id=str(about.pk) if about is not None else "",
    )
    queryset = audiences.from_people(Person.objects.filter(pk__in=ids))
    fan_out(campaign, queryset, extra=extra)
    from messaging import outbox

    jobs.enqueue(outbox.dispatch)
    return campaign


@dataclass(frozen=True)
class Contact:
    """Someone who is not a tenant: a provider, a manager. Messages to them are operational."""

    name: str
    email: str = ""
    mobile: str = ""


def notify_contacts(
    contacts: list[Contact],
    *,
    title: str,
    texts: Texts,
    residence: Residence | None = None,
    organisation_id: int | None = None,
    about=None,
    author=None,
    extra: dict | None = None,
) -> Campaign | None:
    """Tell providers or staff (not tenants) about something, by e-mail and/or SMS as their
    contact allows, in the caller's transaction. Returns None when nobody can be reached.
    About one residence, or (residence None) the organisation as a whole."""
    organisation_id = residence.organisation_id if residence is not None else organisation_id
    if organisation_id is None:
        raise ValueError("notify_contacts needs a residence or an organisation")
    texts.check()
    wanted = [
        c for c in contacts if (c.email and texts.wants_email) or (c.mobile and texts.wants_sms)
    ]
    if not wanted:
        return None
    campaign = Campaign.objects.create(
        organisation_id=organisation_id,
        residence=residence,
        author=author,
        title=title[:200],
        purpose=Purpose.OPERATIONAL,
        sms_body=texts.sms_body,
        email_subject=texts.email_subject,
        email_text=texts.email_text,
        email_html=texts.email_html,
        audience={"kind": "contacts"},
        status=Campaign.Status.READY,
        content_type=ContentType.objects.get_for_model(about) if about is not None else None,
        object_id=str(about.pk) if about is not None else "",
    )
    places = Places()
    base = {
        "residence": residence.name if residence is not None else "",
        "bailleur": places.organisation(organisation_id).name,
        **(extra or {}),
    }
    now = timezone.now()
    rows = []
    seen = set()
    for contact in wanted:
        context = {**base, "prenom": contact.name, "nom": ""}
        if contact.email and texts.wants_email and contact.email.lower() not in seen:
            seen.add(contact.email.lower())
            text, body_html = _email_bodies(texts, context, Purpose.OPERATIONAL, 0)
            rows.append(
                Message(
                    campaign=campaign,
                    residence=residence,
                    channel=Channel.EMAIL,
                    to=contact.email,
                    subject=rendering.render(texts.email_subject, context)[:300],
                    body=text,
                    html=body_html,
                    next_attempt_at=now,
                )
            )
        if contact.mobile and texts.wants_sms and contact.mobile not in seen:
            seen.add(contact.mobile)
            body = render_sms(texts.sms_body, context)
            rows.append(
                Message(
                    campaign=campaign,
                    residence=residence,
                    channel=Channel.SMS,
                    to=contact.mobile,
                    body=body,
                    segments=sms.count_segments(body),
                    next_attempt_at=now,
                )
            )
    Message.objects.bulk_create(rows)
    from messaging import outbox

    jobs.enqueue(outbox.dispatch)
    return campaign


# --- consent ---------------------------------------------------------------------------------


def opt_out(person: Person, purposes, channels, source: str) -> int:
    created = 0
    for purpose in purposes:
        if purpose == Purpose.OPERATIONAL:
            continue
        for channel in channels:
            try:
                with transaction.atomic():
                    OptOut.objects.create(
                        person=person, purpose=purpose, channel=channel, source=source
                    )
                    created += 1
            except IntegrityError:
                pass
    return created


def unsubscribe(token: str) -> tuple[Person, str]:
    person_id, purpose = read_unsubscribe_token(token)
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise ServiceError(_("This unsubscribe link is not valid."), code="invalid_link")
    opt_out(person, [purpose], [Channel.EMAIL], OptOut.Source.EMAIL_LINK)
    return person, purpose


# --- supervision actions -----------------------------------------------------------------------


def resend_failed(user, campaign: Campaign) -> int:
    """Send again, on the other channel, the messages of a campaign that failed or were not
    delivered, to the people who have that other channel."""
    check_sender(user)
    failed = campaign.messages.filter(
        status__in=[Message.Status.FAILED, Message.Status.UNDELIVERED]
    )
    other = {Channel.SMS: Channel.EMAIL, Channel.EMAIL: Channel.SMS}
    texts = Texts(
        campaign.sms_body, campaign.email_subject, campaign.email_text, campaign.email_html
    )
    places = Places()
    now = timezone.now()
    rows = []
    existing = set(campaign.messages.values_list("person_id", "channel"))
    wanted = {Channel.SMS: texts.wants_sms, Channel.EMAIL: texts.wants_email}
    people: dict[str, set] = {Channel.SMS: set(), Channel.EMAIL: set()}
    for channel, person_id in failed.values_list("channel", "person_id"):
        target = other[channel]
        if person_id is not None and wanted[target] and (person_id, target) not in existing:
            people[target].add(person_id)
    for target, ids in people.items():  # one stream per channel, not one per person
        if not ids:
            continue
        for recipients in audiences.stream(
            audiences.from_people(Person.objects.filter(pk__in=ids))
        ):
            audiences.choose_channels(
                recipients,
                purpose=campaign.purpose,
                wants_sms=target == Channel.SMS,
                wants_email=target == Channel.EMAIL,
                both=False,
            )
            rows += build_messages(campaign, {"fr": texts}, recipients, places, now)
    with transaction.atomic():
        Message.objects.bulk_create(rows, ignore_conflicts=True)
        from messaging import outbox

        jobs.enqueue(outbox.dispatch)
    return len(rows)


def resolve_review(user, message: Message, decision: str) -> Message:
    """An advisor decides about a message stuck in "sending" that the provider could not
    confirm: it left ("sent") or it did not ("resend")."""
    check_sender(user)
    from messaging import outbox

    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if not message.needs_review or message.status != Message.Status.SENDING:
            raise ServiceError(
                _("This message does not need a decision."), code="conflict", status=409
            )
        if decision == "sent":
            outbox.advance(
                message,
                Message.Status.SENT,
                MessageEvent.Source.STAFF,
                _("Marked as sent by %(name)s") % {"name": user.display_name},
            )
        elif decision == "resend":
            message.status = Message.Status.QUEUED
            message.next_attempt_at = timezone.now()
            message.claim = message.claimed_at = None
            MessageEvent.objects.create(
                message=message,
                status=Message.Status.QUEUED,
                source=MessageEvent.Source.STAFF,
                detail=_("Sent again by %(name)s") % {"name": user.display_name},
            )
        else:
            raise ValidationError({"decision": [_("Choose “sent” or “resend”.")]})
        message.needs_review = False
        message.save()
    if decision == "resend":
        jobs.enqueue(outbox.dispatch)
    return message


# --- inbound ---------------------------------------------------------------------------------

STOP_WORDS = {
    "stop",
    "arret",
    "stop sms",
    "stopsms",
    "arreter",
    "desabonner",
    "desinscription",
    "unsubscribe",
}


def is_stop(body: str) -> bool:
    from backend.core.text import normalise

    # "Stop.", "STOP !", " arrêt " all count: punctuation and spaces around are dropped.
    return " ".join(normalise(body).replace(".", " ").split()) in STOP_WORDS


def handle_inbound(provider_id: str, from_number: str, to_number: str, body: str) -> InboundMessage:
    """Store an inbound SMS once (replays return the first row) and act on it."""
    existing = InboundMessage.objects.filter(provider_id=provider_id).first()
    if existing:
        return existing
    people = list(
        Person.objects.filter(mobile=from_number).select_related("household").order_by("pk")[:5]
    )
    person = people[0] if people else None
    residence = None
    if person is not None:
        from backend.estate.models import Lease

        lease = (
            Lease.objects.current()
            .filter(household=person.household)
            .select_related("residence")
            .first()
        )
        residence = lease.residence if lease else None
    organisation_id = (
        residence.organisation_id
        if residence
        else (person.household.organisation_id if person else None)
    )
    if organisation_id is None:
        # An unknown number wrote to us: one landlord per deployment is the rule, so the message
        # goes to its advisors (with several, only superusers see it until it is attributed).
        only = list(Organisation.objects.values_list("pk", flat=True)[:2])
        organisation_id = only[0] if len(only) == 1 else None
    kind = InboundMessage.Kind.UNKNOWN
    if is_stop(body):
        kind = InboundMessage.Kind.OPT_OUT
    elif person is not None:
        kind = InboundMessage.Kind.FROM_TENANT
    with transaction.atomic():
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    provider_id=provider_id,
                    from_number=from_number,
                    to_number=to_number,
                    body=body[:2000],
                    kind=kind,
                    person=person,
                    residence=residence,
                    organisation_id=organisation_id,
                )
        except IntegrityError:
            return InboundMessage.objects.get(provider_id=provider_id)
        if kind == InboundMessage.Kind.OPT_OUT:
            for each in people:
                opt_out(
                    each,
                    [Purpose.INFORMATION, Purpose.COMMERCIAL],
                    [Channel.SMS],
                    OptOut.Source.SMS_KEYWORD,
                )
            inbound.handled_at = timezone.now()
            inbound.save(update_fields=["handled_at"])
            if person is not None and residence is not None:
                notify(
                    [person.pk],
                    purpose=Purpose.OPERATIONAL,
                    title=_("Opt-out confirmation"),
                    texts=Texts(sms_body=OPT_OUT_CONFIRMATION()),
                    residence=residence,
                    urgent=True,
                    about=inbound,
                )
        from messaging.signals import inbound_received

        inbound_received.send(sender=InboundMessage, message=inbound)
    return inbound


def OPT_OUT_CONFIRMATION() -> str:
    return _(
        "You will no longer receive general information or commercial offers by text message. "
        "Messages about your requests and your home will continue."
    )


def mark_inbound_handled(user, inbound: InboundMessage) -> InboundMessage:
    check_sender(user)
    if inbound.handled_at is None:
        inbound.handled_at = timezone.now()
        inbound.handled_by = user
        inbound.save(update_fields=["handled_at", "handled_by"])
    return inbound


def block_channel(message: Message, code: str, reason: str) -> None:
    if message.person_id is None:
        return
    ChannelBlock.objects.get_or_create(
        person_id=message.person_id,
        channel=message.channel,
        address=message.to,
        defaults={"code": code, "reason": reason[:300]},
    )
