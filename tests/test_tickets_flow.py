"""Technical requests end to end through the services and pages: intake with its reference
sent to the tenant, statuses and their rules, work orders, slots and appointments, incidents,
the tenant's link, satisfaction by SMS, on-call, reminders and digests."""

import threading
from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import Role
from backend.core.errors import Conflict, ServiceError
from backend.estate import models as m
from messaging.models import Campaign, Message
from tests.conftest import client_for, make_user
from tickets import oncall, public, services
from tickets.models import (
    Appointment,
    Event,
    Incident,
    Link,
    OnCallShift,
    Request,
    Slot,
    Status,
    Subscription,
    WorkOrder,
)


@pytest.fixture
def lift(estate, cast, tenants, messaging_settings, settings):
    """A lift maintainer whose contract covers Les Tilleuls, with one technician; office hours
    all day long so that nothing goes to the on-call service unless a test says so."""
    settings.TICKETS_OFFICE_HOURS = "00:00-23:59"
    provider = m.Provider.objects.create(
        organisation=estate.organisation,
        name="Ascenseurs Martin",
        kind="maintenance",
        email="sav@ascenseurs-martin.example",
    )
    contract = m.ProviderContract.objects.create(
        provider=provider,
        reference="ASC-7",
        purchase_order_reference="BC-2026-117",
        categories=["lift"],
        start_date=date(2024, 1, 1),
    )
    m.ContractSite.objects.create(contract=contract, residence=estate.tilleuls)
    technician = make_user("tech", Role.CONTRACTOR, estate.organisation, provider=provider)
    return provider, contract, technician


def tilleuls_tenant(estate, tenants):
    return next(p for p in tenants if p.household.leases.first().residence_id == estate.tilleuls.pk)


def take(user, estate, tenants, *, category="lift", channel="phone", unit=True, **extra):
    person = tilleuls_tenant(estate, tenants)
    lease = person.household.leases.first()
    return services.create_request(
        user,
        services.RequestInput(
            unit_id=lease.unit_id if unit else None,
            residence_id=None if unit else estate.tilleuls.pk,
            category=category,
            description="L'ascenseur est bloqué au 2e étage",
            person_id=person.pk if unit else None,
            **extra,
        ),
        channel,
    )


def future_slot(provider, days=2, hour=9):
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=days), time(hour)), zone
    )
    return Slot.objects.create(
        provider=provider, starts_at=start, ends_at=start + timedelta(hours=2)
    )


# --- intake ---------------------------------------------------------------------------------------


def test_a_request_gets_a_reference_and_the_tenant_is_told_at_once(estate, cast, tenants, lift):
    request = take(cast.advisor, estate, tenants)
    year = timezone.localdate().year
    assert request.reference == f"D{year}-000001"
    assert take(cast.advisor, estate, tenants).reference == f"D{year}-000002"
    assert request.status == Status.NEW
    assert (request.kind, request.team, request.urgency) == ("technical", "technical", "urgent")
    # Location filled from the unit; deadlines from the category and urgency.
    assert request.entrance_id == request.unit.entrance_id and request.residence == estate.tilleuls
    assert request.resolve_due_at - request.created_at == timedelta(hours=48)
    message = Message.objects.get(campaign__object_id=str(request.pk))
    assert message.channel == "sms" and request.reference in message.body
    link = Link.objects.get(request=request)
    assert link.token in message.body
    told = request.events.get(kind=Event.Kind.TOLD)
    assert told.told == message.body and told.channel == "sms"


def test_creating_a_request_costs_the_same_queries_whoever_and_wherever(
    estate, cast, tenants, lift
):
    take(cast.advisor, estate, tenants)  # warm the counters and caches
    counts = []
    for category in ("lift", "leak", "heating"):
        with CaptureQueriesContext(connection) as queries:
            take(cast.advisor, estate, tenants, category=category)
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2], counts


