"""Inspection operations: every write goes through here, each in one transaction (images are
processed before it). Rules: docs/inspections.md."""

import functools
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backend import jobs
from backend.accounts.models import Role, User
from backend.accounts.scoping import STAFF_ROLES, get_scoped_or_404, require_role, scoped
from backend.core import images
from backend.core.errors import Conflict, ServiceError
from backend.core.text import french_csv
from backend.estate.models import ContractSite, Entrance, ProviderContract, Residence, WorkCategory
from backend.estate.services import contracts_for
from backend.sync.records import record_objects
from inspections import rates, scoring
from inspections.grids import ensure_default_grid
from inspections.models import (
    Answer,
    ControlAlert,
    Grid,
    GridVersion,
    Item,
    Penalty,
    Photo,
    Rework,
    Visit,
)

INSPECTORS = {Role.AGENT, Role.MANAGER, Role.ADMIN}
MANAGERS = {Role.MANAGER, Role.ADMIN}
REWORK_LINK_SALT = "inspections.rework-link"


def _in_french(function):
    """Messages to providers, managers and tenants are written in the organisation's language
    (French), whatever the language of the person whose action sends them."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return function(*args, **kwargs)

    return wrapper


_require = require_role


def require_staff(user) -> None:
    require_role(user, STAFF_ROLES)


def is_manager(user) -> bool:
    return user.is_superuser or user.role in MANAGERS


# --- which grid, which contract ----------------------------------------------------------------


def contract_for(
    residence: Residence, category: str = WorkCategory.CLEANING, on: date | None = None
):
    """The active contract covering this residence for this category (None: in-house)."""
    return contracts_for([residence], category, on).get(residence.pk)


def grid_for(
    residence: Residence, contract: ProviderContract | None, category: str = WorkCategory.CLEANING
):
    """The current version of the most specific grid: the contract's, the organisation's, then
    the default shipped with Ronde."""
    grids = Grid.objects.filter(is_active=True, category=category)
    for candidates in (
        grids.filter(contract=contract) if contract else grids.none(),
        grids.filter(organisation_id=residence.organisation_id, contract__isnull=True),
        grids.filter(organisation__isnull=True, contract__isnull=True),
    ):
        grid = candidates.order_by("pk").first()
        version = grid.current if grid is not None else None  # a query: read once
        if version is not None:
            return version
    return ensure_default_grid().current


# --- planning --------------------------------------------------------------------------------


def visit_day_for(
    target: date, visit_days: list[int], organisation, after: date | None = None
) -> date:
    """The day of a visit aimed at `target`: just after the provider's last visit day on or
    before `target` ("juste après les interventions de ménage", seed 004), so that visits never
    drift later than their frequency; the provider's next day when that would fall on or before
    `after` (the previous visit, or yesterday). Sundays and public holidays move it forward."""

    def day_after_provider(start: date, step: int) -> date:
        candidate = start
        for _offset in range(7):
            if candidate.weekday() in visit_days:
                break
            candidate += timedelta(days=step)
        return candidate + timedelta(days=1)

    candidate = target
    if visit_days:
        candidate = day_after_provider(target - timedelta(days=1), -1)
        if after is not None and candidate <= after:
            candidate = day_after_provider(max(target, after), 1)
    while candidate.weekday() == 6 or organisation.is_public_holiday(candidate):
        candidate += timedelta(days=1)
    return candidate


@jobs.periodic(minutes=24 * 60)
def plan_rounds(horizon_days: int = 14, today: date | None = None) -> int:
    """Plan the cleaning visits of the next `horizon_days` for every residence that an agent
    looks after, at its target frequency, just after the provider's visit days: each visit at
    most one frequency after the previous one. Idempotent (a unique constraint and the last
    planned date). Other categories (lifts, green spaces...) are inspected when an agent starts
    a visit of that category."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=horizon_days)
    created = 0
    residences = (
        Residence.objects.filter(sectors__agents__is_active=True)
        .distinct()
        .select_related("organisation")
        .annotate(
            last_planned=Max(
                "visits__planned_for", filter=~Q(visits__status=Visit.Status.CANCELLED)
            ),
            last_done=Max("visits__finished_at"),
        )
    )
    for residence in residences:
        contract = contract_for(residence, on=today)
        version = grid_for(residence, contract)
        site = (
            ContractSite.objects.filter(contract=contract, residence=residence).first()
            if contract
            else None
        )
        visit_days = site.visit_days if site else []
        agent = (
            User.objects.filter(sectors__residences=residence, role=Role.AGENT, is_active=True)
            .order_by("pk")
            .first()
        )
        interval = timedelta(days=residence.inspection_frequency)
        last_done = timezone.localtime(residence.last_done).date() if residence.last_done else None
        previous = max((d for d in (residence.last_planned, last_done) if d), default=None)
        target = max(previous + interval, today) if previous else today
        after = max(previous or today - timedelta(days=1), today - timedelta(days=1))
        while True:
            planned = visit_day_for(target, visit_days, residence.organisation, after=after)
            if planned > horizon:
                break
            try:
                with transaction.atomic():
                    Visit.objects.create(
                        organisation_id=residence.organisation_id,
                        residence=residence,
                        grid_version=version,
                        contract=contract,
                        agent=agent,
                        planned_for=planned,
                    )
                    created += 1
            except IntegrityError:
                pass
            after, target = planned, planned + interval
    return created


