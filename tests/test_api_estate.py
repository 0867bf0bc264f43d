"""The estate API: listing, filters, authentication, errors as French JSON, contact updates."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backend.accounts.models import ApiToken
from backend.estate import models as m
from tests.conftest import client_for


def test_openapi_lists_the_estate_endpoints(db):
    schema = Client().get("/api/openapi.json").json()
    for path in [
        "/api/estate/residences",
        "/api/estate/residences/{residence_id}",
        "/api/estate/buildings",
        "/api/estate/entrances",
        "/api/estate/units",
        "/api/estate/units/{unit_id}",
        "/api/estate/equipment",
        "/api/estate/households/{household_id}",
        "/api/estate/people/{person_id}",
        "/api/estate/search",
        "/api/health",
    ]:
        assert path in schema["paths"], path
    assert "BearerTokenAuth" in schema["components"]["securitySchemes"]


def test_interactive_docs_are_served(db):
    assert Client().get("/api/docs").status_code == 200


def test_lists_are_paginated_with_limit_and_offset(estate, cast):
    client = client_for(cast.admin)
    first = client.get("/api/estate/units?limit=2&offset=0").json()
    second = client.get("/api/estate/units?limit=2&offset=2").json()
    assert first["count"] == 6 and len(first["items"]) == 2
    assert {u["id"] for u in first["items"]}.isdisjoint({u["id"] for u in second["items"]})


def test_units_filter_by_entrance_and_refuse_a_parent_outside_the_scope(estate, cast):
    entrance = estate.tilleuls.entrances.get()
    client = client_for(cast.agent_a)
    response = client.get(f"/api/estate/units?entrance_id={entrance.pk}")
    assert response.status_code == 200
    assert {u["entrance_id"] for u in response.json()["items"]} == {entrance.pk}
    other = estate.source.entrances.get()
    response = client.get(f"/api/estate/units?entrance_id={other.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["message"] == "Introuvable, ou hors de votre périmètre."


def test_wrong_types_get_a_french_422(estate, cast):
    response = client_for(cast.admin).get("/api/estate/units?residence_id=abc")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["message"] == "Les données envoyées ne sont pas valides."
    assert body["details"][0]["field"] == "residence_id"
    assert body["details"][0]["message"] == "Un nombre entier est attendu."


def test_a_limit_above_the_maximum_is_refused_with_the_maximum(estate, cast):
    response = client_for(cast.admin).get("/api/estate/units?limit=100000")
    assert response.status_code == 422
    detail = response.json()["details"][0]
    assert detail["field"] == "limit" and "500" in detail["message"]


def test_unknown_urls_under_api_answer_json(db):
    response = Client().get("/api/pas-de-route")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_anonymous_callers_get_401_in_french(db):
    response = Client().get("/api/estate/residences")
    assert response.status_code == 401
    assert response.json() == {
        "code": "unauthenticated",
        "message": "Connectez-vous (ou envoyez un jeton d’API valide).",
        "details": [],
    }


def test_bearer_tokens_authenticate_and_stop_when_revoked(estate, cast):
    token, key = ApiToken.issue(cast.advisor, "ERP")
    client = Client(headers={"authorization": f"Bearer {key}"})
    response = client.get("/api/me")
    assert response.status_code == 200 and response.json()["username"] == "advisor"
    assert response.json()["residences_count"] == 2
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.key_hash != key and key not in token.key_hash  # only the hash is stored
    token.revoke()
    assert client.get("/api/me").status_code == 401


def test_a_forged_token_with_a_real_prefix_is_refused(estate, cast):
    _token, key = ApiToken.issue(cast.advisor, "ERP")
    forged = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    response = Client(headers={"authorization": f"Bearer {forged}"}).get("/api/me")
    assert response.status_code == 401


def test_health_is_public_and_reports_database_queue_and_worker(db):
    from django.utils import timezone

    from backend.core.models import Heartbeat

    response = Client().get("/api/health")
    assert response.status_code == 503  # no worker has ever run the heartbeat job
    assert response.json()["worker"] == "unknown"
    Heartbeat.objects.create(name="worker", seen_at=timezone.now())
    response = Client().get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["queue"] == "ok" and body["worker"] == "ok"
    assert body["jobs_backend"] == "q2"


def test_health_answers_503_when_the_worker_stopped(db):
    from datetime import timedelta

    from django.utils import timezone

    from backend.core.models import Heartbeat

    Heartbeat.objects.create(name="worker", seen_at=timezone.now() - timedelta(minutes=10))
    response = Client().get("/api/health")
    assert response.status_code == 503 and response.json()["worker"] == "stale"


def test_health_answers_503_when_the_queue_is_unreachable(db, monkeypatch):
    from backend import jobs

    monkeypatch.setattr(jobs, "queue_reachable", lambda: False)
    response = Client().get("/api/health")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


def test_the_units_list_costs_the_same_queries_whatever_the_number_of_units(estate, cast):
    from tests.conftest import make_residence

    client = client_for(cast.admin)

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/estate/units?limit=500")
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    before, units_before = count_queries()
    make_residence(estate.north, "R09", "La Grande Tour", units=40, lease_prefix="30")
    after, units_after = count_queries()
    assert units_after == units_before + 40
    assert after == before


# --- writes: contact details ------------------------------------------------------------------


def person_in(residence):
    household = m.Household.objects.filter(leases__residence=residence).first()
    return m.Person.objects.create(
        household=household, first_name="Hélène", last_name="Martin", mobile="+33639980099"
    )


def patch(client, url, payload, **extra):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.patch(url, body, content_type="application/json", **extra)


def test_an_advisor_updates_a_mobile_parsed_with_the_residence_region(estate, cast):
    person = person_in(estate.tilleuls)
    response = patch(
        client_for(cast.advisor), f"/api/estate/people/{person.pk}", {"mobile": "06 39 98 12 34"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["mobile"] == "+33639981234"
    reunion = person_in(estate.source)
    response = patch(
        client_for(cast.manager_b), f"/api/estate/people/{reunion.pk}", {"mobile": "0692 12 34 56"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["mobile"] == "+262692123456"


def test_a_bad_mobile_is_refused_in_french_and_nothing_is_saved(estate, cast):
    person = person_in(estate.tilleuls)
    person.email = "helene@example.org"
    person.save()
    response = patch(
        client_for(cast.advisor),
        f"/api/estate/people/{person.pk}",
        {"mobile": "01 23", "email": "nouvelle@example.org"},
    )
    assert response.status_code == 422
    detail = response.json()["details"][0]
    assert (
        detail["field"] == "mobile"
        and "n’est pas un numéro de téléphone valide" in detail["message"]
    )
    person.refresh_from_db()
    assert person.email == "helene@example.org" and person.mobile == "+33639980099"


def test_malformed_json_is_refused_with_a_french_message(estate, cast):
    person = person_in(estate.tilleuls)
    response = patch(client_for(cast.advisor), f"/api/estate/people/{person.pk}", "{not json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert response.json()["message"] == "Le corps de la requête n’est pas du JSON valide."


def test_people_outside_the_scope_cannot_be_changed(estate, cast):
    person = person_in(estate.source)
    response = patch(
        client_for(cast.agent_a), f"/api/estate/people/{person.pk}", {"email": "x@example.org"}
    )
    assert response.status_code == 404
    response = patch(
        client_for(cast.contractor), f"/api/estate/people/{person.pk}", {"email": "x@example.org"}
    )
    assert response.status_code == 403
    person.refresh_from_db()
    assert person.email == ""


def test_session_writes_need_the_csrf_token(estate, cast):
    person = person_in(estate.tilleuls)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.advisor)
    response = patch(client, f"/api/estate/people/{person.pk}", {"language": "en"})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    client.get("/connexion/")  # sets the CSRF cookie, as the PWA does before each sync
    token = client.cookies["csrftoken"].value
    response = patch(
        client, f"/api/estate/people/{person.pk}", {"language": "en"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert response.json()["language"] == "en"


def test_choosing_sms_without_a_mobile_is_refused(estate, cast):
    person = person_in(estate.tilleuls)
    person.preferred_channel = "email"
    person.email = "a@example.org"
    person.mobile = ""
    person.save()
    response = patch(
        client_for(cast.advisor), f"/api/estate/people/{person.pk}", {"preferred_channel": "sms"}
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "preferred_channel"


@pytest.mark.parametrize(
    "payload", [{"language": "klingon"}, {"preferred_channel": "fax"}, {"mobile": 33}]
)
def test_values_outside_the_schema_are_422(estate, cast, payload):
    person = person_in(estate.tilleuls)
    response = patch(client_for(cast.advisor), f"/api/estate/people/{person.pk}", payload)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "/api/estate/residences/999999",
        "/api/estate/buildings/999999",
        "/api/estate/entrances/999999",
        "/api/estate/units/999999",
        "/api/estate/equipment/999999",
        "/api/estate/households/999999",
        "/api/estate/units?residence_id=999999",
    ],
)
def test_unknown_ids_get_the_same_french_404_as_ids_outside_the_scope(estate, cast, url):
    response = client_for(cast.admin).get(url)
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "Introuvable, ou hors de votre périmètre.",
        "details": [],
    }


def test_units_filter_by_building(estate, cast):
    building = estate.tilleuls.buildings.get()
    response = client_for(cast.agent_a).get(f"/api/estate/units?building_id={building.pk}")
    assert response.status_code == 200 and response.json()["count"] == 2
    other = estate.source.buildings.get()
    assert (
        client_for(cast.agent_a).get(f"/api/estate/units?building_id={other.pk}").status_code == 404
    )


def test_a_wrong_method_gets_french_json(db):
    response = Client().post("/api/health")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.json()["message"] == "Cette méthode n’est pas permise ici."


def test_search_costs_the_same_queries_for_one_hit_or_forty(estate, cast):
    from tests.conftest import make_residence

    client = client_for(cast.admin)

    def queries(q):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/estate/search", {"q": q})
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    few, count_few = queries("tilleuls")
    make_residence(estate.north, "R08", "Les Tilleuls Bis", units=40, lease_prefix="40")
    many, count_many = queries("tilleuls")
    assert count_many == count_few + 40
    assert many == few