def test_bad_intake_is_refused_in_french_and_nothing_is_saved(estate, cast, tenants, lift):
    person = tilleuls_tenant(estate, tenants)
    moulin_unit = m.Unit.objects.filter(residence=estate.moulin).first()
    with pytest.raises(ValidationError) as caught:
        services.create_request(
            cast.advisor,
            services.RequestInput(unit_id=moulin_unit.pk, category="", description=""),
            "phone",
        )
    assert set(caught.value.message_dict) == {"category", "description"}
    with pytest.raises(ValidationError) as caught:  # the tenant does not live there
        services.create_request(
            cast.advisor,
            services.RequestInput(
                unit_id=moulin_unit.pk, category="leak", description="fuite", person_id=person.pk
            ),
            "phone",
        )
    assert "ne vit pas" in caught.value.message_dict["person_id"][0]
    with pytest.raises(ValidationError):  # out of the agent's sector
        services.create_request(
            cast.agent_a,
            services.RequestInput(unit_id=moulin_unit.pk, category="leak", description="fuite"),
            "field",
        )
    with pytest.raises(PermissionDenied):
        take(cast.contractor, estate, tenants)
    assert not Request.objects.exists() and not Campaign.objects.exists()


def test_a_complaint_goes_to_its_team_and_not_to_a_contractor(estate, cast, tenants, lift):
    request = take(cast.advisor, estate, tenants, category="charges")
    assert (request.kind, request.team) == ("complaint", "charges")
    with pytest.raises(Conflict):
        services.send_order(cast.advisor, request.pk, services.OrderInput())


# --- statuses -------------------------------------------------------------------------------------


def test_transitions_follow_the_rules_with_an_event_each(estate, cast, tenants, lift):
    request = take(cast.advisor, estate, tenants, category="neighbourhood")
    with pytest.raises(Conflict) as caught:
        services.close(cast.advisor, request.pk)
    assert "intervention est réalisée" in caught.value.message
    services.acknowledge(cast.advisor, request.pk, "Réponse sous 8 jours.")
    with pytest.raises(Conflict) as caught:  # twice: nothing written, nobody told again
        services.acknowledge(cast.advisor, request.pk, "Réponse sous 8 jours.")
    assert "déjà" in caught.value.message
    services.mark_done(cast.advisor, request.pk, "Courrier envoyé au voisin.")
    services.close(cast.advisor, request.pk)
    request.refresh_from_db()
    assert request.status == Status.CLOSED and request.closed_at is not None
    statuses = list(
        request.events.filter(kind=Event.Kind.STATUS).values_list("status", "author__username")
    )
    assert statuses == [
        ("acknowledged", "advisor"),
        ("done", "advisor"),
        ("closed", "advisor"),
    ]
    with pytest.raises(Conflict):
        services.cancel(cast.advisor, request.pk, "erreur")
    bodies = list(
        Message.objects.filter(campaign__object_id=str(request.pk)).values_list("body", flat=True)
    )
    assert any("Réponse sous 8 jours." in b for b in bodies)
    assert any("Répondez de 1" in b for b in bodies)


def test_a_cancelled_request_says_why_and_cancels_its_order(estate, cast, tenants, lift):
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    with pytest.raises(ValidationError):
        services.cancel(cast.advisor, request.pk, "  ")
    services.cancel(cast.advisor, request.pk, "Signalement en double")
    order.refresh_from_db()
    assert order.status == WorkOrder.Status.CANCELLED
    assert Message.objects.filter(body__contains="Signalement en double").exists()


# --- work orders, slots, appointments -------------------------------------------------------------


