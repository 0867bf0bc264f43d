"""Photos from phones: uploaded in chunks on their own idempotent endpoint, resumable after a
drop, attached to their record when both have arrived, in whichever order (docs/sync.md).

`PUT /api/sync/media/{id}` with `Content-Range: bytes <start>-<end>/<total>` appends a chunk
when `start` is what the server holds (otherwise it answers with what it holds, and the phone
resumes from there); `GET` says what it holds. Once complete, the photo is attached by the
attacher registered for its kind; if its record has not arrived yet, it waits and is attached
when the record's mutation is applied. Partial files live in MEDIA_ROOT/sync/partial/ (local
disk: appending is not something object storages do); they go once attached.
"""

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core import images
from backend.core.errors import Conflict, ServiceError
from backend.sync.models import Media
from backend.sync.push import refusal_reason

CHUNK_MAX = 1024 * 1024
RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")

# kind -> function(user, media, data: bytes): attaches the photo, or raises Http404 when its
# record is not there yet.
ATTACHERS: dict[str, Callable] = {}


def register(kind: str, attach: Callable) -> None:
    ATTACHERS[kind] = attach


def _partial(media: Media) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "sync" / "partial"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{media.pk}.part"


def state(media: Media) -> dict:
    return {
        "id": str(media.pk),
        "received": media.received,
        "total": media.total,
        "attached": media.attached_at is not None,
        "error": media.error,
    }


def receive(
    user, media_id, kind: str, record_id: str, answer_id: str, content_range: str, body: bytes
):
    """Append one chunk. Returns the media's state."""
    match = RANGE.match(content_range or "")
    if not match:
        raise ServiceError(
            _("The upload has no valid Content-Range."), code="bad_range", status=400
        )
    start, end, total = (int(g) for g in match.groups())
    if kind not in ATTACHERS:
        raise ServiceError(_("Unknown photo kind “%(kind)s”.") % {"kind": kind}, code="bad_kind")
    images.check_size(total, code="too_large")
    if end < start or end >= total or len(body) != end - start + 1 or len(body) > CHUNK_MAX:
        raise ServiceError(
            _("This piece of the photo is incomplete: it will be sent again."),
            code="truncated_chunk",
            status=400,
        )
    try:
        with transaction.atomic():
            media, _created = Media.objects.get_or_create(
                pk=media_id,
                defaults={
                    "user": user,
                    "kind": kind,
                    "record_id": record_id[:64],
                    "answer_id": (answer_id or "")[:64],
                    "total": total,
                },
            )
    except IntegrityError:
        media = Media.objects.get(pk=media_id)
    if media.user_id != user.pk:
        raise Http404
    if media.total != total or media.kind != kind or media.record_id != record_id[:64]:
        raise Conflict(
            _("This photo id was already used for another photo."), code="media_mismatch"
        )
    if media.received == media.total or start != media.received:
        return state(media)  # a replay, or a chunk from before a drop: resume from `received`
    with transaction.atomic():
        media = Media.objects.select_for_update().get(pk=media_id)
        if start != media.received:
            return state(media)
        with open(_partial(media), "r+b" if start else "wb") as handle:
            handle.seek(start)
            handle.write(body)
            handle.truncate()
        media.received = end + 1
        media.save(update_fields=["received"])
    if media.received == media.total:
        attach(media)
        media.refresh_from_db()
    return state(media)


def attach(media: Media) -> bool:
    """Attach a complete photo to its record. False when the record is not there yet."""
    if media.attached_at is not None or media.received != media.total:
        return media.attached_at is not None
    path = _partial(media)
    data = path.read_bytes()
    try:
        ATTACHERS[media.kind](media.user, media, data)
    except Http404:
        return False  # its record has not arrived: attached when it does
    except (ServiceError, ValidationError, PermissionDenied) as exc:
        message = refusal_reason(exc)
        Media.objects.filter(pk=media.pk).update(error=(message or _("Refused."))[:300])
        raise
    Media.objects.filter(pk=media.pk).update(attached_at=timezone.now(), error="")
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    return True


def attach_waiting(record_id: str) -> int:
    """Photos that arrived before their record: attach them now that it exists."""
    attached = 0
    waiting = Media.objects.filter(
        record_id=str(record_id), attached_at__isnull=True
    ).select_related("user")
    for media in waiting:
        if media.received == media.total:
            # A refused photo keeps its error, shown to the agent by the media state.
            with contextlib.suppress(ServiceError, ValidationError, PermissionDenied):
                attached += attach(media)
    return attached