@jobs.periodic(minutes=24 * 60)
def mark_missed(today: date | None = None) -> int:
    """A planned visit not done by the time the next one is due is missed."""
    today = today or timezone.localdate()
    missed = [
        visit
        for visit in Visit.objects.filter(
            status=Visit.Status.PLANNED, planned_for__lt=today
        ).select_related("residence")
        if visit.planned_for + timedelta(days=visit.residence.inspection_frequency) <= today
    ]
    if not missed:
        return 0
    count = Visit.objects.filter(
        pk__in=[visit.pk for visit in missed], status=Visit.Status.PLANNED
    ).update(status=Visit.Status.MISSED)
    record_objects(missed)  # an update() skips the signals that feed phones
    return count


def reassign(user, visit_id, agent_id: int | None, planned_for: date | None = None) -> Visit:
    """Give a planned or missed visit to another agent of the residence, and/or another date
    (a missed visit moved to a coming date is planned again)."""
    _require(user, MANAGERS)
    with transaction.atomic():
        visit = get_scoped_or_404(user, Visit.objects.select_for_update(), pk=visit_id)
        if visit.status not in (Visit.Status.PLANNED, Visit.Status.MISSED):
            raise Conflict(_("Only a planned or missed visit can be reassigned."))
        if agent_id is not None:
            agent = User.objects.filter(pk=agent_id, role=Role.AGENT, is_active=True).first()
            if agent is None or not scoped(agent, Residence).filter(pk=visit.residence_id).exists():
                raise ValidationError(
                    {"agent": [_("This agent does not look after this residence.")]}
                )
            visit.agent = agent
        if planned_for is not None and planned_for != visit.planned_for:
            if planned_for < timezone.localdate():
                raise ValidationError({"planned_for": [_("Choose today or a later date.")]})
            visit.planned_for = planned_for
            visit.status = Visit.Status.PLANNED
        try:
            with transaction.atomic():
                visit.save()
        except IntegrityError:
            raise Conflict(
                _("Another visit is already planned at this residence on that day."),
                code="date_taken",
            ) from None
    return visit


# --- execution -------------------------------------------------------------------------------


def start_visit(
    user,
    visit_id: uuid.UUID,
    residence_id: int | None = None,
    entrance_id: int | None = None,
    joint: bool = False,
    category: str = WorkCategory.CLEANING,
    grid_version_id: int | None = None,
) -> Visit:
    """Start a planned visit, or an unplanned one with the id the phone made, of a category
    (cleaning by default; a lift or green-space control takes that contract and grid). Sending
    the same start twice, even at once, returns the same visit."""
    _require(user, INSPECTORS)
    if category not in WorkCategory.values:
        raise ValidationError({"category": [_("Unknown category.")]})
    existing = scoped(user, Visit).filter(pk=visit_id).first()
    if existing is None and Visit.objects.filter(pk=visit_id).exists():
        raise Http404  # someone else's visit id: never revealed, never reused
    if existing is not None:
        with transaction.atomic():
            visit = Visit.objects.select_for_update().get(pk=visit_id)
            if visit.status in (Visit.Status.PLANNED, Visit.Status.MISSED):
                visit.status = Visit.Status.IN_PROGRESS
                visit.started_at = timezone.now()
                visit.agent = visit.agent or user
                visit.joint = visit.joint or joint
                visit.save()
            return visit
    if residence_id is None:
        raise ValidationError({"residence_id": [_("Choose the residence of the visit.")]})
    residence = get_scoped_or_404(
        user, Residence.objects.select_related("organisation"), pk=residence_id
    )
    entrance = None
    if entrance_id is not None:
        entrance = Entrance.objects.filter(pk=entrance_id, residence=residence).first()
        if entrance is None:
            raise ValidationError({"entrance_id": [_("This entrance is not in the residence.")]})
    contract = contract_for(residence, category)
    version = grid_for(residence, contract, category)
    if grid_version_id and grid_version_id != version.pk:
        # The phone answered offline with the version it had: keep it if it is of the same grid.
        older = GridVersion.objects.filter(pk=grid_version_id, grid_id=version.grid_id).first()
        version = older or version
    try:
        with transaction.atomic():
            return Visit.objects.create(
                id=visit_id,
                organisation_id=residence.organisation_id,
                residence=residence,
                entrance=entrance,
                grid_version=version,
                contract=contract,
                agent=user,
                joint=joint,
                status=Visit.Status.IN_PROGRESS,
                started_at=timezone.now(),
            )
    except IntegrityError:  # the same start, sent twice at once: the first one made it
        return get_scoped_or_404(user, Visit, pk=visit_id)


@dataclass
class AnswerInput:
    id: uuid.UUID
    item_id: int
    value: str
    comment: str = ""
    cause: str = ""


