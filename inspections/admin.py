from django.contrib import admin

from backend.accounts.admin_scoping import ScopedModelAdmin
from inspections.models import ControlAlert, Grid, GridVersion, Penalty, Rework, Visit


class VersionInline(admin.TabularInline):
    model = GridVersion
    extra = 0
    fields = ["number", "published_at", "published_by"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Grid)
class GridAdmin(ScopedModelAdmin):
    """Grid contents are edited on the inspections pages (a text that publishes versions)."""

    list_display = ["name", "category", "organisation", "contract", "threshold", "is_active"]
    list_select_related = ["organisation", "contract"]
    inlines = [VersionInline]


@admin.register(Visit)
class VisitAdmin(ScopedModelAdmin):
    list_display = ["residence", "planned_for", "status", "agent", "score", "passed", "joint"]
    list_filter = ["status", "joint", "passed"]
    list_select_related = ["residence", "agent"]
    readonly_fields = [
        "score",
        "passed",
        "critical_failed",
        "started_at",
        "finished_at",
        "signature",
        "report",
    ]
    date_hierarchy = "planned_for"


@admin.register(Rework)
class ReworkAdmin(ScopedModelAdmin):
    list_display = [
        "residence",
        "provider",
        "status",
        "requested_at",
        "deadline",
        "done_at",
        "checked_at",
    ]
    list_filter = ["status"]
    list_select_related = ["residence", "provider"]


@admin.register(Penalty)
class PenaltyAdmin(ScopedModelAdmin):
    list_display = [
        "provider",
        "residence",
        "amount",
        "reason",
        "status",
        "proposed_at",
        "decided_at",
    ]
    list_filter = ["status", "reason"]
    list_select_related = ["provider", "residence"]


@admin.register(ControlAlert)
class ControlAlertAdmin(ScopedModelAdmin):
    list_display = ["residence", "due_since", "notified_at", "resolved_at"]
    list_select_related = ["residence"]
