"""Technical requests on the agents' phones (tickets/sync.py, docs/sync.md): the sector's
requests pulled, a request reported in the field applied once, refused in French when wrong,
its photos attached whichever arrives first, a first pull whose cost does not grow with the
number of requests."""

import io
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from PIL import Image

from backend.accounts.models import Role
from backend.estate import models as m
from backend.sync.models import Mutation
from messaging.models import Message
from tests.conftest import make_user
from tests.test_sync import Phone, mutation
from tickets import services
from tickets.models import Appointment, Photo, Request, Slot, Status, WorkOrder


@pytest.fixture
def agent_b(estate, messaging_settings, settings, tmp_path):
    settings.TICKETS_OFFICE_HOURS = "00:00-23:59"  # nothing goes to the on-call service
    settings.MEDIA_ROOT = tmp_path / "media"
    return make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])


def take(user, residence, category="leak", **place):
    if not place:
        place = {"unit_id": residence.units.order_by("pk").first().pk}
    return services.create_request(
        user,
        services.RequestInput(category=category, description="Fuite sous l’évier", **place),
        "phone",
    )


def close_request(user, request):
    services.mark_done(user, request.pk)
    services.close(user, request.pk)


def book(request, when):
    """An appointment with a contractor for the request (written as the booking screen does)."""
    provider = m.Provider.objects.get_or_create(
        organisation=request.organisation, name="Plomberie Durand", kind="maintenance"
    )[0]
    order = WorkOrder.objects.create(
        number=f"BT-{uuid.uuid4().hex[:8]}",
        organisation_id=request.organisation_id,
        request=request,
        residence=request.residence,
        provider=provider,
    )
    slot = Slot.objects.create(provider=provider, starts_at=when, ends_at=when + timedelta(hours=2))
    return Appointment.objects.create(work_order=order, slot=slot)


def test_the_sector_requests_reach_its_phones_only(estate, cast, agent_b):
    advisor = cast.advisor
    open_one = take(advisor, estate.moulin)
    lift = estate.moulin.equipment.get()
    on_lift = take(advisor, estate.moulin, "lift", equipment_id=lift.pk)
    closed_recently = take(advisor, estate.moulin, "heating")
    close_request(advisor, closed_recently)
    closed_long_ago = take(advisor, estate.moulin, "intercom")
    close_request(advisor, closed_long_ago)
    Request.objects.filter(pk=closed_long_ago.pk).update(
        closed_at=timezone.now() - timedelta(days=8)
    )
    elsewhere = take(advisor, estate.tilleuls)
    take(advisor, estate.moulin, "rent", residence_id=estate.moulin.pk)  # a complaint: the office's
    mine, theirs = Phone(agent_b), Phone(cast.agent_a)
    mine.pull()
    theirs.pull()
    assert set(mine.kinds("request")) == {
        str(open_one.pk),
        str(on_lift.pk),
        str(closed_recently.pk),
    }
    assert set(theirs.kinds("request")) == {str(elsewhere.pk)}
    # Another sector's agent sees none of Le Moulin's.
    assert not any(r["r"] == estate.moulin.pk for r in theirs.records.values())
    record = mine.kinds("request")[str(open_one.pk)]["d"]
    unit = open_one.unit
    assert record["reference"] == open_one.reference and record["status"] == "new"
    assert (record["residence"], record["entrance"], record["unit"]) == (
        estate.moulin.pk,
        unit.entrance_id,
        unit.pk,
    )
    assert record["category"] == "leak" and record["urgency"] == "urgent"
    assert record["description"] == "Fuite sous l’évier"
    assert record["place"] == str(unit) and "porte 1" in record["place"]  # in French
    assert record["appointment"] is None
    assert mine.kinds("request")[str(on_lift.pk)]["d"]["place"] == str(lift)
    assert mine.kinds("request")[str(closed_recently.pk)]["d"]["status"] == "closed"
    # The equipment of the sector comes too, for the location picker.
    assert set(mine.kinds("equipment")) == {str(lift.pk)}
    assert mine.kinds("equipment")[str(lift.pk)]["d"]["entrance"] == lift.entrance_id
    # Deltas: an appointment booked, a request cancelled.
    when = timezone.now().replace(microsecond=0) + timedelta(days=2)
    book(open_one, when)
    services.cancel(advisor, on_lift.pk, "Doublon")
    mine.pull()
    assert mine.kinds("request")[str(open_one.pk)]["d"]["appointment"] == when.isoformat()
    assert mine.kinds("request")[str(on_lift.pk)]["d"]["status"] == "cancelled"
    assert set(theirs.kinds("request")) == {str(elsewhere.pk)}


