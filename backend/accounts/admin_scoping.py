"""The Django admin goes through the one scoping function too: an organisation's
administrator sees and picks only what their scope holds (superusers see everything)."""

from django.contrib import admin

from backend.accounts.scoping import scoped


def is_scoped_model(model) -> bool:
    return hasattr(model, "SCOPE") or hasattr(model, "scope_queryset")


class ScopedAdminMixin:
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser or not is_scoped_model(queryset.model):
            return queryset
        return scoped(request.user, queryset)

    def _limit(self, db_field, request, kwargs):
        model = db_field.related_model
        if not request.user.is_superuser and is_scoped_model(model):
            kwargs["queryset"] = scoped(
                request.user, kwargs.get("queryset", model._default_manager.all())
            )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._limit(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._limit(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


class ScopedTabularInline(ScopedAdminMixin, admin.TabularInline):
    pass


class ScopedStackedInline(ScopedAdminMixin, admin.StackedInline):
    pass