def test_a_lift_request_goes_to_the_lift_contract_and_runs_to_closure(estate, cast, tenants, lift):
    provider, contract, technician = lift
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(
        cast.advisor,
        request.pk,
        services.OrderInput(access="key_caretaker", access_note="Clé chez la gardienne"),
    )
    assert order.provider == provider and order.contract == contract
    assert order.purchase_order == "BC-2026-117"
    assert Message.objects.filter(to="sav@ascenseurs-martin.example").exists()
    request.refresh_from_db()
    assert request.status == Status.ACKNOWLEDGED
    with pytest.raises(Conflict):  # one live order at a time
        services.send_order(cast.advisor, request.pk, services.OrderInput())
    services.accept_order(technician, order.pk)
    slot = future_slot(provider)
    appointment = services.book(cast.advisor, order.pk, slot.pk)
    request.refresh_from_db()
    assert request.status == Status.SCHEDULED
    told = Message.objects.filter(campaign__object_id=str(request.pk)).order_by("pk").last()
    assert "Ascenseurs Martin" in told.body and "entre 9 h et 11 h" in told.body
    with pytest.raises(Conflict):  # the tenant called twice
        services.book(cast.advisor, order.pk, future_slot(provider, days=3).pk)
    services.report(technician, order.pk, services.Milestone("on_site"))
    with pytest.raises(ValidationError):
        services.report(technician, order.pk, services.Milestone("done"))  # say what was done
    services.report(
        technician,
        order.pk,
        services.Milestone("done", comment="Carte de commande remplacée", signatory_name="M. Nom1"),
    )
    request.refresh_from_db()
    order.refresh_from_db()
    appointment.refresh_from_db()
    assert request.status == Status.DONE and order.status == WorkOrder.Status.DONE
    assert appointment.ended_at is not None and appointment.status == Appointment.Status.BOOKED
    services.close(cast.advisor, request.pk)
    request.refresh_from_db()
    assert request.status == Status.CLOSED and request.satisfaction_asked_at
    texts = [e.text for e in request.events.order_by("at", "id")]
    assert any("Carte de commande remplacée" in t and "M. Nom1" in t for t in texts)


def test_another_contractor_cannot_see_or_act_on_the_order(estate, cast, tenants, lift):
    _provider, _contract, technician = lift
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    from django.http import Http404

    with pytest.raises(Http404):
        services.accept_order(cast.contractor, order.pk)  # the cleaning company
    response = client_for(cast.contractor).get(f"/interventions/{order.pk}/")
    assert response.status_code == 404
    assert client_for(technician).get(f"/interventions/{order.pk}/").status_code == 200
    order.refresh_from_db()
    assert order.status == WorkOrder.Status.SENT


def test_no_access_offers_a_new_slot_and_moving_tells_both_sides(estate, cast, tenants, lift):
    provider, _contract, technician = lift
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    services.accept_order(technician, order.pk)
    first, second, third = (future_slot(provider, days=d) for d in (2, 3, 4))
    appointment = services.book(cast.advisor, order.pk, first.pk)
    moved = services.move_appointment(cast.advisor, appointment.pk, second.pk)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.MOVED and moved.slot == second
    assert Message.objects.filter(subject__contains="Rendez-vous déplacé").exists()
    services.report(technician, order.pk, services.Milestone("no_access", comment="Personne"))
    request.refresh_from_db()
    assert request.status == Status.ACKNOWLEDGED
    last = Message.objects.filter(campaign__object_id=str(request.pk)).order_by("pk").last()
    assert "nouveau rendez-vous" in last.body.lower()
    # The freed slot is offered again; the first one too.
    assert set(services.free_slots(provider.pk)) == {first, second, third}


@pytest.mark.django_db(transaction=True)
def test_a_slot_cannot_be_booked_twice_even_at_once(estate, cast, tenants, lift):
    provider, _contract, _technician = lift
    orders = []
    for _n in range(2):
        request = take(cast.advisor, estate, tenants, unit=False)
        orders.append(services.send_order(cast.advisor, request.pk, services.OrderInput()))
    slot = future_slot(provider)
    barrier = threading.Barrier(2)
    results = []

    def book(order):
        try:
            barrier.wait()
            services.book(cast.advisor, order.pk, slot.pk)
            results.append("booked")
        except Conflict as exc:
            results.append(exc.code)
        except Exception as exc:
            results.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("booked") == 1, results
    assert Appointment.objects.filter(slot=slot, status="booked").count() == 1
    assert Request.objects.filter(status=Status.SCHEDULED).count() == 1


