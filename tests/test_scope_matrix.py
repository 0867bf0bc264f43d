"""The scope table: who sees which residence, through the scoping function, the API and the
pages. Out of scope means 404, never 403: existence is not revealed."""

import pytest

from backend.accounts.scoping import scoped, visible_residences
from backend.estate import models as m
from tests.conftest import client_for

# residence attribute of the `estate` fixture -> users (cast attributes) who see it
RESIDENCE_VISIBILITY = {
    "tilleuls": {"agent_a", "advisor", "admin"},
    "moulin": {"advisor", "admin", "contractor"},
    "source": {"manager_b", "admin"},
    "elsewhere": {"outsider"},
}
USERS = ["agent_a", "advisor", "manager_b", "contractor", "admin", "outsider", "anonymous"]


def user_of(cast, name):
    return None if name == "anonymous" else getattr(cast, name)


@pytest.mark.parametrize("username", USERS)
def test_each_role_sees_exactly_its_residences(estate, cast, username):
    user = user_of(cast, username)
    expected = {getattr(estate, r).pk for r, who in RESIDENCE_VISIBILITY.items() if username in who}
    from django.contrib.auth.models import AnonymousUser

    assert set(visible_residences(user or AnonymousUser()).values_list("pk", flat=True)) == expected
    assert set(scoped(user, m.Residence).values_list("pk", flat=True)) == expected


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("residence", list(RESIDENCE_VISIBILITY))
def test_api_and_pages_answer_404_outside_the_scope(estate, cast, username, residence):
    user = user_of(cast, username)
    target = getattr(estate, residence)
    client = client_for(user)
    sees = username in RESIDENCE_VISIBILITY[residence]
    building = target.buildings.get()
    entrance = building.entrances.get()
    unit = entrance.units.first()
    equipment = target.equipment.get()
    urls = [
        f"/api/estate/residences/{target.pk}",
        f"/api/estate/buildings/{building.pk}",
        f"/api/estate/entrances/{entrance.pk}",
        f"/api/estate/units/{unit.pk}",
        f"/api/estate/equipment/{equipment.pk}",
    ]
    for url in urls:
        response = client.get(url)
        if user is None:
            assert response.status_code == 401, url
        else:
            assert response.status_code == (200 if sees else 404), (url, response.content)
    page = client.get(f"/patrimoine/{target.pk}/")
    if user is None:
        assert page.status_code == 302 and "/connexion/" in page["Location"]
    else:
        assert page.status_code == (200 if sees else 404)


@pytest.mark.parametrize("username", USERS)
def test_lists_hold_only_the_scope(estate, cast, username):
    user = user_of(cast, username)
    client = client_for(user)
    expected = {getattr(estate, r).pk for r, who in RESIDENCE_VISIBILITY.items() if username in who}
    for url, key in [
        ("/api/estate/residences?limit=500", "id"),
        ("/api/estate/units?limit=500", "residence_id"),
        ("/api/estate/buildings?limit=500", "residence_id"),
        ("/api/estate/entrances?limit=500", "residence_id"),
        ("/api/estate/equipment?limit=500", "residence_id"),
    ]:
        response = client.get(url)
        if user is None:
            assert response.status_code == 401
            continue
        assert response.status_code == 200
        assert {item[key] for item in response.json()["items"]} == expected, url


PERSONAL = {"agent_a", "advisor", "manager_b", "admin", "outsider"}


@pytest.mark.parametrize("username", USERS)
def test_personal_data_follows_the_scope_and_never_reaches_contractors(estate, cast, username):
    user = user_of(cast, username)
    visible = {getattr(estate, r).pk for r, who in RESIDENCE_VISIBILITY.items() if username in who}
    people = scoped(user, m.Person)
    households = scoped(user, m.Household)
    leases = scoped(user, m.Lease)
    if username not in PERSONAL:
        assert not people.exists() and not households.exists() and not leases.exists()
    else:
        assert set(leases.values_list("residence_id", flat=True)) == visible
        assert (
            households.count() == m.Household.objects.filter(leases__residence__in=visible).count()
        )
    household = m.Household.objects.filter(leases__residence=estate.moulin).first()
    response = client_for(user).get(f"/api/estate/households/{household.pk}")
    if user is None:
        assert response.status_code == 401
    else:
        can = username in PERSONAL and estate.moulin.pk in visible
        assert response.status_code == (200 if can else 404)


