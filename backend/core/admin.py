from django.contrib import admin

from backend.core.models import Heartbeat, Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
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
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at"]