def test_slots_are_published_with_checks(estate, cast, lift):
    provider, _contract, technician = lift
    now = timezone.now()
    with pytest.raises(ValidationError):
        services.publish_slots(technician, [(now - timedelta(hours=3), now - timedelta(hours=1))])
    with pytest.raises(ValidationError):
        services.publish_slots(technician, [(now + timedelta(hours=3), now + timedelta(hours=2))])
    start = now + timedelta(days=1)
    services.publish_slots(technician, [(start, start + timedelta(hours=2))])
    with pytest.raises(ValidationError):  # overlaps
        services.publish_slots(
            technician, [(start + timedelta(hours=1), start + timedelta(hours=3))]
        )
    with pytest.raises(PermissionDenied):
        services.publish_slots(cast.advisor, [(start, start + timedelta(hours=2))])
    assert Slot.objects.filter(provider=provider).count() == 1


def test_reminders_go_the_day_before_once(estate, cast, tenants, lift):
    provider, _contract, _technician = lift
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    slot = future_slot(provider, days=1, hour=10)
    services.book(cast.advisor, order.pk, slot.pk)
    assert services.send_reminders(slot.starts_at - timedelta(hours=11)) == 0  # 23:00: not now
    assert services.send_reminders(slot.starts_at - timedelta(hours=48)) == 0  # not the day before
    evening_before = slot.starts_at - timedelta(hours=16)
    assert services.send_reminders(evening_before) == 1
    assert services.send_reminders(evening_before) == 0
    assert Message.objects.filter(body__startswith="Rappel").count() == 1


# --- incidents ------------------------------------------------------------------------------------


def test_three_reports_of_one_lift_become_one_incident_that_they_follow(
    estate, cast, tenants, lift
):
    provider, _contract, technician = lift
    equipment = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    first = take(cast.advisor, estate, tenants, equipment_id=equipment.pk)
    second = services.create_request(
        cast.agent_a,
        services.RequestInput(equipment_id=equipment.pk, category="lift", description="En panne"),
        "field",
    )
    third = services.create_request(
        None,
        services.RequestInput(
            equipment_id=equipment.pk,
            category="lift",
            description="Ascenseur bloqué",
            contact_phone="+33639980099",
        ),
        "qr",
        residences=[estate.tilleuls.pk],
    )
    _incidents, similar = services.grouping_candidates(first)
    assert {r.pk for r in similar} == {second.pk, third.pk}
    incident = services.group(cast.advisor, [first.pk, second.pk, third.pk])
    assert incident.equipment == equipment
    assert set(incident.requests.values_list("channel", flat=True)) == {"phone", "field", "qr"}
    subscription = public.subscribe(incident.pk, "06 39 98 00 77")
    order = services.send_order(cast.advisor, first.pk, services.OrderInput())
    services.accept_order(technician, order.pk)
    services.book(cast.advisor, order.pk, future_slot(provider).pk)
    assert set(Request.objects.values_list("status", flat=True)) == {Status.SCHEDULED}
    services.report(technician, order.pk, services.Milestone("on_site"))
    services.report(technician, order.pk, services.Milestone("done", comment="Réparé"))
    assert set(Request.objects.values_list("status", flat=True)) == {Status.DONE}
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    subscription.refresh_from_db()
    assert subscription.told_at and subscription.address == ""  # told, then forgotten
    assert Message.objects.filter(to="+33639980077", body__contains="Bonne nouvelle").exists()
    services.close(cast.advisor, first.pk)
    assert set(Request.objects.values_list("status", flat=True)) == {Status.CLOSED}
    # Every reporter heard of each step: the one with a tenant record, the QR contact.
    for request in (first, third):
        bodies = Message.objects.filter(campaign__object_id=str(request.pk)).values_list(
            "body", flat=True
        )
        assert any("autres locataires" in b for b in bodies), request.channel
        assert any("intervention" in b and "réalisée" in b for b in bodies), request.channel


# --- the tenant's link, satisfaction ---------------------------------------------------------------


