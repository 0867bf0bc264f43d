"""The API root: /api/, OpenAPI at /api/openapi.json, interactive docs at /api/docs.

Errors are JSON with a stable `code` and a French `message` (translated through gettext):

    {"code": "not_found", "message": "Ressource introuvable.", "details": []}
"""

import logging

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from backend import jobs
from backend.accounts.auth import API_AUTH
from backend.core.errors import ServiceError

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Ronde API",
    version="1",
    description="API de Ronde : patrimoine, contrôles, demandes, messages. "
    "Authentification par session (avec jeton CSRF) ou par jeton « Bearer ».",
    auth=API_AUTH,
    urls_namespace="api",
)


class ErrorOut(Schema):
    code: str
    message: str
    details: list[dict] = []


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def error_response(request, status: int, code: str, message: str, details=None):
    return api.create_response(
        request, {"code": code, "message": message, "details": details or []}, status=status
    )


# Pydantic's messages are English: the types an agent's phone or an integrator meets most
# often get a French sentence, the others a generic one (the field is always named).
def _field_message(error: dict) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    messages = {
        "missing": _("This field is required."),
        "int_parsing": _("A whole number is expected."),
        "int_type": _("A whole number is expected."),
        "float_parsing": _("A number is expected."),
        "bool_parsing": _("True or false is expected."),
        "string_type": _("Text is expected."),
        "uuid_parsing": _("A UUID is expected."),
        "date_from_datetime_parsing": _("A date (YYYY-MM-DD) is expected."),
        "date_parsing": _("A date (YYYY-MM-DD) is expected."),
        "datetime_parsing": _("A date and time (ISO 8601) is expected."),
        "json_invalid": _("This is not valid JSON."),
        "model_attributes_type": _("An object is expected."),
        "dict_type": _("An object is expected."),
        "list_type": _("A list is expected."),
        "enum": _("This value is not one of the allowed choices."),
        "literal_error": _("This value is not one of the allowed choices."),
    }
    if kind == "string_too_long":
        return _("At most %(count)s characters.") % {"count": ctx.get("max_length")}
    if kind == "string_too_short":
        return _("At least %(count)s characters.") % {"count": ctx.get("min_length")}
    if kind in ("greater_than_equal", "greater_than"):
        return _("The value must be at least %(limit)s.") % {"limit": ctx.get("ge", ctx.get("gt"))}
    if kind in ("less_than_equal", "less_than"):
        return _("The value must be at most %(limit)s.") % {"limit": ctx.get("le", ctx.get("lt"))}
    return messages.get(kind, _("Invalid value."))


@api.exception_handler(ValidationError)
def on_validation_error(request, exc):
    details = [
        {
            "field": ".".join(
                str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")
            ),
            "message": _field_message(e),
            "type": e.get("type", ""),
        }
        for e in exc.errors
    ]
    return error_response(request, 422, "invalid_input", _("The data sent is not valid."), details)


@api.exception_handler(DjangoValidationError)
def on_model_validation_error(request, exc):
    if hasattr(exc, "error_dict"):
        details = [
            {
                "field": "" if name == NON_FIELD_ERRORS else name,
                "message": " ".join(messages),
                "type": "invalid",
            }
            for name, messages in exc.message_dict.items()
        ]
    else:
        details = [{"field": "", "message": " ".join(exc.messages), "type": "invalid"}]
    return error_response(request, 422, "invalid_input", _("The data sent is not valid."), details)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc):
    return error_response(request, 403, "forbidden", _("You are not allowed to do this."))


@api.exception_handler(ServiceError)
def on_service_error(request, exc):
    return error_response(request, exc.status, exc.code, exc.message)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error_response(request, 404, "not_found", _("Not found, or not yours to see."))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error_response(
        request, 401, "unauthenticated", _("Please log in (or send a valid API token).")
    )


@api.exception_handler(Throttled)
def on_throttled(request, exc):
    return error_response(request, 429, "throttled", _("Too many requests: try again in a moment."))


@api.exception_handler(HttpError)
def on_http_error(request, exc):
    if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
        return error_response(
            request, 400, "malformed_json", _("The request body is not valid JSON.")
        )
    if exc.status_code == 403 and "CSRF" in str(exc):
        return error_response(
            request,
            403,
            "csrf_failed",
            _("Security token missing or expired: reload the page and try again."),
        )
    if exc.status_code == 403:
        return error_response(request, 403, "forbidden", _("You are not allowed to do this."))
    return error_response(request, exc.status_code, "http_error", str(exc))


class HealthOut(Schema):
    status: str
    database: str
    queue: str
    worker: str
    jobs_backend: str
    worker_seen_at: str | None = None


# The heartbeat job runs every minute: older than this, no worker is running the jobs.
WORKER_STALE_AFTER = 180


class VersionOut(Schema):
    name: str
    version: str


@api.get("/health", auth=None, response={200: HealthOut, 503: HealthOut}, tags=["system"])
def health(request):
    """Public: whether the database and the job queue answer, and whether a worker runs the
    jobs (it ran the heartbeat job in the last three minutes)."""
    from backend.core.models import Heartbeat

    database, worker = "ok", "unknown"
    seen = None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beat = Heartbeat.objects.filter(name="worker").values_list("seen_at", flat=True).first()
        if beat:
            seen = timezone.localtime(beat).isoformat()
            fresh = (timezone.now() - beat).total_seconds() <= WORKER_STALE_AFTER
            worker = "ok" if fresh else "stale"
    except Exception:
        logger.exception("Health check: database unreachable")
        database = "error"
    queue = "ok" if jobs.queue_reachable() else "error"
    body = {
        "status": "ok" if database == queue == worker == "ok" else "error",
        "database": database,
        "queue": queue,
        "worker": worker,
        "jobs_backend": settings.JOBS_BACKEND,
        "worker_seen_at": seen,
    }
    return Status(200 if body["status"] == "ok" else 503, body)


@api.get("/version", auth=None, response=VersionOut, tags=["system"])
def version(request):
    """Public and trivial: the benchmark's reference endpoint."""
    return {"name": "ronde", "version": "0.1.0"}


api.add_router("/me", "backend.accounts.api.router", tags=["accounts"])
api.add_router("/estate", "backend.estate.api.router", tags=["estate"])
api.add_router("/messaging", "messaging.api.router", tags=["messaging"])
api.add_router("/inspections", "inspections.api.router", tags=["inspections"])
api.add_router("/tickets", "tickets.api.router", tags=["tickets"])
api.add_router("/sync", "backend.sync.api.router", tags=["sync"])
api.add_router("/tenant", "backend.accounts.tenant_api.router", tags=["tenant"])
api.add_router("/extranet", "backend.accounts.backoffice_api.router", tags=["extranet"])
