"""The inspection API as the agents' app uses it: ids made by the phone, every call safe to
replay, a fixed number of queries whatever the size of the visit, French errors on bad input."""

import io
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from backend.accounts.models import Role
from inspections import grids
from inspections.models import Answer, Grid, Item, Photo, Rework, Visit
from tests.conftest import make_user
from tests.test_inspections_flow import jpeg


@pytest.fixture
def agent_b(estate):
    return make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])


def grid_text(items: int) -> str:
    lines = []
    for n in range(items):
        if n % 10 == 0:
            lines.append(f"# Zone {n // 10 + 1}")
        lines.append(f"Point {n + 1} | {1 + n % 3}")
    return "\n".join(lines) + "\n"


def contract_grid(estate, items: int):
    """The cleaning contract's own grid, with this many items (a new version each call)."""
    grid, _created = Grid.objects.get_or_create(
        name="Grille du marché MEN-1",
        contract=estate.cleaning_contract,
        defaults={"organisation": estate.organisation, "category": "cleaning"},
    )
    return grids.publish(grid, grid_text(items))


def run_visit(api, estate, photos: int, queries: dict | None = None):
    """A whole visit through the API: start, every answer (one in three a major service
    failure), photos, finish. Records the queries of each step in `queries`."""
    visit_id = str(uuid.uuid4())
    start = api.post(
        f"/api/inspections/visits/{visit_id}/start",
        {"residence_id": estate.moulin.pk},
        content_type="application/json",
    )
    assert start.status_code == 200, start.content
    grid = api.get(f"/api/inspections/grids/{start.json()['grid_version_id']}").json()
    items = [item for zone in grid["zones"] for item in zone["items"]]
    answers = [
        {
            "id": str(uuid.uuid4()),
            "item_id": item["id"],
            "value": "major" if n % 3 == 0 else "compliant",
            "comment": "Sol sale" if n % 3 == 0 else "",
        }
        for n, item in enumerate(items)
    ]

    def step(name, call):
        with CaptureQueriesContext(connection) as captured:
            response = call()
        if queries is not None:
            queries.setdefault(name, []).append(len(captured.captured_queries))
        return response

    response = step(
        "answers",
        lambda: api.post(
            f"/api/inspections/visits/{visit_id}/answers",
            {"answers": answers},
            content_type="application/json",
        ),
    )
    assert response.status_code == 200, response.content
    for n in range(photos):
        photo = jpeg(color=(n * 20, 10, 10))
        response = step(
            "photo",
            lambda photo=photo, n=n: api.post(
                f"/api/inspections/visits/{visit_id}/photos",
                {"id": str(uuid.uuid4()), "answer_id": answers[n]["id"], "file": io.BytesIO(photo)},
            ),
        )
        assert response.status_code == 201, response.content
    response = step("finish", lambda: api.post(f"/api/inspections/visits/{visit_id}/finish"))
    assert response.status_code == 200, response.content
    return visit_id, answers, response.json()


