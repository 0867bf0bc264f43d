from django.contrib import admin

from backend.core.models import Heartbeat, Job


class SuperuserOnly:
    """Job rows hold every app's arguments: for the platform's operators, not an
    organisation's administrators."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(Job)
class JobAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ["name", "status", "attempt", "due_at", "updated_at"]
    list_filter = ["status", "name"]
    readonly_fields = [
        "name",
        "args",
        "kwargs",
        "attempt",
        "dispatched_at",
        "last_error",
        "created_at",
        "updated_at",
    ]


@admin.register(Heartbeat)
class HeartbeatAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ["name", "seen_at"]