def test_the_personal_link_shows_the_timeline_and_refuses_forged_or_expired(
    estate, cast, tenants, lift
):
    request = take(cast.advisor, estate, tenants)
    services.add_note(cast.advisor, request.pk, "Locataire agressif au téléphone")
    link = Link.objects.get(request=request)
    page = client_for(None).get(f"/suivi/{link.token}/")
    assert page.status_code == 200
    assert request.reference in page.content.decode()
    assert "agressif" not in page.content.decode()  # staff-only notes stay inside
    assert client_for(None).get(f"/suivi/{link.token[:-2]}xx/").status_code == 404
    Link.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = client_for(None).get(f"/suivi/{link.token}/")
    assert expired.status_code == 410 and "expiré" in expired.content.decode()
    with pytest.raises(ServiceError):
        services.request_from_link("nope")


def closed_request(estate, cast, tenants):
    request = take(cast.advisor, estate, tenants, category="neighbourhood")
    services.mark_done(cast.advisor, request.pk)
    services.close(cast.advisor, request.pk)
    return request


def sms_from(person, body, n=[0]):  # noqa: B006 - a counter for unique provider ids
    from messaging.services import handle_inbound

    n[0] += 1
    return handle_inbound(f"SM{n[0]:032d}", person.mobile, "+33939000001", body)


@pytest.mark.parametrize("body", ["6", "super", "0"])
def test_a_reply_that_is_not_a_score_gets_an_explanation(estate, cast, tenants, lift, body):
    request = closed_request(estate, cast, tenants)
    person = request.person
    sms_from(person, body)
    request.refresh_from_db()
    assert request.satisfaction is None
    reply = Message.objects.filter(to=person.mobile).order_by("pk").last()
    assert "de 1" in reply.body and "à 5" in reply.body
    assert request.events.filter(kind=Event.Kind.INBOUND, text__contains=body).exists()
    sms_from(person, " 4 ")
    request.refresh_from_db()
    assert request.satisfaction == 4


def test_an_sms_attaches_to_the_open_request_or_opens_one(estate, cast, tenants, lift):
    person = tilleuls_tenant(estate, tenants)
    first = sms_from(person, "Bonjour, j'ai une fuite sous l'évier depuis ce matin")
    request = Request.objects.get()
    assert request.channel == "sms" and request.person == person
    assert request.unit_id == person.household.leases.first().unit_id
    first.refresh_from_db()
    assert first.object_id == str(request.pk)
    sms_from(person, "Et ça coule de plus en plus")
    assert Request.objects.count() == 1
    assert request.events.filter(kind=Event.Kind.INBOUND, text__contains="coule").exists()


# --- on-call, digests -----------------------------------------------------------------------------


def test_an_urgent_request_at_night_goes_to_the_on_call_person_then_the_day_team(
    estate, cast, tenants, lift, settings
):
    settings.TICKETS_OFFICE_HOURS = "00:00-00:01"  # closed now, whatever the time
    on_call = make_user("astreinte", Role.MANAGER, estate.organisation, agencies=[estate.north])
    on_call.email = "astreinte@example.org"
    on_call.save()
    now = timezone.now()
    OnCallShift.objects.create(
        agency=estate.north,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=8),
        user=on_call,
    )
    request = take(cast.advisor, estate, tenants, category="leak")
    request.refresh_from_db()
    assert request.on_call
    assert Message.objects.filter(to="astreinte@example.org", subject__contains="urgente").exists()
    normal = take(cast.advisor, estate, tenants, category="pests")
    assert not Request.objects.get(pk=normal.pk).on_call
    assert oncall.hand_over() == 0  # still night
    settings.TICKETS_OFFICE_HOURS = "00:00-23:59"
    cast.advisor.email = "conseiller@example.org"
    cast.advisor.save()
    assert oncall.hand_over() == 1
    assert oncall.hand_over() == 0
    assert Message.objects.filter(to="conseiller@example.org", subject__contains="nuit").exists()


def test_overdue_requests_are_flagged_and_digested_once_a_day(estate, cast, tenants, lift):
    manager = make_user("manager_n", Role.MANAGER, estate.organisation, agencies=[estate.north])
    manager.email = "resp@example.org"
    manager.save()
    request = take(cast.advisor, estate, tenants)
    Request.objects.filter(pk=request.pk).update(resolve_due_at=timezone.now() - timedelta(hours=1))
    request.refresh_from_db()
    assert request.is_overdue
    page = client_for(cast.advisor).get("/demandes/?retard=1")
    assert request.reference in page.content.decode()
    assert oncall.overdue_digest() == 1
    assert oncall.overdue_digest() == 0
    mail = Message.objects.get(to="resp@example.org")
    assert request.reference in mail.body


