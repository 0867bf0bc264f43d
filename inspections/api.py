"""Inspection endpoints, for the agents' app (offline: ids made by the phone, replays safe),
managers and providers. Thin: every write goes through inspections.services."""

from datetime import date, timedelta
from uuid import UUID

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, UploadedFile
from ninja.pagination import paginate

from backend.accounts.scoping import get_scoped_or_404, scoped
from backend.api import ERRORS
from backend.core import images
from inspections import rates, services
from inspections.models import Answer, GridVersion, Penalty, Rework, Visit
from inspections.schemas import (
    AnswerOut,
    AnswersIn,
    ContestIn,
    DecisionIn,
    GridOut,
    InformIn,
    PenaltyOut,
    PhotoOut,
    RateOut,
    RecheckIn,
    ReworkOut,
    StartIn,
    VisitOut,
)

router = Router()


class VisitFilters(Schema):
    status: str | None = None
    residence_id: int | None = None
    planned_from: date | None = None
    planned_to: date | None = None


@router.get("/grids/{int:version_id}", response={200: GridOut, **ERRORS})
def get_grid(request, version_id: int):
    """A grid version's zones and items (the phone keeps the versions its visits use)."""
    version = (
        GridVersion.objects.select_related("grid")
        .prefetch_related("zones__items")
        .filter(pk=version_id)
        .first()
    )
    if (
        version is None
        or not scoped(request.auth, type(version.grid)).filter(pk=version.grid_id).exists()
    ):
        from django.http import Http404

        raise Http404
    return {
        "version_id": version.pk,
        "grid_id": version.grid_id,
        "name": version.grid.name,
        "number": version.number,
        "threshold": version.grid.threshold,
        "zones": [
            {"id": z.pk, "name": z.name, "items": list(z.items.all())} for z in version.zones.all()
        ],
    }


@router.get("/visits", response={200: list[VisitOut], **ERRORS})
@paginate
def list_visits(request, filters: Query[VisitFilters]):
    visits = scoped(request.auth, Visit)
    if filters.status:
        visits = visits.filter(status=filters.status)
    if filters.residence_id:
        visits = visits.filter(residence_id=filters.residence_id)
    if filters.planned_from:
        visits = visits.filter(planned_for__gte=filters.planned_from)
    if filters.planned_to:
        visits = visits.filter(planned_for__lte=filters.planned_to)
    return visits.order_by("planned_for", "created_at")


@router.get("/visits/{uuid:visit_id}", response={200: VisitOut, **ERRORS})
def get_visit(request, visit_id: UUID):
    return get_scoped_or_404(request.auth, Visit, pk=visit_id)


@router.post("/visits/{uuid:visit_id}/start", response={200: VisitOut, **ERRORS})
def start_visit(request, visit_id: UUID, payload: StartIn):
    """Start a planned visit, or create one with the phone's id (sending it twice is safe)."""
    return services.start_visit(
        request.auth,
        visit_id,
        payload.residence_id,
        payload.entrance_id,
        payload.joint,
        payload.category,
    )


@router.post("/visits/{uuid:visit_id}/answers", response={200: list[AnswerOut], **ERRORS})
def record_answers(request, visit_id: UUID, payload: AnswersIn):
    """Answers with the phone's ids: new ones are added, changed ones updated, repeats ignored."""
    services.record_answers(
        request.auth, visit_id, [services.AnswerInput(**a.dict()) for a in payload.answers]
    )
    return list(Answer.objects.filter(visit_id=visit_id).order_by("answered_at"))


@router.post("/visits/{uuid:visit_id}/photos", response={201: PhotoOut, **ERRORS})
def add_photo(
    request,
    visit_id: UUID,
    id: Form[UUID],
    file: File[UploadedFile],
    answer_id: Form[UUID | None] = None,
):
    """A photo with the phone's id: JPEG, PNG or WebP, stripped of its metadata. Sending it again
    returns the photo already stored."""
    from ninja import Status

    photo = services.add_photo(
        request.auth, id, images.read_upload(file), visit_id=visit_id, answer_id=answer_id
    )
    return Status(201, photo)


