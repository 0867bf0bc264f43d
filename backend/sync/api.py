"""The sync endpoints of the agents' app (docs/sync.md). Every call names its phone in the
`X-Ronde-Device` header: a revoked phone is answered 410 and wipes itself."""

import uuid

from django.contrib.auth import login, logout
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.utils import check_csrf

from backend.api import ERRORS, error_response
from backend.core.errors import ServiceError
from backend.sync import feed, media, push
from backend.sync.models import Device
from backend.sync.schemas import LoginIn, PullOut, PushIn, PushOut

router = Router()


class DeviceRevoked(ServiceError):
    status = 410
    code = "device_revoked"


def device_of(request) -> Device:
    raw = request.headers.get("X-Ronde-Device", "")
    try:
        device_id = uuid.UUID(raw)
    except ValueError:
        raise ServiceError(
            _("The phone did not say who it is."), code="no_device", status=400
        ) from None
    device, _created = Device.objects.get_or_create(
        pk=device_id,
        defaults={"user": request.auth, "label": request.headers.get("User-Agent", "")[:200]},
    )
    if device.revoked_at is not None:
        if device.wiped_at is None:
            Device.objects.filter(pk=device.pk).update(wiped_at=timezone.now())
        raise DeviceRevoked(_("This phone was revoked by an administrator: its data is erased."))
    now = timezone.now()
    changed = device.user_id != request.auth.pk
    if changed or device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
        Device.objects.filter(pk=device.pk).update(user=request.auth, last_seen_at=now)
    return device


class CsrfOut(Schema):
    token: str
    authenticated: bool
    user_id: int | None
    display_name: str


@router.get("/session", auth=None, response=CsrfOut)
def session(request):
    """A fresh CSRF token (rotated at each login) and who is logged in: the app calls it at the
    start of every sync."""
    user = request.user
    known = bool(user.is_authenticated and user.is_active and user.role and user.role != "tenant")
    return {
        "token": get_token(request),
        "authenticated": known,
        "user_id": user.pk if known else None,
        "display_name": user.display_name if known else "",
    }


@router.post("/login", auth=None, response={200: CsrfOut, **ERRORS})
def sync_login(request, payload: LoginIn):
    """Log in from inside the app (the session expired while work was waiting): the same
    throttled check as the login page; the queue then goes through under this agent's name."""
    from backend.accounts.forms import StaffLoginForm

    error = check_csrf(request)
    if error:
        return error_response(request, 403, "csrf_failed", _("The page is out of date: try again."))
    form = StaffLoginForm(
        request, data={"username": payload.username, "password": payload.password}
    )
    if not form.is_valid():
        return error_response(request, 401, "login_failed", " ".join(form.non_field_errors()))
    login(request, form.get_user())
    return session(request)


@router.post("/logout", response={200: dict, **ERRORS})
def sync_logout(request):
    logout(request)
    return {"ok": True}


@router.get("/pull", response={200: PullOut, **ERRORS})
def pull(request, cursor: str = "", known: str = ""):
    """What changed in the agent's scope since `cursor` (empty: a whole snapshot, paged)."""
    device_of(request)
    try:
        known_ids = [int(x) for x in known.split(",") if x] if known else None
    except ValueError:
        raise ServiceError(
            _("The list of residences on the phone is not understood."),
            code="bad_known",
            status=400,
        ) from None
    page = feed.pull(request.auth, cursor or None, known_ids)
    return page.__dict__


@router.post("/push", response={200: PushOut, **ERRORS})
def push_endpoint(request, payload: PushIn):
    """A batch of mutations, applied in order, each once; one answer per mutation."""
    device = device_of(request)
    answers = push.push(request.auth, device, [m.dict() for m in payload.mutations])
    return {"answers": answers}


@router.api_operation(["PUT"], "/media/{uuid:media_id}", response={200: dict, **ERRORS})
def put_media(request, media_id: uuid.UUID, kind: str, record: str, answer: str = ""):
    """One chunk of a photo (`Content-Range: bytes start-end/total`); resumable, idempotent."""
    device_of(request)
    return media.receive(
        request.auth,
        media_id,
        kind,
        record,
        answer,
        request.headers.get("Content-Range", ""),
        request.body,
    )


@router.get("/media/{uuid:media_id}", response={200: dict, **ERRORS})
def get_media(request, media_id: uuid.UUID):
    """How much of a photo the server holds, and whether it is attached to its record."""
    from django.http import Http404

    from backend.sync.models import Media

    found = Media.objects.filter(pk=media_id, user=request.auth).first()
    if found is None:
        raise Http404
    return media.state(found)