def field_request(estate, agent, request_id=None, **data):
    unit = estate.moulin.units.order_by("pk").first()
    payload = {
        "residence": estate.moulin.pk,
        "building": unit.entrance.building_id,
        "entrance": unit.entrance_id,
        "unit": unit.pk,
        "category": "leak",
        "urgency": "",
        "description": "Fuite au plafond de la salle de bains",
        "contact_name": "Mme Diallo",
        "contact_phone": "06 39 98 00 42",
        **data,
    }
    return mutation("request.create", request_id or uuid.uuid4(), payload, agent.pk)


def test_a_request_reported_in_the_field_is_applied_once(estate, agent_b):
    phone = Phone(agent_b)
    create = field_request(estate, agent_b)
    answer = phone.push(create).json()["answers"][0]
    assert answer["status"] == "applied", answer
    request = Request.objects.get()
    assert str(request.pk) == create["record"]  # the phone's id
    assert answer["record"]["d"]["reference"] == request.reference
    assert request.channel == "field" and request.created_by == agent_b
    assert request.urgency == "urgent"  # the category's default
    assert request.unit == estate.moulin.units.order_by("pk").first()
    assert request.contact_phone == "+33639980042"
    told = Message.objects.get()
    assert told.to == "+33639980042" and request.reference in told.body
    # A replay (the answer was lost) is a duplicate, with the first answer.
    again = phone.push(create).json()["answers"][0]
    assert again["status"] == "duplicate" and again["first"] == "applied"
    assert again["record"] == answer["record"]
    # The same request queued again under another mutation id: still one request.
    twin = field_request(estate, agent_b, request_id=create["record"])
    assert phone.push(twin).json()["answers"][0]["status"] == "applied"
    assert Request.objects.count() == 1 and Message.objects.count() == 1
    phone.pull()
    assert phone.kinds("request")[str(request.pk)]["d"]["status"] == "new"


def test_a_tenant_named_on_the_phone_is_told(estate, agent_b, tenants):
    unit = estate.moulin.units.order_by("pk").first()
    person = m.Person.objects.get(household__leases__unit=unit)
    create = field_request(estate, agent_b, person=person.pk, contact_name="", contact_phone="")
    assert Phone(agent_b).push(create).json()["answers"][0]["status"] == "applied"
    request = Request.objects.get()
    assert request.person == person
    assert Message.objects.get().to == person.mobile


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"category": "", "description": ""}, "Choisissez une catégorie."),
        ({"description": "x"}, "Décrivez le problème en quelques mots."),
        ({"unit": "douze"}, "Ce lieu est inconnu ou hors de votre secteur."),
        ({"contact_phone": "pas un numéro"}, "n’est pas un numéro de téléphone"),
        ({"person": 999999}, "Ce locataire est inconnu ou hors de votre secteur."),
    ],
)
def test_a_bad_request_is_refused_in_french(estate, agent_b, data, reason):
    phone = Phone(agent_b)
    answer = phone.push(field_request(estate, agent_b, **data)).json()["answers"][0]
    assert answer["status"] == "rejected" and reason in answer["reason"], answer
    assert not Request.objects.exists() and not Message.objects.exists()
    assert Mutation.objects.get().status == Mutation.Status.REJECTED


def test_a_request_outside_the_sector_or_with_a_bad_id_is_refused(estate, agent_b):
    phone = Phone(agent_b)
    tilleuls_unit = estate.tilleuls.units.order_by("pk").first()
    outside = field_request(
        estate,
        agent_b,
        residence=estate.tilleuls.pk,
        building=None,
        entrance=None,
        unit=tilleuls_unit.pk,
    )
    bad_id = field_request(estate, agent_b)
    bad_id["record"] = "pas-un-uuid"
    answers = phone.push(outside, bad_id).json()["answers"]
    assert answers[0]["status"] == "rejected"
    assert "hors de votre secteur" in answers[0]["reason"]
    assert answers[1] == {
        "id": bad_id["id"],
        "status": "rejected",
        "reason": "Cet identifiant n’est pas valide.",
    }
    assert not Request.objects.exists()
    contractor = make_user(
        "contractor", Role.CONTRACTOR, estate.organisation, provider=estate.cleaner
    )
    refused = Phone(contractor).push(field_request(estate, contractor)).json()["answers"][0]
    assert refused["status"] == "rejected" and "rôle" in refused["reason"]