@router.post("/visits/{uuid:visit_id}/finish", response={200: VisitOut, **ERRORS})
def finish_visit(
    request, visit_id: UUID, signatory_name: Form[str] = "", signature: File[UploadedFile] = None
):
    """Score the visit and raise its rework; a joint inspection needs the provider's name and the
    signature drawn on the screen (an image)."""
    data = images.read_upload(signature)
    return services.finish_visit(request.auth, visit_id, signatory_name, data)


@router.post("/visits/{uuid:visit_id}/inform", response={200: dict, **ERRORS})
def inform_after_visit(request, visit_id: UUID, payload: InformIn):
    visit = get_scoped_or_404(request.auth, Visit, pk=visit_id)
    campaign = services.inform_tenants(request.auth, visit=visit, place=payload.place)
    return {"campaign_id": campaign.pk}


@router.post("/answers/{uuid:answer_id}/rework", response={200: ReworkOut, **ERRORS})
def request_rework(request, answer_id: UUID):
    return services.request_rework(request.auth, answer_id)


@router.get("/reworks", response={200: list[ReworkOut], **ERRORS})
@paginate
def list_reworks(request, status: str | None = None):
    reworks = scoped(request.auth, Rework)
    if status:
        reworks = reworks.filter(status=status)
    return reworks.order_by("deadline")


@router.post("/reworks/{uuid:rework_id}/done", response={200: ReworkOut, **ERRORS})
def rework_done(
    request,
    rework_id: UUID,
    comment: Form[str] = "",
    photo: File[UploadedFile] = None,
    photo_id: Form[UUID | None] = None,
):
    """The provider (with its token or session) reports the rework done."""
    rework = get_scoped_or_404(request.auth, Rework, pk=rework_id)
    return services.mark_rework_done(
        request.auth, rework, comment, images.read_upload(photo), photo_id
    )


@router.post("/reworks/{uuid:rework_id}/recheck", response={200: ReworkOut, **ERRORS})
def recheck(request, rework_id: UUID, payload: RecheckIn):
    return services.recheck(request.auth, rework_id, payload.lifted, payload.comment)


@router.get("/penalties", response={200: list[PenaltyOut], **ERRORS})
@paginate
def list_penalties(request, status: str | None = None):
    penalties = scoped(request.auth, Penalty)
    if status:
        penalties = penalties.filter(status=status)
    return penalties.order_by("-proposed_at")


@router.post("/penalties/{int:penalty_id}/contest", response={200: PenaltyOut, **ERRORS})
def contest(request, penalty_id: int, payload: ContestIn):
    return services.contest_penalty(request.auth, penalty_id, payload.text)


@router.post("/penalties/{int:penalty_id}/decision", response={200: PenaltyOut, **ERRORS})
def decide(request, penalty_id: int, payload: DecisionIn):
    return services.decide_penalty(request.auth, penalty_id, payload.confirm, payload.reason)


@router.get("/rates", response={200: list[RateOut], **ERRORS})
def get_rates(request, by: str = "residence", start: date | None = None, end: date | None = None):
    """Rates per residence, provider or agent over a period (default: the last 12 months)."""
    from django.core.exceptions import ValidationError

    services.require_staff(request.auth)  # rates name agents: staff only
    if by not in rates.DIMENSIONS:
        raise ValidationError({"by": [_("Group by residence, provider or agent.")]})
    end = end or timezone.localdate()
    start = start or end - timedelta(days=365)
    result = rates.compute(request.auth, start, end, by)
    return [
        {
            **r.__dict__,
            "visit_rate": r.visit_rate,
            "defect_rate": r.defect_rate,
            "rework_rate": r.rework_rate,
            "on_time_rate": r.on_time_rate,
        }
        for r in result.rows
    ]