def _open_visit(user, visit_id, lock=True, finished_ok=False) -> Visit:
    queryset = Visit.objects.select_for_update() if lock else Visit.objects.all()
    visit = get_scoped_or_404(
        user, queryset.select_related("grid_version__grid", "residence"), pk=visit_id
    )
    if visit.status == Visit.Status.DONE and not finished_ok:
        raise Conflict(
            _("This visit is finished: its answers can no longer change."), code="visit_finished"
        )
    if visit.status == Visit.Status.CANCELLED:
        raise Conflict(_("This visit was cancelled."), code="visit_cancelled")
    return visit


def record_answers(user, visit_id, answers: list[AnswerInput]) -> list[Answer]:
    """Save answers (new or changed) in a fixed number of queries, whatever their number. Each
    answer keeps the id the phone made: sending it again changes nothing more."""
    _require(user, INSPECTORS)
    with transaction.atomic():
        visit = _open_visit(user, visit_id)
        items = set(
            Item.objects.filter(zone__version=visit.grid_version_id).values_list("pk", flat=True)
        )
        errors = []
        seen_items, seen_ids = set(), set()
        for answer in answers:
            if answer.item_id not in items:
                errors.append(
                    _("Item %(item)s is not in this visit's grid.") % {"item": answer.item_id}
                )
            elif answer.item_id in seen_items:
                errors.append(_("Item %(item)s is answered twice.") % {"item": answer.item_id})
            if answer.id in seen_ids:
                errors.append(_("Answer %(id)s is sent twice.") % {"id": answer.id})
            seen_items.add(answer.item_id)
            seen_ids.add(answer.id)
            if answer.value not in Answer.Value.values:
                errors.append(_("“%(value)s” is not an answer.") % {"value": answer.value})
            if answer.cause and answer.cause not in Answer.Cause.values:
                errors.append(_("“%(value)s” is not a cause.") % {"value": answer.cause})
        if errors:
            raise ValidationError({"answers": errors})
        existing = {
            a.item_id: a
            for a in Answer.objects.filter(visit=visit, item_id__in=[a.item_id for a in answers])
        }
        known = dict(
            Answer.objects.filter(pk__in=[a.id for a in answers]).values_list("pk", "visit_id")
        )
        if any(visit_of != visit.pk for visit_of in known.values()):
            raise ValidationError({"answers": [_("An answer id belongs to another visit.")]})
        for data in answers:
            current = existing.get(data.item_id)
            if data.id in known and (current is None or current.pk != data.id):
                raise ValidationError(
                    {"answers": [_("Answer %(id)s belongs to another item.") % {"id": data.id}]}
                )
        now = timezone.now()
        new, changed = [], []
        for data in answers:
            cause = data.cause if data.value in (Answer.Value.MINOR, Answer.Value.MAJOR) else ""
            if data.value in (Answer.Value.MINOR, Answer.Value.MAJOR) and not cause:
                cause = Answer.Cause.SERVICE
            current = existing.get(data.item_id)
            if current is None:
                new.append(
                    Answer(
                        id=data.id,
                        visit=visit,
                        item_id=data.item_id,
                        value=data.value,
                        comment=data.comment[:2000],
                        cause=cause,
                        answered_at=now,
                    )
                )
            elif (current.value, current.comment, current.cause) != (
                data.value,
                data.comment[:2000],
                cause,
            ):
                current.value, current.comment, current.cause, current.answered_at = (
                    data.value,
                    data.comment[:2000],
                    cause,
                    now,
                )
                changed.append(current)
        Answer.objects.bulk_create(new)
        if changed:
            Answer.objects.bulk_update(changed, ["value", "comment", "cause", "answered_at"])
    return new + changed


def _delete_files(*files) -> None:
    for file in files:
        if file:
            file.storage.delete(file.name)


def add_photo(
    user, photo_id: uuid.UUID, data: bytes, *, visit_id=None, answer_id=None, rework=None
) -> Photo:
    """Store a photo once (its id is the phone's). Who may send it is checked first; then the
    image is checked, turned upright, stripped of every metadata, resized and written to the
    storage, all before the short transaction that records it. A photo may arrive after its
    visit was finished (the phone sends what it has, in any order)."""
    existing = Photo.objects.filter(pk=photo_id).first()
    if existing is not None:
        mine = (rework is not None and existing.rework_id == rework.pk) or (
            user.is_authenticated and scoped(user, Photo).filter(pk=photo_id).exists()
        )
        if not mine:
            raise Http404
        return existing  # a retry after a lost answer: the photo is already here
    if rework is not None:
        visit, answer, residence = rework.visit, rework.answer, rework.residence
    else:
        _require(user, INSPECTORS)
        visit = _open_visit(user, visit_id, lock=False, finished_ok=True)
        answer = None
        if answer_id is not None:
            answer = Answer.objects.filter(pk=answer_id, visit=visit).first()
            if answer is None:
                raise ValidationError({"answer_id": [_("This answer is not in the visit.")]})
        residence = visit.residence
    processed = images.process(data)  # slow: before any transaction
    photo = Photo(
        id=photo_id,
        visit=visit,
        answer=answer,
        rework=rework,
        residence=residence,
        width=processed.width,
        height=processed.height,
        uploaded_by=user if user.is_authenticated else None,
    )
    photo.image.save(f"{photo_id}.jpg", ContentFile(processed.image), save=False)
    photo.thumbnail.save(f"{photo_id}-thumb.jpg", ContentFile(processed.thumbnail), save=False)
    try:
        with transaction.atomic():
            photo.save(force_insert=True)
    except IntegrityError:  # the same photo, sent twice at once: keep the first one's files
        _delete_files(photo.image, photo.thumbnail)
        return Photo.objects.get(pk=photo_id)
    except BaseException:
        _delete_files(photo.image, photo.thumbnail)
        raise
    return photo


