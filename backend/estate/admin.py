from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from backend.estate import models


@admin.register(models.Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "time_zone", "holiday_region"]
    search_fields = ["name", "code"]


@admin.register(models.Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "organisation"]
    list_filter = ["organisation"]
    search_fields = ["name", "code"]


class BuildingInline(admin.TabularInline):
    model = models.Building
    extra = 0
    fields = ["code", "name", "address"]
    show_change_link = True


class ContractSiteInline(admin.TabularInline):
    model = models.ContractSite
    extra = 0
    autocomplete_fields = ["residence"]


@admin.register(models.Residence)
class ResidenceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "agency", "city", "units_count", "inspection_frequency"]
    list_filter = ["agency", "inspection_frequency"]
    search_fields = ["search_text", "name", "code"]
    inlines = [BuildingInline]

    def get_search_results(self, request, queryset, search_term):
        from backend.core.text import search_terms

        for term in search_terms(search_term):
            queryset = queryset.filter(search_text__contains=term)
        return queryset, False


class EntranceInline(admin.TabularInline):
    model = models.Entrance
    extra = 0
    fields = ["code", "name", "address"]
    show_change_link = True


@admin.register(models.Building)
class BuildingAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "residence"]
    list_select_related = ["residence"]
    search_fields = ["name", "code", "residence__name"]
    autocomplete_fields = ["residence"]
    inlines = [EntranceInline]


@admin.register(models.Entrance)
class EntranceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "building", "address"]
    list_select_related = ["building__residence"]
    search_fields = ["name", "code", "address", "building__residence__name"]
    autocomplete_fields = ["building"]


@admin.register(models.Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["code", "entrance", "kind", "floor", "door", "rooms"]
    list_filter = ["kind"]
    list_select_related = ["entrance__building__residence"]
    search_fields = ["code", "search_text"]
    autocomplete_fields = ["entrance"]


@admin.register(models.Equipment)
class EquipmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "residence", "building", "entrance", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["residence", "building__residence", "entrance__building__residence"]
    search_fields = ["name", "serial_number", "residence__name"]
    autocomplete_fields = ["residence", "building", "entrance", "contract"]


@admin.register(models.EstateDocument)
class EstateDocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "residence", "uploaded_at"]
    list_filter = ["kind"]
    autocomplete_fields = ["residence"]


class PersonInline(admin.StackedInline):
    model = models.Person
    extra = 0
    fields = [
        ("first_name", "last_name", "role"),
        ("mobile", "email"),
        ("preferred_channel", "language"),
    ]


class LeaseInline(admin.TabularInline):
    model = models.Lease
    extra = 0
    fields = ["reference", "module_number", "unit", "payment_method", "start_date", "end_date"]
    autocomplete_fields = ["unit"]


@admin.register(models.Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "created_at"]
    search_fields = ["name", "people__search_text", "leases__reference"]
    inlines = [PersonInline, LeaseInline]


@admin.register(models.Lease)
class LeaseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "household", "unit", "payment_method", "start_date", "end_date"]
    list_select_related = ["household", "unit__entrance__building__residence"]
    search_fields = ["reference", "household__name"]
    autocomplete_fields = ["unit", "household"]


@admin.register(models.Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "household", "mobile", "email", "preferred_channel"]
    search_fields = ["search_text"]
    autocomplete_fields = ["household"]


class ContractInline(admin.TabularInline):
    model = models.ProviderContract
    extra = 0
    fields = ["reference", "start_date", "end_date"]
    show_change_link = True


@admin.register(models.Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "organisation", "email", "phone"]
    list_filter = ["kind"]
    search_fields = ["name", "siret"]
    inlines = [ContractInline]


@admin.register(models.ProviderContract)
class ProviderContractAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "provider",
        "start_date",
        "end_date",
        "rework_deadline_hours",
        "penalty_per_day",
    ]
    list_filter = ["provider"]
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
class SectorAdmin(admin.ModelAdmin):
    list_display = ["name", "agency"]
    list_filter = ["agency"]
    filter_horizontal = ["residences"]