# --- the hall's QR code ---------------------------------------------------------------------------


def test_the_qr_page_shows_nothing_personal_and_takes_reports(estate, cast, tenants, lift):
    entrance = m.Entrance.objects.get(residence=estate.tilleuls)
    take(cast.advisor, estate, tenants)  # in a unit: personal, never shown
    common = services.create_request(
        cast.agent_a,
        services.RequestInput(entrance_id=entrance.pk, category="door", description="Porte HS"),
        "field",
    )
    token = public.place_token(entrance)
    page = client_for(None).get(f"/signaler/{token}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Porte" in html and common.reference not in html
    assert "Nom1" not in html and "Prénom" not in html
    assert client_for(None).get(f"/signaler/{token}x/").status_code == 404
    response = client_for(None).post(
        f"/signaler/{token}/",
        {"action": "report", "category": "electricity", "description": "Lumière du hall éteinte"},
    )
    assert response.status_code == 302
    created = Request.objects.get(channel="qr")
    assert created.entrance == entrance and created.unit is None
    sheet = client_for(cast.advisor).get(f"/demandes/qr/{estate.tilleuls.pk}/")
    assert sheet.status_code == 200 and "<svg" in sheet.content.decode()
    assert client_for(cast.advisor).get(f"/demandes/qr/{estate.source.pk}/").status_code == 404
    assert Subscription.objects.count() == 0


def test_one_action_informs_the_whole_entrance_of_an_incident(estate, cast, tenants, lift):
    equipment = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    first = take(cast.advisor, estate, tenants, equipment_id=equipment.pk)
    second = take(cast.advisor, estate, tenants, equipment_id=equipment.pk)
    incident = services.group(cast.advisor, [first.pk, second.pk], title="Ascenseur en panne")
    campaign = services.inform_entrance(
        cast.advisor, incident.pk, "L'ascenseur est en panne, le technicien passe jeudi."
    )
    from messaging.services import prepare_campaign

    prepare_campaign(campaign.pk)
    living = m.Person.objects.filter(household__leases__unit__entrance=equipment.entrance)
    assert set(Message.objects.filter(campaign=campaign).values_list("person", flat=True)) == set(
        living.values_list("pk", flat=True)
    )
    for request in (first, second):
        assert request.events.filter(told__contains="technicien passe jeudi").exists()
    with pytest.raises(ValidationError):
        services.inform_entrance(cast.advisor, incident.pk, " ")


def test_cancelling_an_appointment_tells_both_sides_and_frees_the_slot(estate, cast, tenants, lift):
    provider, _contract, technician = lift
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    slot = future_slot(provider)
    appointment = services.book(cast.advisor, order.pk, slot.pk)
    services.cancel_appointment(technician, appointment.pk, "Pièce non livrée")
    request.refresh_from_db()
    assert request.status == Status.ACKNOWLEDGED
    assert Message.objects.filter(
        to="sav@ascenseurs-martin.example", subject__contains="Rendez-vous annulé"
    ).exists()
    assert Message.objects.filter(to=request.person.mobile, body__contains="est annulé").exists()
    assert slot in services.free_slots(provider.pk)
    from django.http import Http404

    with pytest.raises(Http404):  # no longer a booked appointment
        services.cancel_appointment(technician, appointment.pk)


def test_the_regie_workload_counts_orders_per_technician_and_day(estate, cast, tenants, lift):
    regie = m.Provider.objects.create(organisation=estate.organisation, name="Régie", kind="regie")
    worker = make_user("plombier", Role.CONTRACTOR, estate.organisation, provider=regie)
    worker.first_name, worker.last_name = "Paul", "Plombier"
    worker.save()
    request = take(cast.advisor, estate, tenants, category="leak")
    order = services.send_order(
        cast.advisor, request.pk, services.OrderInput(provider_id=regie.pk, technician_id=worker.pk)
    )
    other = take(cast.advisor, estate, tenants, category="pests")
    services.send_order(cast.advisor, other.pk, services.OrderInput(provider_id=regie.pk))
    services.book(cast.advisor, order.pk, future_slot(regie, days=1).pk)
    page = client_for(cast.advisor).get("/demandes/regie/")
    rows = page.context["table"]
    paul = next(r for r in rows if r["who"] == "Paul Plombier")
    assert paul["days"][1] == 1 and sum(paul["days"]) == 1 and paul["unscheduled"] == 0
    nobody = next(r for r in rows if r["who"] != "Paul Plombier")
    assert nobody["unscheduled"] == 1
    assert client_for(cast.agent_a).get("/demandes/regie/").status_code == 403


def test_without_anyone_on_call_the_managers_are_alerted(estate, cast, tenants, lift, settings):
    settings.TICKETS_OFFICE_HOURS = "00:00-00:01"
    manager = make_user("manager_n", Role.MANAGER, estate.organisation, agencies=[estate.north])
    manager.email = "resp@example.org"
    manager.save()
    request = take(cast.advisor, estate, tenants, category="leak")
    assert Message.objects.filter(to="resp@example.org", subject__contains="urgente").exists()
    assert request.events.filter(kind=Event.Kind.ON_CALL, text__contains="personne").exists()


def test_the_api_refuses_bad_moves_in_french(estate, cast, tenants, lift, token_client):
    provider, _contract, technician = lift
    request = take(cast.advisor, estate, tenants)
    api = token_client(cast.advisor)
    response = api.post(
        f"/api/tickets/requests/{request.pk}/transition",
        {"action": "close"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "clôturée" in response.json()["message"]
    created = api.post(
        "/api/tickets/requests",
        {"category": "leak", "description": "x", "unit_id": request.unit_id},
        content_type="application/json",
    )
    assert created.status_code == 422 and "description" in str(created.json())
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    contractor = token_client(technician)
    declined = contractor.post(
        f"/api/tickets/work-orders/{order.pk}/decline",
        {"reason": ""},
        content_type="application/json",
    )
    assert declined.status_code == 422
    declined = contractor.post(
        f"/api/tickets/work-orders/{order.pk}/decline",
        {"reason": "Hors de notre zone"},
        content_type="application/json",
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    # Declined: the advisor may send it to someone else.
    again = api.post(
        f"/api/tickets/requests/{request.pk}/work-orders",
        {"provider_id": provider.pk},
        content_type="application/json",
    )
    assert again.status_code == 201
    same_id = api.post(
        "/api/tickets/requests",
        {
            "id": str(request.pk),
            "category": "leak",
            "description": "fuite",
            "unit_id": request.unit_id,
        },
        content_type="application/json",
    )
    assert same_id.status_code == 200 and same_id.json()["reference"] == request.reference


def test_the_qr_page_is_throttled_and_subscribes_only_to_its_own_place(estate, cast, tenants, lift):
    tilleuls_lift = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    moulin_entrance = m.Entrance.objects.get(residence=estate.moulin)
    first = take(cast.advisor, estate, tenants, equipment_id=tilleuls_lift.pk)
    second = take(cast.advisor, estate, tenants, equipment_id=tilleuls_lift.pk)
    incident = services.group(cast.advisor, [first.pk, second.pk])
    client = client_for(None)
    elsewhere = public.place_token(moulin_entrance)
    client.post(
        f"/signaler/{elsewhere}/",
        {"action": "subscribe", "incident_id": str(incident.pk), "address": "0639980077"},
    )
    assert not Subscription.objects.exists()
    here = public.place_token(tilleuls_lift)
    client.post(
        f"/signaler/{here}/",
        {"action": "subscribe", "incident_id": str(incident.pk), "address": "0639980077"},
    )
    assert Subscription.objects.get().address == "+33639980077"
    for n in range(12):
        client.post(
            f"/signaler/{elsewhere}/",
            {"action": "report", "category": "door", "description": f"Porte {n}"},
        )
    assert (
        Request.objects.filter(channel="qr").count() == 9
    )  # 10 an hour, the subscription included
    page = client.post(
        f"/signaler/{elsewhere}/",
        {"action": "report", "category": "door", "description": "Encore"},
        follow=True,
    )
    assert "Trop de signalements" in page.content.decode()


def test_an_id_held_outside_the_scope_is_refused_not_revealed(estate, cast, tenants, lift):
    elsewhere = services.create_request(
        cast.outsider,
        services.RequestInput(
            residence_id=estate.elsewhere.pk, category="door", description="Porte cassée"
        ),
        "phone",
    )
    with pytest.raises(Conflict) as caught:
        take(cast.advisor, estate, tenants, request_id=elsewhere.pk) if False else (
            services.create_request(
                cast.advisor,
                services.RequestInput(
                    residence_id=estate.tilleuls.pk, category="leak", description="Fuite"
                ),
                "phone",
                request_id=elsewhere.pk,
            )
        )
    assert caught.value.code == "id_taken"
    assert Request.objects.get(pk=elsewhere.pk).residence == estate.elsewhere


def test_cancelling_a_duplicate_leaves_its_incident_alone(estate, cast, tenants, lift):
    equipment = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    first = take(cast.advisor, estate, tenants, equipment_id=equipment.pk)
    second = take(cast.advisor, estate, tenants, equipment_id=equipment.pk, unit=False)
    incident = services.group(cast.advisor, [first.pk, second.pk])
    assert "porte" not in incident.title.lower()  # never the unit: the hall reads it
    order = services.send_order(cast.advisor, first.pk, services.OrderInput())
    with pytest.raises(Conflict):  # it carries the order the other one follows
        services.cancel(cast.advisor, first.pk, "Doublon")
    services.cancel(cast.advisor, second.pk, "Doublon, déjà signalé")
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.status == Status.CANCELLED and second.incident is None
    assert first.status == Status.ACKNOWLEDGED and first.incident == incident
    order.refresh_from_db()
    assert order.status == WorkOrder.Status.SENT
    assert not Message.objects.filter(
        campaign__object_id=str(first.pk), body__contains="Doublon"
    ).exists()


def test_a_finished_order_gets_no_reminder_nor_move(estate, cast, tenants, lift):
    provider, _contract, technician = lift
    request = take(cast.advisor, estate, tenants)
    order = services.send_order(cast.advisor, request.pk, services.OrderInput())
    slot = future_slot(provider, days=1, hour=10)
    appointment = services.book(cast.advisor, order.pk, slot.pk)
    services.report(technician, order.pk, services.Milestone("done", comment="Réparé"))
    assert services.send_reminders(slot.starts_at - timedelta(hours=16)) == 0
    with pytest.raises(Conflict):
        services.move_appointment(cast.advisor, appointment.pk, future_slot(provider, days=3).pk)


def test_the_neighbours_links_do_not_show_the_lead_tenants_name(estate, cast, tenants, lift):
    provider, _contract, technician = lift
    equipment = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    first = take(cast.advisor, estate, tenants, equipment_id=equipment.pk)
    second = take(cast.advisor, estate, tenants, equipment_id=equipment.pk, unit=False)
    services.group(cast.advisor, [first.pk, second.pk])
    order = services.send_order(cast.advisor, first.pk, services.OrderInput())
    services.accept_order(technician, order.pk)
    services.book(cast.advisor, order.pk, future_slot(provider).pk)
    services.report(
        technician,
        order.pk,
        services.Milestone("done", comment="Carte changée chez M. Nom1", signatory_name="M. Nom1"),
    )
    texts = " ".join(second.events.values_list("text", flat=True))
    assert "Nom1" not in texts and "Intervention réalisée." in texts


def test_the_hall_takes_technical_reports_only(estate, cast, tenants, lift):
    entrance = m.Entrance.objects.get(residence=estate.tilleuls)
    token = public.place_token(entrance)
    page = client_for(None).post(
        f"/signaler/{token}/",
        {"action": "report", "category": "rent", "description": "Mon loyer est trop cher"},
        follow=True,
    )
    assert "Choisissez ce qui ne va pas" in page.content.decode()
    assert not Request.objects.exists()