def finish_visit(user, visit_id, signatory_name: str = "", signature: bytes | None = None) -> Visit:
    """Score the visit, raise the rework requests of its major service failures, and for a
    joint inspection keep the provider's signature and have its report made."""
    _require(user, INSPECTORS)
    finished = Visit.objects.filter(pk=visit_id, status=Visit.Status.DONE).first()
    if finished is not None and scoped(user, Visit).filter(pk=visit_id).exists():
        return finished  # finished already: a retry
    signature_png = images.process_signature(signature) if signature else None
    field = Visit._meta.get_field("signature")
    stored_signature = None
    if signature_png:  # written before the transaction, removed if the visit does not keep it
        stored_signature = field.storage.save(
            field.generate_filename(None, f"{visit_id}.png"), ContentFile(signature_png)
        )

    def drop_signature():
        if stored_signature:
            field.storage.delete(stored_signature)

    try:
        with transaction.atomic():
            visit = Visit.objects.select_for_update().filter(pk=visit_id).first()
            if visit is not None and visit.status == Visit.Status.DONE:
                drop_signature()
                return get_scoped_or_404(user, Visit, pk=visit_id)  # finished meanwhile
            visit = _open_visit(user, visit_id)
            _finish(user, visit, signatory_name, stored_signature)
    except BaseException:
        drop_signature()
        raise
    if visit.signature.name != stored_signature:
        drop_signature()  # not a joint visit
    return visit


def visit_items(visit: Visit) -> list[Item]:
    """The items of a visit's grid version with their zone, in the grid's order."""
    return list(
        Item.objects.filter(zone__version=visit.grid_version_id)
        .select_related("zone")
        .order_by("zone__order", "zone__pk", "order", "pk")
    )


def _finish(user, visit: Visit, signatory_name: str, stored_signature: str | None) -> None:
    items = visit_items(visit)
    answers = {a.item_id: a for a in Answer.objects.filter(visit=visit)}
    missing = [item.pk for item in items if item.pk not in answers]
    if missing:
        raise ServiceError(
            _("%(count)d item(s) have no answer yet: answer them, or mark them not applicable.")
            % {"count": len(missing)},
            code="unanswered_items",
        )
    if visit.joint and not (signatory_name.strip() and stored_signature):
        raise ValidationError(
            {"signature": [_("A joint inspection needs the provider's name and signature.")]}
        )
    score = scoring.of_items(items, answers)
    visit.score = score.percent
    visit.critical_failed = score.critical_failed
    visit.passed = score.passed(visit.grid_version.grid.threshold)
    values = [a.value for a in answers.values()]
    visit.answered = sum(v != Answer.Value.NOT_APPLICABLE for v in values)
    visit.defects = sum(v in (Answer.Value.MINOR, Answer.Value.MAJOR) for v in values)
    visit.status = Visit.Status.DONE
    visit.finished_at = timezone.now()
    visit.agent = visit.agent or user
    if visit.joint:
        visit.signatory_name = signatory_name.strip()[:200]
        visit.signature.name = stored_signature
    visit.save()
    failures = [
        a
        for a in answers.values()
        if a.value == Answer.Value.MAJOR and a.cause == Answer.Cause.SERVICE
    ]
    if failures and visit.contract_id:
        _create_reworks(visit, failures, user)
    if visit.joint:
        jobs.enqueue(build_report, str(visit.pk))


def _create_reworks(visit: Visit, answers: list[Answer], user) -> list[Rework]:
    """Rework requests for these answers (those without one yet), and one message to the
    provider listing them: a fixed number of queries, whatever the number of findings."""
    contract = visit.contract
    now = timezone.now()
    already = set(Rework.objects.filter(answer__in=answers).values_list("answer_id", flat=True))
    reworks = [
        Rework(
            visit=visit,
            answer=a,
            residence_id=visit.residence_id,
            contract=contract,
            provider_id=contract.provider_id,
            requested_at=now,
            requested_by=user,
            deadline=now + timedelta(hours=contract.rework_deadline_hours),
        )
        for a in answers
        if a.pk not in already
    ]
    Rework.objects.bulk_create(reworks)
    record_objects(reworks)  # bulk_create() skips the signals that feed phones
    if reworks:
        notify_provider_of_reworks(visit, reworks)
    return reworks


