"""What the agents' app keeps of inspections, and the changes it may send (docs/sync.md,
docs/inspections.md): grids, this fortnight's rounds, open rework; starting, answering and
finishing a visit, photos, re-checks."""

import base64
import binascii
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.scoping import scoped
from backend.sync import media, push, records
from inspections import services
from inspections.models import Answer, GridVersion, Rework, Visit

ROUNDS_DAYS = 7  # phones keep the rounds of a week back and a week ahead


def _uuid(value, field="record"):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError({field: [_("This identifier is not valid.")]}) from None


def serialize_visit(v: Visit) -> dict:
    return {
        "residence": v.residence_id,
        "entrance": v.entrance_id,
        "grid": v.grid_version_id,
        "status": v.status,
        "planned_for": v.planned_for.isoformat() if v.planned_for else None,
        "agent": v.agent_id,
        "joint": v.joint,
        "late": v.is_late,
        "score": str(v.score) if v.score is not None else None,
        "passed": v.passed,
        "finished_at": v.finished_at.isoformat() if v.finished_at else None,
    }


def keep_visits(queryset):
    today = timezone.localdate()
    return queryset.filter(
        Q(
            status__in=[Visit.Status.PLANNED, Visit.Status.MISSED],
            planned_for__range=(
                today - timedelta(days=ROUNDS_DAYS),
                today + timedelta(days=ROUNDS_DAYS),
            ),
        )
        | Q(status=Visit.Status.IN_PROGRESS)
        | Q(status=Visit.Status.DONE, finished_at__gte=timezone.now() - timedelta(days=ROUNDS_DAYS))
    )


def serialize_rework(r: Rework) -> dict:
    return {
        "residence": r.residence_id,
        "visit": str(r.visit_id),
        "item": r.answer.item.label,
        "zone": r.answer.item.zone.name,
        "finding": r.answer.comment,
        "status": r.status,
        "deadline": r.deadline.isoformat(),
        "late": r.is_late,
        "provider": r.provider.name,
        "provider_comment": r.provider_comment,
        "done_at": r.done_at.isoformat() if r.done_at else None,
    }


def serialize_grid(version: GridVersion) -> dict:
    return {
        "grid": version.grid_id,
        "name": version.grid.name,
        "category": version.grid.category,
        "number": version.number,
        "threshold": version.grid.threshold,
        "zones": [
            {
                "id": zone.pk,
                "name": zone.name,
                "items": [
                    {"id": i.pk, "label": i.label, "weight": i.weight, "critical": i.critical}
                    for i in zone.items.all()
                ],
            }
            for zone in version.zones.all()
        ],
    }


def serialize_sites(residences) -> list[dict]:
    """What a phone needs to start a visit offline: the grid that applies to each site. One
    query for the contracts of the page, one grid lookup per contract (not per residence)."""
    contracts = services.contracts_for(residences)
    grids = {}
    out = []
    for residence in residences:
        contract = contracts.get(residence.pk)
        key = (residence.organisation_id, contract.pk if contract else None)
        if key not in grids:
            grids[key] = services.grid_for(residence, contract).grid_id
        out.append({"grid": grids[key], "provider": contract.provider.name if contract else None})
    return out


def register() -> None:
    from backend.estate.models import Residence

    records.register(
        records.RecordType(
            kind="site",
            model=Residence,
            residence="pk",
            serialize=lambda residence: serialize_sites([residence])[0],
            serialize_many=serialize_sites,
        )
    )
    records.register(
        records.RecordType(
            kind="grid",
            model=GridVersion,
            residence=None,
            organisation=lambda v: v.grid.organisation_id,
            serialize=serialize_grid,
            keep=lambda qs: qs.filter(grid__is_active=True).prefetch_related("zones__items"),
            related=("grid",),
        )
    )
    records.register(
        records.RecordType(
            kind="visit",
            model=Visit,
            residence="residence_id",
            serialize=serialize_visit,
            keep=keep_visits,
        )
    )
    records.register(
        records.RecordType(
            kind="rework",
            model=Rework,
            residence="residence_id",
            serialize=serialize_rework,
            keep=lambda qs: qs.filter(status__in=[Rework.Status.REQUESTED, Rework.Status.DONE]),
            related=("answer__item__zone", "provider"),
        )
    )
    push.register(push.Handler("visit.start", start, current=current_visit, after=attach_photos))
    push.register(
        push.Handler("visit.answers", answers, current=current_visit, after=attach_photos)
    )
    push.register(push.Handler("visit.finish", finish, current=current_visit))
    push.register(push.Handler("rework.recheck", recheck, current=current_rework))
    media.register("visit.photo", attach_visit_photo)


def current_visit(user, record_id):
    visit = scoped(user, Visit).filter(pk=_uuid(record_id)).first()
    return {"t": "visit", "id": str(visit.pk), "d": serialize_visit(visit)} if visit else None


def current_rework(user, record_id):
    rework = (
        scoped(user, Rework)
        .select_related("answer__item__zone", "provider")
        .filter(pk=_uuid(record_id))
        .first()
    )
    return {"t": "rework", "id": str(rework.pk), "d": serialize_rework(rework)} if rework else None


def start(user, record_id, data):
    visit = services.start_visit(
        user,
        _uuid(record_id),
        residence_id=data.get("residence"),
        entrance_id=data.get("entrance"),
        joint=bool(data.get("joint")),
        category=data.get("category") or "cleaning",
        grid_version_id=data.get("grid"),
    )
    return current_visit(user, visit.pk)


def answers(user, record_id, data):
    rows = data.get("answers")
    if not isinstance(rows, list) or len(rows) > 500:
        raise ValidationError({"answers": [_("The answers are missing.")]})
    try:
        inputs = [
            services.AnswerInput(
                id=_uuid(row["id"], "answers"),
                item_id=int(row["item"]),
                value=str(row["value"]),
                comment=str(row.get("comment") or "")[:2000],
                cause=str(row.get("cause") or ""),
            )
            for row in rows
        ]
    except (KeyError, TypeError, ValueError):
        raise ValidationError({"answers": [_("An answer is incomplete.")]}) from None
    services.record_answers(user, _uuid(record_id), inputs)
    return current_visit(user, record_id)


def finish(user, record_id, data):
    signature = None
    if data.get("signature"):
        raw = str(data["signature"]).split(",", 1)[-1]  # a data: URL from the canvas
        try:
            signature = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError({"signature": [_("The signature is not an image.")]}) from None
    services.finish_visit(user, _uuid(record_id), str(data.get("signatory") or ""), signature)
    return current_visit(user, record_id)


def recheck(user, record_id, data):
    rework = services.recheck(
        user,
        _uuid(record_id),
        lifted=bool(data.get("lifted")),
        comment=str(data.get("comment") or ""),
    )
    return {"t": "rework", "id": str(rework.pk), "status": rework.status}


def attach_photos(user, record_id):
    media.attach_waiting(record_id)


def attach_visit_photo(user, item, data: bytes):
    visit_id = _uuid(item.record_id)
    answer_id = _uuid(item.answer_id, "answer") if item.answer_id else None
    if not scoped(user, Visit).filter(pk=visit_id).exists():
        raise Http404  # not arrived yet: attached when it does
    if answer_id and not Answer.objects.filter(pk=answer_id, visit_id=visit_id).exists():
        raise Http404
    services.add_photo(user, item.pk, data, visit_id=visit_id, answer_id=answer_id)
