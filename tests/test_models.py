from datetime import date

import pytest
from django.core.exceptions import ValidationError

from backend.core.text import normalise
from backend.estate import models as m


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0012345", "0012345"),
        ("L0012345", "0012345"),
        ("L/0012345", "0012345"),
        ("l / 0012345", "0012345"),
        (" L 001 2345 ", "0012345"),
    ],
)
def test_a_leading_l_typed_by_a_tenant_is_tolerated(typed, expected):
    assert m.normalise_contract_reference(typed) == expected


def test_contract_references_are_checked_against_the_organisation_pattern(db):
    org = m.Organisation.objects.create(code="O", name="Org", contract_reference_pattern=r"\d{7}")
    assert org.check_contract_reference("L/0012345") == "0012345"
    with pytest.raises(ValidationError):
        org.check_contract_reference("12345")
    with pytest.raises(ValidationError):
        org.check_contract_reference("AB12345")


def test_an_invalid_pattern_or_time_zone_is_refused(db):
    org = m.Organisation(
        code="O", name="Org", contract_reference_pattern="(", time_zone="Mars/Base"
    )
    with pytest.raises(ValidationError) as info:
        org.full_clean()
    assert {"contract_reference_pattern", "time_zone"} <= set(info.value.message_dict)


def test_public_holidays_follow_the_region(db):
    mainland = m.Organisation(code="A", name="A")
    alsace = m.Organisation(code="B", name="B", holiday_region="6AE")
    reunion = m.Organisation(code="C", name="C", holiday_region="974")
    saint_stephen = date(2026, 12, 26)
    assert not mainland.is_public_holiday(saint_stephen)
    assert alsace.is_public_holiday(saint_stephen)
    abolition_reunion = date(2026, 12, 20)
    assert reunion.is_public_holiday(abolition_reunion)
    assert not mainland.is_public_holiday(abolition_reunion)


def test_equipment_must_sit_inside_its_residence(estate):
    other_building = estate.source.buildings.get()
    equipment = m.Equipment(
        residence=estate.tilleuls, building=other_building, kind="lift", name="A"
    )
    with pytest.raises(ValidationError) as info:
        equipment.full_clean()
    assert "building" in info.value.message_dict


def test_derived_columns_are_kept_by_save(estate):
    unit = m.Unit.objects.filter(residence=estate.tilleuls).first()
    assert unit.residence_id == estate.tilleuls.pk
    assert "tilleuls" in unit.search_text
    entrance = unit.entrance
    assert entrance.residence_id == estate.tilleuls.pk
    person = m.Person.objects.create(
        household=m.Household.objects.first(),
        first_name="Hélène",
        last_name="Lefèvre",
        mobile="+33639981234",
    )
    assert person.search_text == "helene lefevre 33639981234 0639981234"


def test_a_lease_cannot_end_before_it_starts(estate):
    lease = m.Lease.objects.first()
    lease.end_date = date(2019, 1, 1)
    with pytest.raises(ValidationError):
        lease.full_clean()


def test_current_leases_exclude_the_ended_ones(estate):
    lease = m.Lease.objects.filter(residence=estate.tilleuls).first()
    count = m.Lease.objects.current().count()
    lease.end_date = date(2021, 1, 1)
    lease.save()
    assert m.Lease.objects.current().count() == count - 1
    assert not lease.is_current


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hélène", "helene"),
        ("  CÔTÉ  d'Azur ", "cote d azur"),
        ("Œuvre", "oeuvre"),
        ("N'Diaye-Lévêque", "n diaye leveque"),
        ("a.b@exemple.fr", "a.b@exemple.fr"),
        (None, ""),
    ],
)
def test_normalise_folds_accents_case_and_punctuation(raw, expected):
    assert normalise(raw) == expected


def test_contract_categories_and_visit_days_are_validated(estate):
    contract = estate.cleaning_contract
    contract.categories = ["cleaning", "teleportation"]
    with pytest.raises(ValidationError):
        contract.full_clean()
    site = contract.sites.get()
    site.visit_days = [0, 7]
    with pytest.raises(ValidationError):
        site.full_clean()
    site.visit_days = [0, 3]
    assert site.visit_days_display == "Lundi, Jeudi"