def request_rework(user, answer_id) -> Rework:
    """A rework request on demand (a minor defect the agent wants fixed), once the visit is
    finished: its answers can no longer change under the rework."""
    _require(user, INSPECTORS)
    with transaction.atomic():
        answer = get_scoped_or_404(
            user, Answer.objects.select_related("visit__contract"), pk=answer_id
        )
        if answer.visit.status != Visit.Status.DONE:
            raise Conflict(
                _("Finish the visit first: rework is requested from its findings."),
                code="visit_not_finished",
            )
        if not answer.is_defect:
            raise ServiceError(_("Only a defect can be reworked."), code="not_a_defect")
        if answer.cause == Answer.Cause.DAMAGE:
            raise ServiceError(
                _("Damage after the service is not the provider's fault: no rework, no penalty."),
                code="damage_not_reworked",
            )
        if answer.visit.contract_id is None:
            raise ServiceError(_("No provider contract covers this site."), code="no_contract")
        if hasattr(answer, "rework"):
            return answer.rework
        return _create_reworks(answer.visit, [answer], user)[0]


# --- rework: the provider's side -------------------------------------------------------------


def rework_link(rework: Rework) -> str:
    token = signing.dumps(str(rework.pk), salt=REWORK_LINK_SALT, compress=True)
    return settings.SITE_URL + reverse("inspections:rework-link", args=[token])


def rework_from_link(token: str) -> Rework:
    """The rework a personal link opens; it expires a week after the deadline."""
    try:
        rework_id = signing.loads(token, salt=REWORK_LINK_SALT)
    except signing.BadSignature:
        raise ServiceError(_("This link is not valid."), code="invalid_link", status=404) from None
    rework = (
        Rework.objects.select_related("answer__item", "residence", "provider")
        .filter(pk=rework_id)
        .first()
    )
    if rework is None or timezone.now() > rework.deadline + timedelta(days=7):
        raise ServiceError(
            _("This link has expired: log in to answer."), code="expired_link", status=410
        )
    return rework


def _tell_provider(provider, *, title: str, residence, about, subject: str, text: str) -> None:
    """An e-mail to the provider's address and its users' (in the caller's transaction)."""
    from messaging.services import Contact, Texts, notify_contacts

    contacts = [Contact(provider.name, provider.email)] + [
        Contact(u.display_name, u.email)
        for u in provider.users.filter(is_active=True).exclude(email="")
    ]
    notify_contacts(
        contacts,
        title=title,
        residence=residence,
        about=about,
        texts=Texts(email_subject=subject, email_text=text),
    )


@_in_french
def notify_provider_of_reworks(visit: Visit, reworks: list[Rework]) -> None:
    """One message to the provider (its address and its users') for the reworks of a visit,
    each with its personal link."""

    zone = visit.residence.organisation.zone
    items = Item.objects.in_bulk([r.answer.item_id for r in reworks])
    zones = {z.pk: z.name for z in visit.grid_version.zones.all()}
    lines = []
    for rework in reworks:
        item = items[rework.answer.item_id]
        deadline = timezone.localtime(rework.deadline, zone).strftime("%d/%m/%Y %H:%M")
        lines.append(
            _("- %(item)s (%(zone)s), before %(deadline)s: %(link)s")
            % {
                "item": item.label,
                "zone": zones.get(item.zone_id, ""),
                "deadline": deadline,
                "link": rework_link(rework),
            }
            + (f"\n  {rework.answer.comment}" if rework.answer.comment else "")
        )
    _tell_provider(
        visit.contract.provider,
        title=_("Rework request"),
        residence=visit.residence,
        about=visit,
        subject=_("Rework requested at {{ residence }}"),
        text=_(
            "Hello,\n\nThe inspection of {{ residence }} found what follows. Please fix it and "
            "answer from each link:\n\n%(lines)s\n\n{{ bailleur }}"
        )
        % {"lines": "\n".join(lines)},
    )


def mark_rework_done(
    user, rework: Rework, comment: str, photo: bytes | None = None, photo_id=None
) -> Rework:
    """The provider says the rework is done (from its page, or its personal link: user may be
    anonymous then, the link is the authorisation)."""
    if user.is_authenticated and not (
        user.is_superuser
        or (user.role == Role.CONTRACTOR and user.provider_id == rework.provider_id)
    ):
        raise PermissionDenied
    if rework.status != Rework.Status.REQUESTED:  # before the photo is stored: nothing half-saved
        raise Conflict(_("This rework was already answered."), code="already_answered")
    stored = add_photo(user, photo_id or uuid.uuid4(), photo, rework=rework) if photo else None
    try:
        with transaction.atomic():
            rework = Rework.objects.select_for_update().get(pk=rework.pk)
            if rework.status != Rework.Status.REQUESTED:
                raise Conflict(_("This rework was already answered."), code="already_answered")
            rework.status = Rework.Status.DONE
            rework.done_at = timezone.now()
            rework.done_by = user if user.is_authenticated else None
            rework.provider_comment = comment[:2000]
            rework.save()
    except Conflict:
        if stored is not None:  # answered meanwhile by someone else: this photo goes too
            _delete_files(stored.image, stored.thumbnail)
            stored.delete()
        raise
    return rework


