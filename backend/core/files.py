"""Uploaded files are never served from a public folder.

Each file field that users may download is registered here; its URL names the object, not the
file path, and the view loads the object through the scoping function before sending anything:
someone outside the scope gets the same 404 as for an object that does not exist.

In production the web server sends the bytes (X-Accel-Redirect for nginx, X-Sendfile for
Apache: FILES_ACCEL); Django only decides.
"""

import mimetypes
from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db.models import Model
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from backend.accounts.scoping import get_scoped_or_404

_REGISTRY: dict[str, tuple[type[Model], str]] = {}

# Served inline; anything else (HTML, SVG...) is a download, so an uploaded file can never
# run script in our origin.
INLINE_TYPES = {"image/jpeg", "image/png", "image/webp", "application/pdf"}


def register(model: type[Model], field: str) -> None:
    _REGISTRY[_key(model, field)] = (model, field)


def _key(model: type[Model], field: str) -> str:
    return f"{model._meta.label_lower}.{field}"


def protected_url(instance: Model, field: str) -> str:
    model = type(instance)
    if _key(model, field) not in _REGISTRY:
        raise LookupError(f"{_key(model, field)} is not a registered protected file")
    return reverse(
        "protected-file", args=[model._meta.app_label, model._meta.model_name, field, instance.pk]
    )


@require_GET
def serve(request, app_label: str, model_name: str, field: str, pk: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    entry = _REGISTRY.get(f"{app_label}.{model_name}.{field}")
    if entry is None:
        raise Http404
    model, field_name = entry
    instance = get_scoped_or_404(request.user, model, pk=pk)
    stored = getattr(instance, field_name)
    if not stored or not stored.storage.exists(stored.name):
        raise Http404
    filename = PurePosixPath(stored.name).name
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    if settings.FILES_ACCEL == "nginx":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = (
            settings.FILES_ACCEL_PREFIX.rstrip("/") + "/" + quote(stored.name)
        )
    elif settings.FILES_ACCEL == "apache":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = stored.path
    else:
        response = FileResponse(stored.open("rb"), content_type=content_type)
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
