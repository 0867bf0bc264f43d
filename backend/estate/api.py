"""Estate endpoints: thin, every query through backend.accounts.scoping."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.pagination import paginate

from backend.accounts.scoping import get_scoped_or_404, scoped
from backend.api import ERRORS
from backend.core.text import search_terms
from backend.estate import services
from backend.estate.models import Building, Entrance, Equipment, Residence, Unit
from backend.estate.schemas import (
    BuildingOut,
    EntranceOut,
    EquipmentFilters,
    EquipmentOut,
    HouseholdOut,
    PersonContactIn,
    PersonOut,
    ResidenceFilters,
    ResidenceOut,
    SearchHit,
    UnitFilters,
    UnitOut,
)

router = Router()


def _narrow(request, queryset, **parents):
    """Filter by parent ids, answering 404 when a parent is outside the user's scope."""
    models = {"residence_id": Residence, "building_id": Building, "entrance_id": Entrance}
    # Units know their entrance and residence, not their building: filter through the entrance.
    lookups = {"building_id": "entrance__building_id"} if queryset.model is Unit else {}
    for name, value in parents.items():
        if value is not None:
            get_scoped_or_404(request.auth, models[name], pk=value)
            queryset = queryset.filter(**{lookups.get(name, name): value})
    return queryset


@router.get("/residences", response={200: list[ResidenceOut], **ERRORS})
@paginate
def list_residences(request, filters: Query[ResidenceFilters]):
    residences = scoped(request.auth, Residence)
    for term in search_terms(filters.q):
        residences = residences.filter(search_text__contains=term)
    if filters.agency_id is not None:
        residences = residences.filter(agency_id=filters.agency_id)
    return residences.order_by("name", "pk")


@router.get("/residences/{int:residence_id}", response={200: ResidenceOut, **ERRORS})
def get_residence(request, residence_id: int):
    return get_scoped_or_404(request.auth, Residence, pk=residence_id)


@router.get("/buildings", response={200: list[BuildingOut], **ERRORS})
@paginate
def list_buildings(request, residence_id: int | None = None):
    buildings = _narrow(request, scoped(request.auth, Building), residence_id=residence_id)
    return buildings.order_by("residence_id", "name", "pk")


@router.get("/buildings/{int:building_id}", response={200: BuildingOut, **ERRORS})
def get_building(request, building_id: int):
    return get_scoped_or_404(request.auth, Building, pk=building_id)


@router.get("/entrances", response={200: list[EntranceOut], **ERRORS})
@paginate
def list_entrances(request, residence_id: int | None = None, building_id: int | None = None):
    entrances = _narrow(
        request, scoped(request.auth, Entrance), residence_id=residence_id, building_id=building_id
    )
    return entrances.order_by("residence_id", "building_id", "name", "pk")


@router.get("/entrances/{int:entrance_id}", response={200: EntranceOut, **ERRORS})
def get_entrance(request, entrance_id: int):
    return get_scoped_or_404(request.auth, Entrance, pk=entrance_id)


def _units(request):
    return scoped(request.auth, Unit).select_related("entrance")


@router.get("/units", response={200: list[UnitOut], **ERRORS})
@paginate
def list_units(request, filters: Query[UnitFilters]):
    units = _narrow(request, _units(request), **filters.dict())
    return units.order_by("residence_id", "entrance_id", "pk")


@router.get("/units/{int:unit_id}", response={200: UnitOut, **ERRORS})
def get_unit(request, unit_id: int):
    return get_scoped_or_404(request.auth, _units(request), pk=unit_id)


@router.get("/equipment", response={200: list[EquipmentOut], **ERRORS})
@paginate
def list_equipment(request, filters: Query[EquipmentFilters]):
    equipment = _narrow(request, scoped(request.auth, Equipment), residence_id=filters.residence_id)
    if filters.kind:
        equipment = equipment.filter(kind=filters.kind)
    return equipment.order_by("residence_id", "kind", "pk")


@router.get("/equipment/{int:equipment_id}", response={200: EquipmentOut, **ERRORS})
def get_equipment(request, equipment_id: int):
    return get_scoped_or_404(request.auth, Equipment, pk=equipment_id)


@router.get("/households/{int:household_id}", response={200: HouseholdOut, **ERRORS})
def get_household(request, household_id: int):
    household = get_object_or_404(services.household_queryset(request.auth), pk=household_id)
    # Only the leases in the caller's scope: a household that moved keeps its old lease out
    # of the new residence's sight and the other way round.
    return {
        "id": household.pk,
        "name": household.name,
        "people": list(household.people.all()),
        "leases": list(household.leases.all()),
    }


@router.patch("/people/{int:person_id}", response={200: PersonOut, **ERRORS})
def update_person(request, person_id: int, payload: PersonContactIn):
    """Change a tenant's mobile, e-mail, preferred channel or language."""
    return services.update_person_contact(request.auth, person_id, payload.dict(exclude_unset=True))


@router.get("/search", response={200: list[SearchHit], **ERRORS})
@paginate
def search(request, q: Query[str] = ""):
    """One box: address, name, phone, e-mail or contract reference; accents and case ignored."""
    units = services.search_units(request.auth, q[:200])
    # The page is cut before the hits are built, so a page costs the same whatever matches.
    return _LazyHits(units)


class _LazyHits:
    """A sliceable view that builds search hits only for the page that pagination asks for."""

    def __init__(self, units):
        self.units = units

    def __getitem__(self, item):
        return services.search_hits(self.units[item])

    def count(self):
        return self.units.count()

    def __len__(self):
        return self.count()
