from django.contrib import admin

from backend.accounts.admin_scoping import ScopedModelAdmin
from messaging.admin import ReadOnlyAdmin
from tickets.models import Deadline, Incident, OnCallShift, Request, WorkOrder


@admin.register(OnCallShift)
class OnCallShiftAdmin(ScopedModelAdmin):
    """The on-call schedule: who answers urgent requests of each agency outside office hours."""

    list_display = ["agency", "starts_at", "ends_at", "user", "platform", "phone"]
    list_filter = ["agency"]
    list_select_related = ["agency", "user"]
    date_hierarchy = "starts_at"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            from backend.accounts.models import User
            from backend.accounts.scoping import STAFF_ROLES

            people = User.objects.filter(is_active=True, role__in=STAFF_ROLES)
            if not request.user.is_superuser:  # the organisation's own staff only
                people = people.filter(organisation_id=request.user.organisation_id)
            kwargs["queryset"] = people
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Deadline)
class DeadlineAdmin(ScopedModelAdmin):
    list_display = ["category", "urgency", "acknowledge_hours", "resolve_hours", "organisation"]
    list_filter = ["category", "urgency"]


@admin.register(Request)
class RequestAdmin(ReadOnlyAdmin):
    list_display = ["reference", "residence", "category", "status", "channel", "created_at"]
    list_filter = ["status", "category", "channel"]
    list_select_related = ["residence"]
    search_fields = ["reference"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["title", "residence", "status", "created_at"]
    list_select_related = ["residence"]


@admin.register(WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "provider", "status", "sent_at"]
    list_select_related = ["provider"]
