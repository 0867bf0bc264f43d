"""The issue's "done when": a lift breakdown reported by three tenants on three channels (the
advisor's phone, a text message through the signed Twilio webhook, the hall's QR code) is
grouped into one incident, sent to the contractor, booked, done and closed; each tenant's
messages are in the outbox and the timeline is readable by each party within its scope."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from backend.accounts.models import Role
from backend.estate import models as m
from messaging.models import Message
from tests.conftest import TWILIO_TOKEN, client_for, make_user
from tests.test_tickets_flow import lift  # noqa: F401 - the lift maintainer fixture
from tickets import public
from tickets.models import Incident, Link, Request, Status

BASE = "https://ronde.example.fr"


def test_a_lift_breakdown_from_three_tenants_runs_to_closure(
    estate,
    cast,
    tenants,
    lift,  # noqa: F811
    settings,
    token_client,
):
    provider, _contract, technician = lift
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_WEBHOOK_BASE_URL = BASE
    equipment = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    entrance = equipment.entrance
    first, second = [
        p for p in tenants if p.household.leases.first().residence_id == estate.tilleuls.pk
    ]
    # A third household in the same entrance.
    unit = m.Unit.objects.create(entrance=entrance, code="R01-9", floor=4, door="41")
    household = m.Household.objects.create(organisation=estate.organisation, name="Foyer 41")
    m.Lease.objects.create(
        unit=unit, household=household, reference="10019999", start_date=timezone.localdate()
    )
    m.Person.objects.create(
        household=household, first_name="Awa", last_name="Diallo", mobile="+33639980041"
    )
    advisor = client_for(cast.advisor)

    # 1. By phone: the advisor finds the tenant and takes the request on the lift.
    lease = first.household.leases.first()
    response = advisor.post(
        "/demandes/nouvelle/",
        {
            "unit_id": lease.unit_id,
            "person_id": first.pk,
            "equipment_id": equipment.pk,
            "category": "lift",
            "description": "Ascenseur bloqué au rez-de-chaussée",
            "channel": "phone",
            "acknowledge": "on",
        },
    )
    assert response.status_code == 302, response.content
    by_phone = Request.objects.get(person=first)
    # 2. By text message, through the signed webhook.
    data = {
        "MessageSid": "SM" + "7" * 32,
        "From": second.mobile,
        "Body": "L'ascenseur est en panne",
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        BASE + "/hooks/twilio/inbound", data
    )
    assert (
        Client().post("/hooks/twilio/inbound", data, HTTP_X_TWILIO_SIGNATURE=signature).status_code
        == 200
    )
    by_sms = Request.objects.get(person=second)
    assert by_sms.channel == "sms"
    advisor.post(f"/demandes/{by_sms.pk}/", {"action": "qualify", "category": "lift"})
    # 3. From the hall's QR code, with the tenant's mobile to be kept informed.
    token = public.place_token(equipment)
    Client().post(
        f"/signaler/{token}/",
        {
            "action": "report",
            "category": "lift",
            "description": "Ascenseur arrêté entre deux étages",
            "contact_name": "Awa Diallo",
            "contact_phone": "06 39 98 00 41",
        },
    )
    by_qr = Request.objects.get(channel="qr")
    assert by_qr.contact_phone == "+33639980041"

    # Grouped from the first request's page: the other two are proposed.
    page = advisor.get(f"/demandes/{by_phone.pk}/").content.decode()
    assert by_sms.reference in page and by_qr.reference in page
    advisor.post(
        f"/demandes/{by_phone.pk}/",
        {"action": "group", "request_ids": [str(by_sms.pk), str(by_qr.pk)], "incident_id": ""},
    )
    incident = Incident.objects.get()
    assert set(incident.requests.values_list("channel", flat=True)) == {"phone", "sms", "qr"}

    # Sent to the lift maintainer, accepted and given slots through its API token.
    advisor.post(
        f"/demandes/{by_phone.pk}/",
        {"action": "order", "provider_id": provider.pk, "access": "free"},
    )
    order = by_phone.work_orders.get()
    contractor_api = token_client(technician)
    assert contractor_api.post(f"/api/tickets/work-orders/{order.pk}/accept").status_code == 200
    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    slots = contractor_api.post(
        "/api/tickets/slots",
        {
            "slots": [
                {
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=2)).isoformat(),
                }
            ]
        },
        content_type="application/json",
    )
    assert slots.status_code == 201, slots.content
    # Booked by the advisor while the tenant is on the phone.
    advisor.post(
        f"/demandes/{by_phone.pk}/",
        {"action": "book", "order_id": str(order.pk), "slot_id": slots.json()[0]["id"]},
    )
    assert set(Request.objects.values_list("status", flat=True)) == {Status.SCHEDULED}
    done = contractor_api.post(
        f"/api/tickets/work-orders/{order.pk}/milestones",
        {"kind": "done", "comment": "Carte électronique remplacée", "signatory_name": "M. Nom1"},
    )
    assert done.status_code == 200, done.content
    assert set(Request.objects.values_list("status", flat=True)) == {Status.DONE}
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    advisor.post(f"/demandes/{by_phone.pk}/", {"action": "close"})
    assert set(Request.objects.values_list("status", flat=True)) == {Status.CLOSED}

    # Each tenant's messages are in the outbox: taken, grouped, appointment, done, closure.
    for request, to in (
        (by_phone, first.mobile),
        (by_sms, second.mobile),
        (by_qr, "+33639980041"),
    ):
        bodies = list(
            Message.objects.filter(campaign__object_id=str(request.pk)).values_list("body", "to")
        )
        assert {b[1] for b in bodies} == {to}, request.channel
        texts = " | ".join(b[0] for b in bodies)
        for expected in (
            "est enregistrée",
            "autres locataires",
            "passera le",
            "réalisée",
            # A reporter without a tenant record is thanked: their reply would reach nobody.
            "Merci de l'avoir signalée" if request is by_qr else "Répondez de 1",
        ):
            assert expected in texts, (request.channel, expected, texts)

    # The timeline, readable by each party within its scope.
    manager = make_user("manager_n", Role.MANAGER, estate.organisation, agencies=[estate.north])
    for user in (cast.advisor, cast.agent_a, manager):
        page = client_for(user).get(f"/demandes/{by_phone.pk}/").content.decode()
        assert "Carte électronique remplacée" in page, user
        # The other reporters' timelines say it without the lead tenant's details.
        page = client_for(user).get(f"/demandes/{by_sms.pk}/").content.decode()
        assert "Intervention réalisée." in page and "M. Nom1" not in page, user
    assert client_for(cast.manager_b).get(f"/demandes/{by_sms.pk}/").status_code == 404
    timeline = contractor_api.get(f"/api/tickets/requests/{by_phone.pk}/timeline").json()
    assert any("Carte électronique remplacée" in e["text"] for e in timeline)
    assert contractor_api.get(f"/api/tickets/requests/{by_sms.pk}").status_code == 404
    assert client_for(cast.contractor).get(f"/interventions/{order.pk}/").status_code == 404
    for request in (by_phone, by_sms, by_qr):
        link = Link.objects.filter(request=request).first()
        page = Client().get(f"/suivi/{link.token}/").content.decode()
        assert request.reference in page and "Clôturée" in page
        others = {by_phone.reference, by_sms.reference, by_qr.reference} - {request.reference}
        assert not any(ref in page for ref in others)
        assert "Diallo" not in page or request == by_qr


@pytest.mark.parametrize("path", ["/suivi/abc/", "/signaler/abc/"])
def test_forged_public_links_get_a_clear_answer(db, path):
    response = Client().get(path)
    assert response.status_code == 404
    assert "Appelez votre agence" in response.content.decode() or "appelez votre agence" in (
        response.content.decode()
    )
