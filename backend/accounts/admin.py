from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from backend.accounts.models import ApiToken, LoginFailure, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "organisation", "is_active"]
    list_filter = ["role", "is_active", "organisation"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (
            _("Role and scope"),
            {"fields": ["role", "organisation", "agencies", "sectors", "provider", "phone"]},
        ),
    ]
    filter_horizontal = ["groups", "user_permissions", "agencies", "sectors"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here; the key is shown once, in the confirmation message."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, key = ApiToken.issue(obj.user, obj.name)
        obj.pk = token.pk
        obj.prefix = token.prefix
        messages.warning(
            request,
            _("Copy this key now, it will not be shown again: %(key)s") % {"key": key},
        )

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
        messages.success(request, _("Tokens revoked."))


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["key", "created_at"]
    readonly_fields = ["key", "created_at"]
