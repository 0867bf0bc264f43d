from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.accounts.admin_scoping import ScopedModelAdmin
from backend.sync.models import Device


@admin.register(Device)
class DeviceAdmin(ScopedModelAdmin):
    """Phones that synced. Revoking a lost phone makes it wipe its data at its next contact."""

    list_display = ["label", "user", "last_seen_at", "revoked_at", "wiped_at"]
    list_select_related = ["user"]
    readonly_fields = [
        "id",
        "user",
        "label",
        "created_at",
        "last_seen_at",
        "revoked_at",
        "wiped_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke (the phone wipes its data at its next contact)"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, _("%(count)d phone(s) revoked.") % {"count": count}, messages.SUCCESS
        )
