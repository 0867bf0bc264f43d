from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from backend.accounts.admin_scoping import ScopedAdminMixin
from backend.accounts.models import ApiToken, LoginFailure, User


@admin.register(User)
class UserAdmin(ScopedAdminMixin, BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "organisation", "is_active"]
    list_filter = ["role", "is_active", ("organisation", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organisation"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (
            _("Role and scope"),
            {"fields": ["role", "organisation", "agencies", "sectors", "provider", "phone"]},
        ),
    ]
    filter_horizontal = ["groups", "user_permissions", "agencies", "sectors"]

    def get_queryset(self, request):
        users = super(ScopedAdminMixin, self).get_queryset(request)
        if request.user.is_superuser:
            return users
        # An organisation's administrator manages its own people, never a superuser.
        return users.filter(organisation_id=request.user.organisation_id, is_superuser=False)

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return [
            "is_superuser",
            "is_staff",
            "groups",
            "user_permissions",
            "last_login",
            "date_joined",
        ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here; the key is shown once, on the page that follows, never stored
    nor put in a cookie."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        if request.user.is_superuser:
            return tokens
        return tokens.filter(user__organisation_id=request.user.organisation_id)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # A token acts as its user: never a superuser's, and only for one's own organisation.
            users = User.objects.filter(is_active=True, is_superuser=False).exclude(role="")
            if not request.user.is_superuser:
                users = users.filter(organisation_id=request.user.organisation_id)
            kwargs["queryset"] = users
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, key = ApiToken.issue(obj.user, obj.name)
        obj.pk = token.pk
        obj.prefix = token.prefix
        request._issued_key = key

    def response_add(self, request, obj, post_url_continue=None):
        key = getattr(request, "_issued_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "token": obj,
            "key": key,
            "opts": self.model._meta,
            "title": _("API token issued"),
        }
        response = TemplateResponse(request, "admin/accounts/apitoken/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
        messages.success(request, _("Tokens revoked."))


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["key", "created_at"]
    readonly_fields = ["key", "created_at"]

    def has_module_permission(self, request):
        return request.user.is_superuser