def recheck(user, rework_id, lifted: bool, comment: str = "") -> Rework:
    """The re-check: lifted or not lifted. "Not lifted" waits for the provider's answer or the
    deadline; a late or failed rework proposes a penalty."""
    _require(user, INSPECTORS)
    with transaction.atomic():
        rework = get_scoped_or_404(
            user, Rework.objects.select_for_update().select_related("contract"), pk=rework_id
        )
        if rework.status in (
            Rework.Status.LIFTED,
            Rework.Status.NOT_LIFTED,
            Rework.Status.CANCELLED,
        ):
            raise Conflict(_("This rework was already re-checked."), code="already_checked")
        now = timezone.now()
        if not lifted and rework.status == Rework.Status.REQUESTED and now <= rework.deadline:
            zone = rework.residence.organisation.zone
            raise Conflict(
                _("The provider has until %(deadline)s to do this rework.")
                % {
                    "deadline": timezone.localtime(rework.deadline, zone).strftime("%d/%m/%Y %H:%M")
                },
                code="deadline_not_reached",
            )
        rework.status = Rework.Status.LIFTED if lifted else Rework.Status.NOT_LIFTED
        rework.checked_at = now
        rework.checked_by = user
        rework.check_comment = comment[:2000]
        rework.save()
        _propose_penalty(rework)
    return rework


def _propose_penalty(rework: Rework) -> Penalty | None:
    """The contract's rule: whole days late (a started day counts) minus the grace days, at least
    one day when not lifted, times the daily amount, capped. A rework the provider never
    answered is late until the re-check found it lifted."""
    contract = rework.contract
    if rework.status == Rework.Status.NOT_LIFTED:
        reason, end = Penalty.Reason.NOT_LIFTED, rework.checked_at
    else:
        end = rework.done_at or rework.checked_at
        if end is None or end <= rework.deadline:
            return None
        reason = Penalty.Reason.LATE
    # Whole days late, started ones counting (a few seconds past a whole day do not make another).
    days = (
        max(1, math.ceil((end - rework.deadline).total_seconds() / 86400 - 0.001))
        - contract.penalty_grace_days
    )
    if reason == Penalty.Reason.LATE and days <= 0:
        return None
    days = max(days, 1)
    amount = contract.penalty_per_day * days
    if contract.penalty_cap is not None:
        amount = min(amount, contract.penalty_cap)
    if amount <= 0:
        return None
    penalty = Penalty.objects.create(
        rework=rework,
        residence_id=rework.residence_id,
        contract=contract,
        provider_id=rework.provider_id,
        reason=reason,
        days_late=days,
        amount=amount.quantize(Decimal("0.01")),
        contest_until=timezone.now() + timedelta(days=contract.contest_days),
    )
    _notify_penalty(penalty)
    return penalty


@_in_french
def _notify_penalty(penalty: Penalty) -> None:

    until = timezone.localtime(penalty.contest_until, penalty.residence.organisation.zone)
    _tell_provider(
        penalty.provider,
        title=_("Proposed penalty"),
        residence=penalty.residence,
        about=penalty,
        subject=_("Proposed penalty at {{ residence }}"),
        text=_(
            "Hello,\n\nA penalty of %(amount)s € is proposed at {{ residence }} (%(reason)s). You may "
            "contest it until %(until)s from your page: %(link)s\n\n{{ bailleur }}"
        )
        % {
            "amount": penalty.amount,
            "reason": penalty.get_reason_display(),
            "until": until.strftime("%d/%m/%Y"),
            "link": settings.SITE_URL + reverse("inspections:provider-home"),
        },
    )


def contest_penalty(user, penalty_id: int, text: str) -> Penalty:
    if not (user.is_authenticated and user.role == Role.CONTRACTOR):
        raise PermissionDenied
    if not text.strip():
        raise ValidationError({"text": [_("Say why you contest the penalty.")]})
    with transaction.atomic():
        penalty = get_scoped_or_404(user, Penalty.objects.select_for_update(), pk=penalty_id)
        if penalty.status != Penalty.Status.PROPOSED:
            raise Conflict(_("This penalty can no longer be contested."), code="not_contestable")
        if timezone.now() > penalty.contest_until:
            raise Conflict(
                _("The period to contest this penalty is over."), code="contest_period_over"
            )
        penalty.status = Penalty.Status.CONTESTED
        penalty.contest_text = text.strip()[:4000]
        penalty.contested_at = timezone.now()
        penalty.contested_by = user
        penalty.save()
    return penalty


def decide_penalty(user, penalty_id: int, confirm: bool, reason: str) -> Penalty:
    """A manager confirms or waives a penalty, always with a reason; a proposed one can be
    decided only once its contest period is over."""
    _require(user, MANAGERS)
    if not reason.strip():
        raise ValidationError({"reason": [_("Give the reason of the decision.")]})
    with transaction.atomic():
        penalty = get_scoped_or_404(user, Penalty.objects.select_for_update(), pk=penalty_id)
        if penalty.status in (Penalty.Status.CONFIRMED, Penalty.Status.WAIVED):
            raise Conflict(_("This penalty was already decided."), code="already_decided")
        if (
            penalty.status == Penalty.Status.PROPOSED
            and confirm
            and timezone.now() <= penalty.contest_until
        ):
            raise Conflict(
                _("The provider may still contest this penalty until %(date)s.")
                % {"date": timezone.localtime(penalty.contest_until).strftime("%d/%m/%Y")},
                code="contest_period_open",
            )
        penalty.status = Penalty.Status.CONFIRMED if confirm else Penalty.Status.WAIVED
        penalty.decided_at = timezone.now()
        penalty.decided_by = user
        penalty.decision_reason = reason.strip()[:2000]
        penalty.save()
    return penalty