def test_a_contractor_sees_its_own_provider_and_contracts_only(estate, cast):
    contractor = cast.contractor
    assert list(scoped(contractor, m.Provider)) == [estate.cleaner]
    assert list(scoped(contractor, m.ProviderContract)) == [estate.cleaning_contract]
    assert set(scoped(contractor, m.ContractSite).values_list("contract__provider", flat=True)) == {
        estate.cleaner.pk
    }
    assert not scoped(contractor, m.Sector).exists()
    # Staff of the agency see both providers working at their sites.
    assert set(scoped(cast.advisor, m.Provider)) == {estate.cleaner, estate.other_cleaner}


def test_a_contractor_loses_the_sites_of_an_ended_contract(estate, cast):
    from datetime import date

    estate.cleaning_contract.end_date = date(2025, 1, 1)
    estate.cleaning_contract.save()
    assert not visible_residences(cast.contractor).exists()


def test_an_inactive_user_sees_nothing(estate, cast):
    cast.admin.is_active = False
    cast.admin.save()
    assert not scoped(cast.admin, m.Residence).exists()


def test_a_malformed_id_is_a_404_not_a_crash(estate, cast):
    from django.http import Http404

    from backend.accounts.scoping import get_scoped_or_404

    with pytest.raises(Http404):
        get_scoped_or_404(cast.admin, m.Residence, pk="abc")


# --- a household that moved: its data follows it, not the old residence -----------------------


def move_household(estate, months_ago: int):
    """A household of Les Tilleuls (agent_a's sector) that moved to La Source (the other agency)."""
    from datetime import timedelta

    from django.utils import timezone

    old = m.Lease.objects.filter(residence=estate.tilleuls).first()
    old.end_date = timezone.localdate() - timedelta(days=30 * months_ago)
    old.save()
    new_unit = m.Unit.objects.create(
        entrance=estate.source.entrances.get(), code="R03-NEW", door="9"
    )
    new = m.Lease.objects.create(
        unit=new_unit, household=old.household, reference="77770001", start_date=old.end_date
    )
    person = m.Person.objects.create(
        household=old.household, first_name="Anaïs", last_name="Déménagée"
    )
    return old, new, person


def test_staff_of_a_former_residence_lose_the_household_after_three_months(estate, cast):
    old, _new, person = move_household(estate, months_ago=4)
    agent = client_for(cast.agent_a)
    assert agent.get(f"/api/estate/households/{old.household_id}").status_code == 404
    response = agent.patch(
        f"/api/estate/people/{person.pk}", '{"language": "en"}', content_type="application/json"
    )
    assert response.status_code == 404
    assert not scoped(cast.agent_a, m.Person).filter(pk=person.pk).exists()
    # The new residence's manager sees the household, and only the lease in their scope.
    body = client_for(cast.manager_b).get(f"/api/estate/households/{old.household_id}").json()
    assert [lease["reference"] for lease in body["leases"]] == ["77770001"]
    # The old lease stays in the history of the old residence, for its staff.
    assert scoped(cast.agent_a, m.Lease).filter(pk=old.pk).exists()


def test_a_household_that_just_left_stays_visible_to_its_former_residence(estate, cast):
    old, _new, _person = move_household(estate, months_ago=1)
    body = client_for(cast.agent_a).get(f"/api/estate/households/{old.household_id}").json()
    assert [lease["reference"] for lease in body["leases"]] == [old.reference]


