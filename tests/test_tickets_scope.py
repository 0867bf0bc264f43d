"""Who reads which request, work order, incident and timeline: the scope table of the requests
app, through the scoping function, the API and the pages (out of scope: 404)."""

import pytest

from backend.accounts.scoping import scoped
from tests.conftest import client_for
from tests.test_scope_matrix import RESIDENCE_VISIBILITY, USERS, user_of
from tickets import services
from tickets.models import Event, Request, WorkOrder

STAFF = {"agent_a", "advisor", "manager_b", "admin", "outsider"}


@pytest.fixture
def requests_everywhere(estate, cast, messaging_settings):
    """One request in each residence of the cast; the one at Le Moulin passed to the cleaning
    company (the contractor's provider), with a staff-only note."""
    made = {}
    for name in ("tilleuls", "moulin", "source"):
        residence = getattr(estate, name)
        made[name] = services.create_request(
            cast.admin,
            services.RequestInput(
                residence_id=residence.pk, category="door", description="Porte du hall cassée"
            ),
            "phone",
        )
    made["elsewhere"] = services.create_request(
        cast.outsider,
        services.RequestInput(
            residence_id=estate.elsewhere.pk, category="door", description="Porte cassée"
        ),
        "phone",
    )
    services.send_order(
        cast.admin, made["moulin"].pk, services.OrderInput(provider_id=estate.cleaner.pk)
    )
    services.add_note(cast.admin, made["moulin"].pk, "Locataire difficile")
    return made


def sees(username, residence):
    return username in RESIDENCE_VISIBILITY[residence] and username != "contractor"


@pytest.mark.parametrize("username", USERS)
def test_each_role_reads_exactly_the_requests_of_its_scope(
    estate, cast, requests_everywhere, username
):
    user = user_of(cast, username)
    expected = {r.pk for name, r in requests_everywhere.items() if sees(username, name)}
    if username == "contractor":  # only what it has a work order for
        expected = {requests_everywhere["moulin"].pk}
    assert set(scoped(user, Request).values_list("pk", flat=True)) == expected
    orders = set(scoped(user, WorkOrder).values_list("request_id", flat=True))
    if username in ("contractor", "advisor", "admin"):
        assert orders == {requests_everywhere["moulin"].pk}
    else:
        assert orders == set()
    client = client_for(user)
    for name, request in requests_everywhere.items():
        api = client.get(f"/api/tickets/requests/{request.pk}")
        page = client.get(f"/demandes/{request.pk}/")
        if user is None:
            assert api.status_code == 401 and page.status_code == 302
            continue
        visible = request.pk in expected
        assert api.status_code == (200 if visible else 404), (username, name)
        if username == "contractor":
            assert page.status_code == 403  # staff pages are not for contractors
        else:
            assert page.status_code == (200 if visible else 404), (username, name)


def test_a_contractor_reads_its_orders_timeline_without_staff_notes(
    estate, cast, requests_everywhere
):
    moulin = requests_everywhere["moulin"]
    assert moulin.events.filter(internal=True, kind=Event.Kind.NOTE).exists()
    timeline = client_for(cast.contractor).get(f"/api/tickets/requests/{moulin.pk}/timeline")
    assert timeline.status_code == 200
    texts = [e["text"] for e in timeline.json()]
    assert texts and not any("difficile" in t for t in texts)
    assert all(e["told"] == "" for e in timeline.json())  # the tenant's link stays theirs
    page = (
        client_for(cast.contractor)
        .get(f"/interventions/{moulin.work_orders.get().pk}/")
        .content.decode()
    )
    assert "/suivi/" not in page
    staff = client_for(cast.advisor).get(f"/api/tickets/requests/{moulin.pk}/timeline").json()
    assert any("difficile" in e["text"] for e in staff)
    assert client_for(cast.contractor).get("/api/tickets/requests").status_code == 403
    orders = client_for(cast.contractor).get("/api/tickets/work-orders").json()["items"]
    assert [o["request_id"] for o in orders] == [str(moulin.pk)]


def test_lists_and_search_hold_only_the_scope(estate, cast, requests_everywhere):
    listed = client_for(cast.agent_a).get("/api/tickets/requests?limit=100").json()["items"]
    assert [r["id"] for r in listed] == [str(requests_everywhere["tilleuls"].pk)]
    source = requests_everywhere["source"]
    found = client_for(cast.advisor).get(f"/api/tickets/requests?q={source.reference}").json()
    assert found["items"] == []
    found = client_for(cast.manager_b).get(f"/api/tickets/requests?q={source.reference}").json()
    assert [r["reference"] for r in found["items"]] == [source.reference]
    page = client_for(cast.advisor).get("/demandes/?q=source").content.decode()
    assert source.reference not in page


def test_the_contractors_order_list_costs_the_same_queries_for_more_orders(
    estate, cast, requests_everywhere, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(cast.contractor)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/tickets/work-orders").status_code == 200
    for _n in range(3):
        extra = services.create_request(
            cast.admin,
            services.RequestInput(
                unit_id=estate.moulin.units.first().pk, category="door", description="Porte"
            ),
            "phone",
        )
        services.send_order(
            cast.admin, extra.pk, services.OrderInput(provider_id=estate.cleaner.pk)
        )
    with CaptureQueriesContext(connection) as four:
        response = client.get("/api/tickets/work-orders")
    assert len(response.json()["items"]) == 4
    assert len(four) == len(one)