def export_penalties(user, provider_id: int, month: date) -> str:
    """The confirmed penalties of a provider for a month, as CSV for the accounts (French
    spreadsheet style), with the finding and its photos behind each line."""
    _require(user, MANAGERS)
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    penalties = (
        scoped(user, Penalty)
        .filter(
            provider_id=provider_id,
            status=Penalty.Status.CONFIRMED,
            decided_at__date__gte=start,
            decided_at__date__lt=end,
        )
        .select_related("residence", "contract", "rework__answer__item__zone", "rework__visit")
        .prefetch_related("rework__answer__photos", "rework__photos")
        .order_by("decided_at")
    )
    header = [
        _("Date"),
        _("Residence"),
        _("Contract"),
        _("Zone"),
        _("Item"),
        _("Finding"),
        _("Reason"),
        _("Days late"),
        _("Amount (€)"),
        _("Decision"),
        _("Photos"),
    ]
    from backend.core.files import protected_url

    rows = []
    for p in penalties:
        answer = p.rework.answer
        photos = [
            settings.SITE_URL + protected_url(ph, "image")
            for ph in [*answer.photos.all(), *p.rework.photos.all()]
        ]
        rows.append(
            [
                timezone.localtime(p.decided_at).strftime("%d/%m/%Y"),
                p.residence.name,
                p.contract.reference,
                answer.item.zone.name,
                answer.item.label,
                answer.comment,
                p.get_reason_display(),
                p.days_late,
                str(p.amount).replace(".", ","),
                p.decision_reason,
                " ".join(photos),
            ]
        )
    return french_csv(header, rows)


# --- reports ---------------------------------------------------------------------------------


@jobs.job
@_in_french
def build_report(visit_id: str) -> None:
    """The signed PDF report (procès-verbal) of a joint inspection, kept with the visit and
    sent to the provider. Idempotent: made once."""
    from inspections.report import render_report

    visit = Visit.objects.select_related(
        "residence__organisation", "contract__provider", "agent"
    ).get(pk=visit_id)
    if visit.report:
        return
    pdf = render_report(visit)  # made and written before the transaction
    field = Visit._meta.get_field("report")
    stored = field.storage.save(
        field.generate_filename(None, f"pv-{visit.pk}.pdf"), ContentFile(pdf)
    )
    with transaction.atomic():
        visit = Visit.objects.select_for_update().get(pk=visit_id)
        if visit.report:
            field.storage.delete(stored)  # made meanwhile by another run
            return
        visit.report.name = stored
        visit.save(update_fields=["report"])
        if visit.contract_id:
            from backend.core.files import protected_url

            _tell_provider(
                visit.contract.provider,
                title=_("Joint inspection report"),
                residence=visit.residence,
                about=visit,
                subject=_("Joint inspection report — {{ residence }}"),
                text=_(
                    "Hello,\n\nThe report of the joint inspection of %(date)s at {{ residence }}, signed by "
                    "%(signatory)s, is available: %(link)s\n\n{{ bailleur }}"
                )
                % {
                    "date": timezone.localtime(visit.finished_at).strftime("%d/%m/%Y"),
                    "signatory": visit.signatory_name,
                    "link": settings.SITE_URL + protected_url(visit, "report"),
                },
            )


# --- alerts and retention ----------------------------------------------------------------------


