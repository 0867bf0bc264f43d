from datetime import date
from typing import Literal

from ninja import Field, ModelSchema, Schema

from backend.estate.models import Building, Entrance, Equipment, Residence, Unit


class AgencyOut(Schema):
    id: int
    code: str
    name: str


class ResidenceOut(ModelSchema):
    agency_id: int
    phone_region: str

    class Meta:
        model = Residence
        fields = [
            "id",
            "code",
            "name",
            "address",
            "postcode",
            "city",
            "units_count",
            "inspection_frequency",
        ]


class BuildingOut(ModelSchema):
    residence_id: int

    class Meta:
        model = Building
        fields = ["id", "code", "name", "address"]


class EntranceOut(ModelSchema):
    residence_id: int
    building_id: int

    class Meta:
        model = Entrance
        fields = ["id", "code", "name", "address"]


class UnitOut(ModelSchema):
    residence_id: int
    building_id: int = Field(..., alias="entrance.building_id")
    entrance_id: int

    class Meta:
        model = Unit
        fields = ["id", "code", "kind", "floor", "door", "rooms"]


class EquipmentOut(ModelSchema):
    residence_id: int
    building_id: int | None
    entrance_id: int | None
    contract_id: int | None

    class Meta:
        model = Equipment
        fields = ["id", "kind", "name", "brand", "serial_number", "installed_on", "is_active"]


class PersonOut(Schema):
    id: int
    first_name: str
    last_name: str
    role: str
    mobile: str
    email: str
    preferred_channel: str
    language: str


class LeaseOut(Schema):
    id: int
    reference: str
    module_number: str
    unit_id: int
    residence_id: int
    payment_method: str
    start_date: date
    end_date: date | None


class HouseholdOut(Schema):
    id: int
    name: str
    people: list[PersonOut]
    leases: list[LeaseOut]


class SearchHit(Schema):
    unit_id: int
    unit_label: str
    residence_id: int
    residence_name: str
    household_id: int | None = None
    household_name: str | None = None
    lease_reference: str | None = None
    people: list[str] = Field(default_factory=list)


class ResidenceFilters(Schema):
    q: str | None = Field(None, max_length=100, description="Nom, code, adresse ou ville.")
    agency_id: int | None = None


class UnitFilters(Schema):
    residence_id: int | None = None
    building_id: int | None = None
    entrance_id: int | None = None


class EquipmentFilters(Schema):
    residence_id: int | None = None
    kind: str | None = Field(None, max_length=20)


class PersonContactIn(Schema):
    """Only the fields sent are changed. An empty string clears a mobile or an e-mail."""

    mobile: str | None = Field(None, max_length=30)
    email: str | None = Field(None, max_length=254)
    preferred_channel: Literal["sms", "email"] | None = None
    language: Literal["fr", "en", "ar", "es", "pt", "tr"] | None = None