@pytest.mark.parametrize("username", USERS)
def test_search_answers_only_inside_the_scope(estate, cast, username):
    user = user_of(cast, username)
    for residence, who in RESIDENCE_VISIBILITY.items():
        name = getattr(estate, residence).name
        response = client_for(user).get("/api/estate/search", {"q": name})
        if user is None:
            assert response.status_code == 401
            continue
        found = {hit["residence_id"] for hit in response.json()["items"]}
        assert (getattr(estate, residence).pk in found) == (username in who), (residence, name)


# --- inspections: visits, answers, photos, rework and penalties follow the same table ----------

# Who sees the inspection records of Le Moulin, cleaned by the contractor's company.
INSPECTION_VISIBILITY = {"advisor", "admin", "contractor"}


@pytest.fixture
def moulin_inspection(estate, settings, tmp_path):
    """A finished visit at Le Moulin with a photo, a rework and a proposed penalty."""
    import io
    import uuid

    from PIL import Image

    from backend.accounts.models import Role
    from inspections import services
    from inspections.models import Answer, Item
    from tests.conftest import make_user

    settings.MEDIA_ROOT = tmp_path
    agent = make_user(
        "agent_moulin", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2]
    )
    visit = services.start_visit(agent, uuid.uuid4(), residence_id=estate.moulin.pk)
    items = Item.objects.filter(zone__version=visit.grid_version)
    services.record_answers(
        agent,
        visit.pk,
        [
            services.AnswerInput(uuid.uuid4(), item.pk, "major" if n == 0 else "compliant")
            for n, item in enumerate(items)
        ],
    )
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(picture, "JPEG")
    first = Answer.objects.get(visit=visit, item=items[0])
    photo = services.add_photo(
        agent, uuid.uuid4(), picture.getvalue(), visit_id=visit.pk, answer_id=first.pk
    )
    services.finish_visit(agent, visit.pk)
    from datetime import timedelta

    from django.utils import timezone

    from inspections.models import Rework

    Rework.objects.filter(pk=first.rework.pk).update(deadline=timezone.now() - timedelta(hours=1))
    rework = services.recheck(agent, first.rework.pk, lifted=False)
    return visit, photo, rework, rework.penalty


@pytest.mark.parametrize("username", USERS)
def test_inspection_records_follow_the_scope(estate, cast, moulin_inspection, username):
    from inspections.models import Answer, Penalty, Photo, Rework, Visit

    visit, photo, rework, penalty = moulin_inspection
    user = user_of(cast, username)
    sees = username in INSPECTION_VISIBILITY
    for model, pk in [
        (Visit, visit.pk),
        (Answer, rework.answer_id),
        (Photo, photo.pk),
        (Rework, rework.pk),
        (Penalty, penalty.pk),
    ]:
        assert scoped(user, model).filter(pk=pk).exists() == sees, model.__name__
    client = client_for(user)
    for url in [
        f"/api/inspections/visits/{visit.pk}",
        "/api/inspections/reworks",
        "/api/inspections/penalties",
    ]:
        response = client.get(url)
        if user is None:
            assert response.status_code == 401
        elif url.endswith(str(visit.pk)):
            assert response.status_code == (200 if sees else 404), url
        else:
            assert (response.json()["count"] == 1) == sees, url
    photo_page = client.get(f"/fichiers/inspections/photo/image/{photo.pk}/")
    if user is None:
        assert photo_page.status_code in (302, 401)
    else:
        assert photo_page.status_code == (200 if sees else 404)
    # Staff pages: out of scope is a 404; the provider has its own pages.
    staff_page = client.get(f"/controles/reprises/{rework.pk}/")
    provider_page = client.get(f"/prestataire/reprises/{rework.pk}/")
    if user is None:
        assert staff_page.status_code == provider_page.status_code == 302
    elif username == "contractor":
        assert staff_page.status_code == 403 and provider_page.status_code == 200
    else:
        assert staff_page.status_code == (200 if sees else 404)
        assert provider_page.status_code == 403
