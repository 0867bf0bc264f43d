"""One search box: address, name, phone, e-mail or contract reference, accents and case
ignored on SQLite and PostgreSQL alike (the suite runs on both)."""

import pytest

from backend.estate import models as m
from backend.estate.services import query_terms, search_units
from tests.conftest import client_for


@pytest.fixture
def helene(estate):
    lease = m.Lease.objects.filter(residence=estate.tilleuls).order_by("pk").first()
    lease.reference = "00123456"
    lease.save()
    return m.Person.objects.create(
        household=lease.household,
        first_name="Hélène",
        last_name="Lefèvre-Côté",
        mobile="+33639981234",
        email="helene.lefevre@example.org",
    ), lease


@pytest.mark.parametrize(
    "query",
    [
        "helene",
        "HÉLÈNE",
        "lefevre cote",
        "Lefèvre-Côté",
        "06 39 98 12 34",
        "0639981234",
        "+33 6 39 98 12 34",
        "L/00123456",
        "l00123456",
        "00123456",
        "helene.lefevre@example.org",
        "helene tilleuls",
    ],
)
def test_one_box_finds_the_tenant_by_any_of_their_details(helene, cast, query):
    _person, lease = helene
    hits = list(search_units(cast.advisor, query))
    assert lease.unit in hits, query


def test_every_word_must_match(helene, cast):
    assert list(search_units(cast.advisor, "helene moulin")) == []


def test_addresses_are_searchable_by_everyone_in_scope_but_names_not_by_contractors(estate, cast):
    lease = m.Lease.objects.filter(residence=estate.moulin).first()
    m.Person.objects.create(household=lease.household, first_name="Zoé", last_name="Brunet")
    assert lease.unit in search_units(cast.advisor, "zoe brunet")
    assert list(search_units(cast.contractor, "zoe brunet")) == []
    assert search_units(cast.contractor, "moulin").count() == 2


def test_search_stays_inside_the_scope(helene, cast):
    assert list(search_units(cast.manager_b, "helene")) == []
    assert list(search_units(cast.outsider, "helene")) == []


def test_an_ended_lease_does_not_lead_to_its_former_tenant(helene, cast):
    from datetime import date

    _person, lease = helene
    lease.end_date = date(2021, 1, 1)
    lease.save()
    assert list(search_units(cast.advisor, "helene")) == []


def test_the_api_returns_hits_with_the_household(helene, cast):
    person, lease = helene
    response = client_for(cast.advisor).get("/api/estate/search", {"q": "helene"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    hit = body["items"][0]
    assert hit["unit_id"] == lease.unit_id
    assert hit["household_id"] == lease.household_id
    assert hit["lease_reference"] == "00123456"
    assert str(person) in hit["people"]


def test_the_search_page_shows_the_household(helene, cast):
    response = client_for(cast.advisor).get("/recherche/", {"q": "HELENE"})
    assert response.status_code == 200
    assert "Lefèvre-Côté" in response.content.decode()


def test_query_terms_join_phone_groups_and_drop_the_l_prefix():
    assert query_terms("06 39 98 12 34") == ["0639981234"]
    assert query_terms("L/0012345 Martin") == ["0012345", "martin"]
    assert query_terms("12 rue Pasteur") == ["12", "rue", "pasteur"]
    assert query_terms("") == []