def test_a_visit_of_40_answers_and_10_photos_costs_no_more_queries_than_a_small_one(
    estate, agent_b, token_client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    api = token_client(agent_b)
    queries: dict = {}
    contract_grid(estate, 3)
    run_visit(api, estate, photos=1)  # warms Django's caches (content types), as a server would be
    contract_grid(estate, 40)
    big_id, _answers, big = run_visit(api, estate, photos=10, queries=queries)
    contract_grid(estate, 12)
    small_id, _answers, small = run_visit(api, estate, photos=1, queries=queries)
    assert Answer.objects.filter(visit_id=big_id).count() == 40
    assert Answer.objects.filter(visit_id=small_id).count() == 12
    assert Photo.objects.filter(visit_id=big_id).count() == 10
    assert Rework.objects.filter(visit_id=big_id).count() == 14  # one in three is a major failure
    assert Rework.objects.filter(visit_id=small_id).count() == 4
    big_answers, small_answers = queries["answers"]
    big_finish, small_finish = queries["finish"]
    assert big_answers == small_answers, queries
    assert big_finish == small_finish, queries
    assert len(set(queries["photo"])) == 1, queries  # each photo costs the same
    assert big["status"] == small["status"] == "done"
    assert big["late"] is False and "is_late" not in big
    # The lists carry each row's lateness, read from its model's property.
    page = api.get("/api/inspections/reworks", {"limit": 5}).json()
    assert page["count"] == Rework.objects.count() == 19 and len(page["items"]) == 5
    assert {r["late"] for r in page["items"]} == {False}
    visits = api.get("/api/inspections/visits").json()
    assert visits["count"] == 3 and all(v["late"] is False for v in visits["items"])


def test_every_call_of_a_visit_can_be_replayed(estate, agent_b, token_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    api = token_client(agent_b)
    contract_grid(estate, 5)
    visit_id, answers, finished = run_visit(api, estate, photos=1)
    # The phone lost every answer and sends it all again.
    again = api.post(
        f"/api/inspections/visits/{visit_id}/start",
        {"residence_id": estate.moulin.pk},
        content_type="application/json",
    )
    assert again.status_code == 200 and again.json()["status"] == "done"
    photo_id = Photo.objects.get(visit_id=visit_id).pk
    replay = api.post(
        f"/api/inspections/visits/{visit_id}/photos",
        {"id": str(photo_id), "answer_id": answers[0]["id"], "file": io.BytesIO(jpeg())},
    )
    assert replay.status_code == 201 and replay.json()["id"] == str(photo_id)
    assert api.post(f"/api/inspections/visits/{visit_id}/finish").json() == finished
    assert Visit.objects.count() == 1 and Photo.objects.count() == 1
    assert Rework.objects.count() == 2
    # Answers after the end are refused, in French, and nothing changes.
    late = api.post(
        f"/api/inspections/visits/{visit_id}/answers",
        {"answers": [{**answers[1], "value": "compliant"}]},
        content_type="application/json",
    )
    assert late.status_code == 409 and "terminée" in late.json()["message"]


def test_bad_input_gets_french_errors_and_saves_nothing(
    estate, cast, agent_b, token_client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    api = token_client(agent_b)
    outside = api.post(
        f"/api/inspections/visits/{uuid.uuid4()}/start",
        {"residence_id": estate.tilleuls.pk},
        content_type="application/json",
    )
    assert outside.status_code == 404
    visit_id = str(uuid.uuid4())
    api.post(
        f"/api/inspections/visits/{visit_id}/start",
        {"residence_id": estate.moulin.pk, "joint": True},
        content_type="application/json",
    )
    fake = api.post(
        f"/api/inspections/visits/{visit_id}/photos",
        {"id": str(uuid.uuid4()), "file": io.BytesIO(b"<html>not a photo</html>")},
    )
    assert fake.status_code == 422 and "n’est pas une image" in fake.json()["message"]
    bomb = io.BytesIO()
    Image.new("1", (10000, 10000)).save(bomb, "PNG")
    bomb.seek(0)
    big = api.post(
        f"/api/inspections/visits/{visit_id}/photos", {"id": str(uuid.uuid4()), "file": bomb}
    )
    assert big.status_code == 422 and "pixels" in big.json()["message"]
    assert not Photo.objects.exists()
    other = grids.publish(
        Grid.objects.create(name="Ascenseurs", category="lift"), "# Cabine\nPropre | 1\n"
    )
    foreign = Item.objects.get(zone__version=other)
    wrong = api.post(
        f"/api/inspections/visits/{visit_id}/answers",
        {"answers": [{"id": str(uuid.uuid4()), "item_id": foreign.pk, "value": "compliant"}]},
        content_type="application/json",
    )
    assert (
        wrong.status_code == 422
        and "n’est pas dans la grille" in wrong.json()["details"][0]["message"]
    )
    unknown = api.post(
        f"/api/inspections/visits/{visit_id}/answers",
        {"answers": [{"id": str(uuid.uuid4()), "item_id": foreign.pk, "value": "bof"}]},
        content_type="application/json",
    )
    assert unknown.status_code == 422
    assert not Answer.objects.exists()
    version = Visit.objects.get(pk=visit_id).grid_version
    api.post(
        f"/api/inspections/visits/{visit_id}/answers",
        {
            "answers": [
                {"id": str(uuid.uuid4()), "item_id": i.pk, "value": "compliant"}
                for i in Item.objects.filter(zone__version=version)
            ]
        },
        content_type="application/json",
    )
    not_signed = api.post(
        f"/api/inspections/visits/{visit_id}/finish",
        {"signatory_name": "M. Propre", "signature": io.BytesIO(b"%PDF-1.4 not an image")},
    )
    assert not_signed.status_code == 422 and "n’est pas une image" in not_signed.json()["message"]
    unsigned = api.post(
        f"/api/inspections/visits/{visit_id}/finish", {"signatory_name": "M. Propre"}
    )
    assert unsigned.status_code == 422 and "signature" in unsigned.json()["details"][0]["message"]
    visit = Visit.objects.get(pk=visit_id)
    assert visit.status == Visit.Status.IN_PROGRESS and not visit.signature and visit.score is None


def test_a_contractor_cannot_inspect_nor_recheck(estate, cast, agent_b, token_client):
    contract_grid(estate, 3)
    api = token_client(agent_b)
    visit_id, _answers, _finished = run_visit(api, estate, photos=0)
    rework = Rework.objects.filter(visit_id=visit_id).first()
    provider = token_client(cast.contractor)
    start = provider.post(
        f"/api/inspections/visits/{uuid.uuid4()}/start",
        {"residence_id": estate.moulin.pk},
        content_type="application/json",
    )
    assert start.status_code == 403
    recheck = provider.post(
        f"/api/inspections/reworks/{rework.pk}/recheck",
        {"lifted": True},
        content_type="application/json",
    )
    assert recheck.status_code == 403
    other = make_user(
        "other_provider", Role.CONTRACTOR, estate.organisation, provider=estate.other_cleaner
    )
    assert (
        token_client(other)
        .post(f"/api/inspections/reworks/{rework.pk}/done", {"comment": "fait"})
        .status_code
        == 404
    )
    done = provider.post(
        f"/api/inspections/reworks/{rework.pk}/done",
        {"comment": "Repassé", "photo": io.BytesIO(jpeg())},
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert Photo.objects.filter(rework=rework).count() == 1
    twice = provider.post(
        f"/api/inspections/reworks/{rework.pk}/done",
        {"comment": "encore", "photo": io.BytesIO(jpeg())},
    )
    assert twice.status_code == 409 and Photo.objects.filter(rework=rework).count() == 1
    rework.refresh_from_db()
    assert rework.provider_comment == "Repassé"


def test_rates_through_the_api_count_what_was_done(estate, cast, agent_b, token_client):
    contract_grid(estate, 3)
    run_visit(
        token_client(agent_b), estate, photos=0
    )  # 1 of 3 items major: 2/3 points... by weight
    rows = token_client(cast.advisor).get("/api/inspections/rates?by=residence").json()
    moulin = next(r for r in rows if r["key"] == estate.moulin.pk)
    assert moulin["done"] == 1 and moulin["reworks"] == 1
    assert Decimal(str(moulin["defect_rate"])) == Decimal("33.3")  # 1 item of 3 found with a defect
    assert Decimal(str(moulin["average_score"])) == Visit.objects.get().score
    by_provider = token_client(cast.advisor).get("/api/inspections/rates?by=provider").json()
    assert [r["label"] for r in by_provider] == [estate.cleaner.name]
    assert token_client(cast.advisor).get("/api/inspections/rates?by=colour").status_code == 422
    # Another agency's manager sees none of it.
    assert token_client(cast.manager_b).get("/api/inspections/rates").json() == []
