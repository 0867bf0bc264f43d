from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from backend.accounts.admin_scoping import (
    ScopedModelAdmin,
    ScopedStackedInline,
    ScopedTabularInline,
)
from backend.estate import models


@admin.register(models.Organisation)
class OrganisationAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "time_zone", "holiday_region"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    search_fields = ["name", "code"]


@admin.register(models.Agency)
class AgencyAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "organisation"]
    list_select_related = ["organisation"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "code"]


class BuildingInline(ScopedTabularInline):
    model = models.Building
    extra = 0
    fields = ["code", "name", "address"]
    show_change_link = True


class ContractSiteInline(ScopedTabularInline):
    model = models.ContractSite
    extra = 0
    autocomplete_fields = ["residence"]


@admin.register(models.Residence)
class ResidenceAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "agency", "city", "units_count", "inspection_frequency"]
    list_select_related = ["agency"]
    list_filter = [("agency", admin.RelatedOnlyFieldListFilter), "inspection_frequency"]
    search_fields = ["search_text", "name", "code"]
    inlines = [BuildingInline]

    def get_search_results(self, request, queryset, search_term):
        from backend.core.text import search_terms

        for term in search_terms(search_term):
            queryset = queryset.filter(search_text__contains=term)
        return queryset, False


class EntranceInline(ScopedTabularInline):
    model = models.Entrance
    extra = 0
    fields = ["code", "name", "address"]
    show_change_link = True


@admin.register(models.Building)
class BuildingAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "residence"]
    list_select_related = ["residence"]
    search_fields = ["name", "code", "residence__name"]
    autocomplete_fields = ["residence"]
    inlines = [EntranceInline]


@admin.register(models.Entrance)
class EntranceAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "building", "address"]
    list_select_related = ["building__residence"]
    search_fields = ["name", "code", "address", "building__residence__name"]
    autocomplete_fields = ["building"]


@admin.register(models.Unit)
class UnitAdmin(ScopedModelAdmin):
    list_display = ["code", "entrance", "kind", "floor", "door", "rooms"]
    list_filter = ["kind"]
    list_select_related = ["entrance__building__residence"]
    search_fields = ["code", "search_text"]
    autocomplete_fields = ["entrance"]


@admin.register(models.Equipment)
class EquipmentAdmin(ScopedModelAdmin):
    list_display = ["name", "kind", "residence", "building", "entrance", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["residence", "building__residence", "entrance__building__residence"]
    search_fields = ["name", "serial_number", "residence__name"]
    autocomplete_fields = ["residence", "building", "entrance", "contract"]


@admin.register(models.EstateDocument)
class EstateDocumentAdmin(ScopedModelAdmin):
    list_display = ["title", "kind", "residence", "uploaded_at"]
    list_select_related = ["residence"]
    list_filter = ["kind"]
    autocomplete_fields = ["residence"]


class PersonInline(ScopedStackedInline):
    model = models.Person
    extra = 0
    fields = [
        ("first_name", "last_name", "role"),
        ("mobile", "email"),
        ("preferred_channel", "language"),
    ]


class LeaseInline(ScopedTabularInline):
    model = models.Lease
    extra = 0
    fields = ["reference", "module_number", "unit", "payment_method", "start_date", "end_date"]
    autocomplete_fields = ["unit"]


@admin.register(models.Household)
class HouseholdAdmin(ScopedModelAdmin):
    list_display = ["name", "external_code", "organisation", "created_at"]
    list_select_related = ["organisation"]
    search_fields = ["name", "external_code", "leases__reference"]
    inlines = [PersonInline, LeaseInline]


@admin.register(models.Lease)
class LeaseAdmin(ScopedModelAdmin):
    list_display = ["__str__", "household", "unit", "payment_method", "start_date", "end_date"]
    list_select_related = ["household", "unit__entrance__building__residence"]
    search_fields = ["reference", "household__name"]
    autocomplete_fields = ["unit", "household"]


@admin.register(models.Person)
class PersonAdmin(ScopedModelAdmin):
    list_display = ["last_name", "first_name", "household", "mobile", "email", "preferred_channel"]
    list_select_related = ["household"]
    search_fields = ["search_text"]
    autocomplete_fields = ["household"]


class ContractInline(ScopedTabularInline):
    model = models.ProviderContract
    extra = 0
    fields = ["reference", "start_date", "end_date"]
    show_change_link = True


@admin.register(models.Provider)
class ProviderAdmin(ScopedModelAdmin):
    list_display = ["name", "kind", "organisation", "email", "phone"]
    list_select_related = ["organisation"]
    list_filter = ["kind"]
    search_fields = ["name", "siret"]
    inlines = [ContractInline]


@admin.register(models.ProviderContract)
class ProviderContractAdmin(ScopedModelAdmin):
    list_select_related = ["provider"]
    list_display = [
        "reference",
        "provider",
        "start_date",
        "end_date",
        "rework_deadline_hours",
        "penalty_per_day",
    ]
    list_filter = [("provider", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference", "provider__name", "purchase_order_reference"]
    inlines = [ContractSiteInline]
    fieldsets = [
        (None, {"fields": ["provider", "reference", "purchase_order_reference", "categories"]}),
        (_("Period"), {"fields": ["start_date", "end_date"]}),
        (
            _("Rework and penalties"),
            {
                "fields": [
                    "rework_deadline_hours",
                    "penalty_per_day",
                    "penalty_grace_days",
                    "penalty_cap",
                ]
            },
        ),
    ]


@admin.register(models.Sector)
class SectorAdmin(ScopedModelAdmin):
    list_display = ["name", "agency"]
    list_select_related = ["agency"]
    list_filter = [("agency", admin.RelatedOnlyFieldListFilter)]
    filter_horizontal = ["residences"]
