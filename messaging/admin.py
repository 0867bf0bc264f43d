from django.contrib import admin

from backend.accounts.admin_scoping import ScopedAdminMixin, ScopedModelAdmin
from messaging.models import (
    Campaign,
    CapturedMessage,
    ChannelBlock,
    Group,
    InboundMessage,
    Message,
    MessageEvent,
    OptOut,
    Template,
    TemplateVariant,
)


class VariantInline(admin.StackedInline):
    model = TemplateVariant
    extra = 1
    fields = ["language", "sms_body", "email_subject", "email_text", "email_html"]


@admin.register(Template)
class TemplateAdmin(ScopedModelAdmin):
    """Texts are checked when saved: a template that does not render is refused with the
    reason (messaging.rendering)."""

    list_display = [
        "name",
        "key",
        "purpose",
        "channels",
        "organisation",
        "agency",
        "residence",
        "is_active",
    ]
    list_filter = ["purpose", "channels", "is_active"]
    list_select_related = ["organisation", "agency", "residence"]
    search_fields = ["name", "key"]
    inlines = [VariantInline]
    autocomplete_fields = ["residence"]


@admin.register(Group)
class GroupAdmin(ScopedModelAdmin):
    list_display = ["name", "organisation"]
    list_select_related = ["organisation"]
    autocomplete_fields = ["people"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status", "source", "detail"]

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ScopedModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["title", "purpose", "status", "residence", "author", "created_at"]
    list_filter = ["purpose", "status"]
    list_select_related = ["residence", "author"]
    search_fields = ["title"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = [
        "to",
        "channel",
        "status",
        "campaign",
        "created_at",
        "error_code",
        "needs_review",
    ]
    list_filter = ["channel", "status", "needs_review"]
    list_select_related = ["campaign"]
    search_fields = ["to", "provider_id"]
    inlines = [EventInline]


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["from_number", "kind", "person", "received_at", "handled_at"]
    list_filter = ["kind"]
    list_select_related = ["person"]


@admin.register(OptOut)
class OptOutAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Opt-outs and blocks name a person: the choices and the list are the admin's scope."""

    list_display = ["person", "purpose", "channel", "source", "created_at"]
    list_filter = ["purpose", "channel", "source"]
    list_select_related = ["person"]
    autocomplete_fields = ["person"]

    def get_queryset(self, request):
        from backend.accounts.scoping import scoped
        from backend.estate.models import Person

        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(person__in=scoped(request.user, Person))


@admin.register(ChannelBlock)
class ChannelBlockAdmin(OptOutAdmin):
    list_display = ["person", "channel", "address", "code", "reason", "created_at"]
    list_filter = ["channel", "code"]


@admin.register(CapturedMessage)
class CapturedMessageAdmin(ReadOnlyAdmin):
    list_display = ["channel", "subject", "organisation", "created_at"]
    list_filter = ["channel"]
    readonly_fields = ["channel", "sender", "recipients", "subject", "body", "html", "created_at"]