@jobs.periodic(minutes=24 * 60)
def alert_under_controlled(today: date | None = None) -> int:
    """Residences whose last visit is older than their frequency allows, or never inspected
    (small ones included), are told to their agency's managers once per lapse, in one message
    per agency and day listing them; the lapse ends with the next visit. Returns the number of
    new lapses."""
    from messaging.services import Contact, Texts, notify_contacts

    today = today or timezone.localdate()
    still_open = set(
        ControlAlert.objects.filter(resolved_at__isnull=True).values_list("residence_id", flat=True)
    )
    lapses: dict = {}
    inspected_again = []
    residences = Residence.objects.select_related("agency", "organisation")
    for residence, reference, due, lapsed in rates.inspection_lapses(residences, today):
        if not lapsed:
            if residence.pk in still_open:
                inspected_again.append(residence.pk)
            continue
        if residence.pk not in still_open:  # an ongoing lapse was already told
            lapses.setdefault(residence.agency, []).append((residence, reference, due))
    # The lapses that a visit ended, in one write.
    ControlAlert.objects.filter(residence_id__in=inspected_again, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )
    created = 0
    link = settings.SITE_URL + reverse("inspections:dashboard")
    for agency, rows in lapses.items():
        with transaction.atomic():
            new = []
            for residence, reference, due in rows:
                try:
                    with transaction.atomic():
                        ControlAlert.objects.create(residence=residence, due_since=due or today)
                except IntegrityError:
                    continue  # another worker told it today
                new.append((residence, reference, due))
            if not new:
                continue
            created += len(new)
            managers = User.objects.filter(agencies=agency, role=Role.MANAGER, is_active=True)
            with translation.override(settings.LANGUAGE_CODE):
                lines = [
                    _("- %(residence)s (%(units)d units): never inspected")
                    % {"residence": r.name, "units": r.units_count}
                    if reference is None
                    else _(
                        "- %(residence)s (%(units)d units): last inspection %(last)s, due %(due)s"
                    )
                    % {
                        "residence": r.name,
                        "units": r.units_count,
                        "last": reference.strftime("%d/%m/%Y"),
                        "due": due.strftime("%d/%m/%Y"),
                    }
                    for r, reference, due in new
                ]
                notify_contacts(
                    [Contact(m.display_name, m.email) for m in managers if m.email],
                    title=_("Residences not inspected in time"),
                    residence=new[0][0] if len(new) == 1 else None,
                    organisation_id=agency.organisation_id,
                    texts=Texts(
                        email_subject=ngettext(
                            "%(count)d residence of %(agency)s not inspected in time",
                            "%(count)d residences of %(agency)s not inspected in time",
                            len(new),
                        )
                        % {"count": len(new), "agency": agency.name},
                        email_text=_(
                            "Hello,\n\nThese residences have not been inspected as often as their "
                            "target frequency asks:\n\n%(lines)s\n\n%(link)s"
                        )
                        % {"lines": "\n".join(lines), "link": link},
                    ),
                )
    return created


@jobs.periodic(minutes=24 * 60)
def purge_old_photos(today: date | None = None) -> int:
    """Photos are kept PHOTO_RETENTION_DAYS, then their files and rows are deleted."""
    limit = timezone.make_aware(
        datetime.combine(
            (today or timezone.localdate()) - timedelta(days=settings.PHOTO_RETENTION_DAYS),
            time.min,
        )
    )
    deleted = 0
    for photo in Photo.objects.filter(created_at__lt=limit)[:1000]:
        photo.image.delete(save=False)
        photo.thumbnail.delete(save=False)
        photo.delete()
        deleted += 1
    return deleted


# --- positive information --------------------------------------------------------------------


def inform_tenants(
    user, *, visit: Visit | None = None, rework: Rework | None = None, place: str = "entrance"
):
    """Tell the tenants of the entrance (or building) that the common areas were found clean,
    or that a finding was fixed (seed 004, tip 3: constat, action, vérification, information).
    Once per visit or rework: a second click returns the first campaign."""
    from django.contrib.contenttypes.models import ContentType

    from messaging.models import Campaign
    from messaging.services import (
        CampaignInput,
        Texts,
        create_campaign,
        resolve_template,
        template_texts,
    )

    _require(user, INSPECTORS | {Role.ADVISOR})
    if rework is not None:
        if rework.status != Rework.Status.LIFTED:
            raise ServiceError(_("Only a lifted rework can be announced."), code="not_lifted")
        visit, key, about = rework.visit, "reprise-levee", rework
    elif visit is None or not visit.passed:
        raise ServiceError(_("Only a compliant visit can be announced."), code="not_compliant")
    else:
        key, about = "proprete-controle", visit
    if visit.entrance_id is None:
        audience = {"kind": "residence", "ids": [visit.residence_id]}
    elif place == "building":
        audience = {"kind": "building", "ids": [visit.entrance.building_id]}
    else:
        audience = {"kind": "entrance", "ids": [visit.entrance_id]}
    content_type = ContentType.objects.get_for_model(about)
    with transaction.atomic():
        type(about).objects.select_for_update().filter(pk=about.pk).first()  # one click at a time
        already = Campaign.objects.filter(
            content_type=content_type, object_id=str(about.pk), purpose="information"
        ).first()
        if already is not None:
            return already
        template = resolve_template(key, visit.residence)
        with translation.override(settings.LANGUAGE_CODE):
            texts = (
                template_texts(template)
                if template
                else Texts(sms_body=DEFAULT_POSITIVE_SMS[key]())
            )
            title = template.name if template else _("Common areas checked")
        campaign = create_campaign(
            user,
            CampaignInput(
                title=title,
                purpose="information",
                audience=audience,
                texts=texts,
                template_id=template.pk if template else None,
                personalised=template is None,
            ),
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            content_type=content_type, object_id=str(about.pk)
        )
    return campaign


DEFAULT_POSITIVE_SMS = {
    "proprete-controle": lambda: _(
        "Hello, the cleanliness of the common areas of {{ residence }} was checked today and found "
        "compliant. Thank you for helping keep your building clean. {{ agence }}"
    ),
    "reprise-levee": lambda: _(
        "Hello, a cleanliness defect found in the common areas of {{ residence }} has been fixed by "
        "the provider and checked by our agent. {{ agence }}"
    ),
}