def jpeg_bytes(size=(3000, 2000), colour="teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(phone, media_id, record, data, chunk=64 * 1024):
    """A photo in chunks, as the phone sends it; the last answer."""
    total = len(data)
    for start in range(0, total, chunk):
        end = min(start + chunk, total) - 1
        response = phone.client.put(
            f"/api/sync/media/{media_id}?kind=request.photo&record={record}",
            data[start : end + 1],
            content_type="application/octet-stream",
            HTTP_CONTENT_RANGE=f"bytes {start}-{end}/{total}",
            HTTP_X_RONDE_DEVICE=phone.device,
        )
        assert response.status_code == 200, response.content
    return response.json()


def test_photos_before_and_after_their_request_end_attached(estate, agent_b):
    phone = Phone(agent_b)
    create = field_request(estate, agent_b)
    early, late = uuid.uuid4(), uuid.uuid4()
    state = upload(phone, early, create["record"], jpeg_bytes(colour="red"))
    assert state["received"] == state["total"] and state["attached"] is False
    assert not Photo.objects.exists()  # its request has not arrived: it waits
    assert phone.push(create).json()["answers"][0]["status"] == "applied"
    assert phone.get(f"/api/sync/media/{early}").json()["attached"] is True
    state = upload(phone, late, create["record"], jpeg_bytes(colour="navy"))
    assert state["attached"] is True
    request = Request.objects.get()
    photos = {p.pk: p for p in Photo.objects.all()}
    assert set(photos) == {early, late}
    for photo in photos.values():
        assert photo.request == request and photo.uploaded_by == agent_b
        with photo.image.open("rb") as handle:
            assert max(Image.open(io.BytesIO(handle.read())).size) <= 1600
    # A replay of a whole photo changes nothing.
    assert upload(phone, late, create["record"], jpeg_bytes(colour="navy"))["attached"]
    assert Photo.objects.count() == 2


def test_a_photo_of_a_request_outside_the_sector_never_attaches(estate, cast, agent_b):
    theirs = take(cast.advisor, estate.tilleuls)
    phone = Phone(agent_b)
    state = upload(phone, uuid.uuid4(), theirs.pk, jpeg_bytes())
    assert state["attached"] is False and not Photo.objects.exists()


def test_the_first_pull_costs_no_query_per_request(estate, cast, agent_b):
    def first_pull():
        phone = Phone(agent_b)
        with CaptureQueriesContext(connection) as captured:
            phone.pull()
        return len(phone.kinds("request")), len(captured.captured_queries)

    take(cast.advisor, estate.moulin)
    one = first_pull()
    lift = estate.moulin.equipment.get()
    entrance = estate.moulin.entrances.get()
    take(cast.advisor, estate.moulin, "lift", equipment_id=lift.pk)
    take(cast.advisor, estate.moulin, "door", entrance_id=entrance.pk)
    take(cast.advisor, estate.moulin, "pests", residence_id=estate.moulin.pk)
    booked = take(cast.advisor, estate.moulin, "heating")
    book(booked, timezone.now() + timedelta(days=1))
    other = m.Residence.objects.create(
        agency=estate.north, code="R09", name="Les Acacias", address="9 rue", city="Tours"
    )
    building = m.Building.objects.create(residence=other, code="B1", name="Bâtiment C")
    m.Entrance.objects.create(building=building, code="E1", name="Entrée 3")
    estate.sector_north_2.residences.add(other)
    m.ContractSite.objects.create(contract=estate.cleaning_contract, residence=other)
    take(cast.admin, other, "electricity", residence_id=other.pk)
    five = first_pull()
    assert one[0] == 1 and five[0] == 6
    assert one[1] == five[1], (one, five)


def test_a_request_closed_over_a_week_ago_leaves_the_phone(estate, cast, agent_b):
    request = take(cast.advisor, estate.moulin)
    phone = Phone(agent_b)
    phone.pull()
    assert str(request.pk) in phone.kinds("request")
    services.mark_done(cast.advisor, request.pk)
    services.close(cast.advisor, request.pk)
    phone.pull()
    assert phone.kinds("request")[str(request.pk)]["d"]["status"] == "closed"
    assert phone.kinds("request")[str(request.pk)]["d"]["closed_at"]
    Request.objects.filter(pk=request.pk).update(closed_at=timezone.now() - timedelta(days=8))
    Request.objects.get(pk=request.pk).save(update_fields=["updated_at"])  # any later change
    phone.pull()
    assert str(request.pk) not in phone.kinds("request")
    assert Request.objects.get(pk=request.pk).status == Status.CLOSED


def test_the_app_offers_the_technical_categories_with_their_default_urgency():
    import re
    from pathlib import Path

    from tickets.models import CATEGORY_RULES, TECHNICAL_CATEGORIES, Category

    source = (Path(__file__).parent.parent / "pwa/static/terrain/app.js").read_text()
    block = source.split("const CATEGORIES = [", 1)[1].split("];", 1)[0]
    offered = re.findall(r'\["(\w+)", "([^"]+)", "(\w+)"\]', block)
    assert [value for value, _label, _urgency in offered] == [str(c) for c in TECHNICAL_CATEGORIES]
    with translation.override("fr"):
        for value, label, urgency in offered:
            assert label == str(Category(value).label)
            assert urgency == CATEGORY_RULES[value].urgency
