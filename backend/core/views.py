from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from backend.accounts.models import Role
from backend.accounts.scoping import scoped
from backend.estate.models import Equipment, InspectionFrequency, Residence, Unit
from messaging.models import CapturedMessage


@require_GET
@login_required
def home(request):
    if request.user.role == Role.TENANT:
        from django.shortcuts import redirect

        return redirect("tenants:space")
    residences = scoped(request.user, Residence)
    biggest = list(
        residences.order_by("-units_count", "name").values_list("name", "units_count")[:10]
    )
    by_frequency = dict(
        residences.values_list("inspection_frequency")
        .annotate(n=Count("pk"))
        .values_list("inspection_frequency", "n")
    )
    context = {
        "residences_count": residences.count(),
        "units_count": scoped(request.user, Unit).count(),
        "equipment_count": scoped(request.user, Equipment).count(),
        "biggest": biggest,
        "by_frequency": [
            (label, by_frequency.get(value, 0)) for value, label in InspectionFrequency.choices
        ],
    }
    return render(request, "core/home.html", context)


@require_GET
def accessibility(request):
    return render(
        request,
        "core/accessibility.html",
        {
            "status": settings.ACCESSIBILITY_STATUS,
            "audit_date": settings.ACCESSIBILITY_AUDIT_DATE,
            "contact": settings.ACCESSIBILITY_CONTACT,
        },
    )


def captured_messages_enabled() -> bool:
    return settings.DEMO_MODE and (
        settings.EMAIL_TRANSPORT == "capture" or settings.SMS_TRANSPORT == "capture"
    )


@require_GET
@login_required
def captured_messages(request):
    """What would have been sent, in the embedded profile (demo mode only)."""
    user = request.user
    if not captured_messages_enabled() or not (
        user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER)
    ):
        raise PermissionDenied
    messages = scoped(user, CapturedMessage)
    channel = request.GET.get("canal")
    if channel in CapturedMessage.Channel.values:
        messages = messages.filter(channel=channel)
    page = Paginator(messages, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "core/captured_messages.html",
        {"page": page, "channel": channel, "channels": CapturedMessage.Channel.choices},
    )


@require_GET
def favicon(request):
    # Resolved per request: the hashed static name exists only after collectstatic.
    return HttpResponsePermanentRedirect(static("ronde/icon.svg"))


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(
            {"code": "not_found", "message": _("Not found, or not yours to see."), "details": []},
            status=404,
        )
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse(
            {
                "code": "server_error",
                "message": _("An unexpected error occurred. It has been logged."),
                "details": [],
            },
            status=500,
        )
    return render(request, "500.html", status=500)


def permission_denied(request, exception=None):
    if _wants_json(request):
        return JsonResponse(
            {"code": "forbidden", "message": _("You are not allowed to do this."), "details": []},
            status=403,
        )
    return render(request, "403.html", status=403)


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", status=403)
