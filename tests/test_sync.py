"""The sync protocol, server side (docs/sync.md): snapshot and deltas with tombstones, a cursor
that never passes an open transaction, mutations applied once whatever happens to the network,
photos in resumable chunks, revoked phones."""

import io
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from backend.accounts.models import Role
from backend.estate import models as m
from backend.sync import feed
from backend.sync.models import Change, Device, Media, Mutation
from inspections import services
from inspections.models import Answer, Item, Photo, Rework, Visit
from tests.conftest import client_for, make_residence, make_user
from tests.test_inspections_flow import items_of
from tests.test_inspections_pages import finished_visit


@pytest.fixture
def agent_b(estate):
    return make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])


class Phone:
    """A phone: its own device id, its session, its cursor and what it holds."""

    def __init__(self, user):
        self.device = str(uuid.uuid4())
        self.client = client_for(user)
        self.user = user
        self.cursor = ""
        self.records: dict = {}
        self.residences: set = set()

    def get(self, url, **params):
        return self.client.get(url, params, HTTP_X_RONDE_DEVICE=self.device)

    def pull(self):
        pages = []
        while True:
            known = ",".join(str(r) for r in sorted(self.residences))
            response = self.get("/api/sync/pull", cursor=self.cursor, known=known)
            assert response.status_code == 200, response.content
            page = response.json()
            pages.append(page)
            if page["reset"]:
                self.records = {}
            for residence in page["dropped_residences"]:
                self.records = {k: v for k, v in self.records.items() if v["r"] != residence}
            for record in page["records"]:
                self.records[(record["t"], record["id"])] = record
            for gone in page["deleted"]:
                self.records.pop((gone["t"], gone["id"]), None)
            self.cursor = page["cursor"]
            if not page["more"]:
                self.residences = set(page["scope"])
                return pages

    def push(self, *mutations):
        response = self.client.post(
            "/api/sync/push",
            {"mutations": list(mutations)},
            content_type="application/json",
            HTTP_X_RONDE_DEVICE=self.device,
        )
        return response

    def kinds(self, kind):
        return {rid: r for (t, rid), r in self.records.items() if t == kind}


def mutation(kind, record, data=None, author=None, mutation_id=None):
    return {
        "id": str(mutation_id or uuid.uuid4()),
        "type": kind,
        "record": str(record),
        "author": author,
        "data": data or {},
    }


def test_the_first_pull_is_a_paged_snapshot_of_the_scope_only(estate, agent_b, monkeypatch):
    monkeypatch.setattr(feed, "PAGE", 3)
    phone = Phone(agent_b)
    pages = phone.pull()
    assert len(pages) > 2 and pages[0]["reset"] and not pages[1]["reset"]
    assert phone.cursor.startswith("d.")
    assert set(phone.kinds("residence")) == {str(estate.moulin.pk)}
    assert {r["d"]["code"] for r in phone.kinds("unit").values()} == set(
        m.Unit.objects.filter(residence=estate.moulin).values_list("code", flat=True)
    )
    assert phone.kinds("grid")  # the default grid, to inspect with
    ids = [(r["t"], r["id"]) for p in pages for r in p["records"]]
    assert len(ids) == len(set(ids))  # each record once across pages
    assert phone.residences == {estate.moulin.pk}


def test_message_templates_of_the_scope_reach_the_phone_and_follow_their_texts(estate, agent_b):
    from messaging.models import Template, TemplateVariant

    def template(key, **level):
        t = Template.objects.create(organisation=estate.organisation, key=key, name=key, **level)
        TemplateVariant.objects.create(template=t, language="fr", sms_body=f"Texte {key}")
        return t

    everyone = template("info")
    mine = template("moulin", residence=estate.moulin)
    other = template("tilleuls", residence=estate.tilleuls)
    south = template("sud", agency=estate.south)
    phone = Phone(agent_b)
    phone.pull()
    assert set(phone.kinds("template")) == {str(everyone.pk), str(mine.pk)}
    assert phone.kinds("template")[str(mine.pk)]["d"]["variants"][0]["sms"] == "Texte moulin"
    variant = mine.variants.get()
    variant.sms_body = "Nouveau texte"
    variant.save()  # a variant's change is its template's
    other.name = "renamed"
    other.save()
    south.is_active = True
    south.save()
    everyone.is_active = False
    everyone.save()
    phone.pull()
    assert set(phone.kinds("template")) == {str(mine.pk)}  # inactive gone, others never came
    assert phone.kinds("template")[str(mine.pk)]["d"]["variants"][0]["sms"] == "Nouveau texte"


def test_the_first_pull_costs_no_query_per_residence(estate, agent_b):
    def first_pull():
        phone = Phone(agent_b)
        with CaptureQueriesContext(connection) as captured:
            phone.pull()
        return len(phone.residences), len(captured.captured_queries)

    one = first_pull()
    for n in (4, 5):  # two more residences in the sector, cleaned under the same contract
        residence = make_residence(estate.north, f"R0{n}", f"Résidence {n}")
        estate.sector_north_2.residences.add(residence)
        m.ContractSite.objects.create(
            contract=estate.cleaning_contract, residence=residence, visit_days=[1]
        )
    three = first_pull()
    assert one[0] == 1 and three[0] == 3
    assert one[1] == three[1], (one, three)  # sites, grids, units: no query per residence


def test_record_types_join_only_what_they_declare(estate, agent_b):
    from backend.sync.records import TYPES

    for kind, record_type in TYPES.items():
        joins = record_type.queryset(agent_b).query.select_related
        # True would be select_related() without names: every foreign key, recursively (it made
        # the first pull of 3,000 units four times slower).
        assert joins is not True, kind
        assert bool(joins) == bool(record_type.related), kind


def test_deltas_bring_changes_and_tombstones(estate, agent_b):
    entrance = estate.moulin.entrances.get()
    unit = m.Unit.objects.create(entrance=entrance, code="CAVE-9", door="9")  # no lease
    phone = Phone(agent_b)
    phone.pull()
    assert str(unit.pk) in phone.kinds("unit")
    entrance.name = "Entrée B (rénovée)"
    entrance.save()
    unit.delete()
    m.Entrance.objects.filter(residence=estate.tilleuls).update(name="ignored")  # not in scope
    estate.tilleuls.entrances.get().save()
    phone.pull()
    assert phone.kinds("entrance")[str(entrance.pk)]["d"]["name"] == "Entrée B (rénovée)"
    assert str(unit.pk) not in phone.kinds("unit")
    assert not any(r["r"] == estate.tilleuls.pk for r in phone.records.values())


def test_a_rework_lifted_leaves_the_phone(estate, agent_b):
    phone = Phone(agent_b)
    phone.pull()  # before the visit: the rework must come as a delta (it is written in bulk)
    finished_visit(agent_b, estate, exceptions={0: "major"})
    phone.pull()
    rework = Rework.objects.get()
    assert phone.kinds("rework")[str(rework.pk)]["d"]["status"] == "requested"
    services.recheck(agent_b, rework.pk, lifted=True)
    phone.pull()
    assert str(rework.pk) not in phone.kinds("rework")


def test_a_visit_marked_missed_reaches_the_phone(estate, agent_b):
    estate.moulin.inspection_frequency = 7
    estate.moulin.save()
    visit = Visit.objects.create(
        organisation=estate.organisation,
        residence=estate.moulin,
        grid_version=services.grid_for(estate.moulin, estate.cleaning_contract),
        contract=estate.cleaning_contract,
        agent=agent_b,
        planned_for=timezone.localdate() - timedelta(days=7),
    )
    phone = Phone(agent_b)
    phone.pull()
    assert phone.kinds("visit")[str(visit.pk)]["d"]["status"] == "planned"
    assert services.mark_missed() == 1
    phone.pull()
    assert phone.kinds("visit")[str(visit.pk)]["d"]["status"] == "missed"


def test_a_residence_leaving_the_sector_arrives_as_tombstones(estate, agent_b):
    phone = Phone(agent_b)
    phone.pull()
    assert any(r["r"] == estate.moulin.pk for r in phone.records.values())
    estate.sector_north_2.residences.set([estate.tilleuls])  # the sector is redrawn
    pages = phone.pull()
    assert pages[-1]["dropped_residences"] == [estate.moulin.pk]
    assert not any(r["r"] == estate.moulin.pk for r in phone.records.values())
    assert set(phone.kinds("residence")) == {str(estate.tilleuls.pk)}
    assert phone.kinds("unit")  # the new residence comes whole


def delta_queries(phone):
    with CaptureQueriesContext(connection) as captured:
        phone.pull()
    return len(captured.captured_queries)


def test_a_delta_costs_the_same_whatever_the_history(estate, agent_b):
    phone = Phone(agent_b)
    phone.pull()
    entrance = estate.moulin.entrances.get()
    entrance.save()
    small = delta_queries(phone)
    Change.objects.bulk_create(
        [Change(kind="unit", record_id="0", residence_id=estate.moulin.pk) for _ in range(3000)]
    )
    phone_after = Phone(agent_b)
    phone_after.pull()  # a cursor after the long history
    entrance.save()
    assert delta_queries(phone_after) == small
    # The feed is read through its (txid, id) index.
    txid, change_id = (int(x) for x in phone.cursor.split(".")[1:])
    queryset = feed.changes_after(
        txid, change_id, feed.FAR, {estate.moulin.pk}, estate.organisation.pk
    )
    sql, params = queryset[:1000].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET enable_seqscan = on")
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row) for row in cursor.fetchall())
    assert "sync_change_cursor" in plan, plan
    # A seek to the cursor, not a walk through the whole history in index order.
    if connection.vendor == "postgresql":
        assert "Index Cond: ((ROW(txid, id) > ROW(" in plan, plan
    else:
        assert "(txid=? AND id>?)" in plan, plan


@pytest.mark.django_db(transaction=True)
def test_the_cursor_never_passes_a_change_still_being_written(estate, agent_b):
    phone = Phone(agent_b)
    phone.pull()
    slow_unit, fast_unit = estate.moulin.units.order_by("pk")[:2]
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    held = []

    def slow_writer():
        with transaction.atomic():
            slow_unit.door = "lent"
            slow_unit.save()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()::text::bigint")
                    held.append(cursor.fetchone()[0])
            written.set()
            # Held open until the pull is over (a loaded CI machine may be slow: the test
            # fails below if the writer ever gave up before being released).
            held.append(release.wait(120))
        connections.close_all()
        done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(10)
    try:
        if connection.vendor == "postgresql":
            # A later transaction commits first (PostgreSQL: ids and txids commit out of order).
            fast_unit.door = "vite"
            fast_unit.save()
        before = phone.cursor
        phone.pull()
        assert phone.kinds("unit")[str(slow_unit.pk)]["d"]["door"] != "lent"
        if connection.vendor == "postgresql":
            # Waits behind the open transaction: the cursor may pass older changes (a grid the
            # first pull made, say), never the slow writer's transaction.
            slow_txid = held[0]
            assert int(before.split(".")[1]) <= int(phone.cursor.split(".")[1]) < slow_txid
            assert phone.kinds("unit")[str(fast_unit.pk)]["d"]["door"] != "vite"
    finally:
        release.set()
        thread.join(30)
    assert done.is_set() and held[-1] is True
    phone.pull()  # nothing was passed over: both arrive
    assert phone.kinds("unit")[str(slow_unit.pk)]["d"]["door"] == "lent"
    if connection.vendor == "postgresql":
        assert phone.kinds("unit")[str(fast_unit.pk)]["d"]["door"] == "vite"


def start_and_answer(estate, agent, version_id=None):
    visit_id = uuid.uuid4()
    version_id = version_id or services.grid_for(estate.moulin, estate.cleaning_contract).pk
    answers = [
        {"id": str(uuid.uuid4()), "item": item.pk, "value": "compliant"}
        for item in Item.objects.filter(zone__version=version_id)
    ]
    return visit_id, [
        mutation("visit.start", visit_id, {"residence": estate.moulin.pk}, agent.pk),
        mutation("visit.answers", visit_id, {"answers": answers}, agent.pk),
        mutation("visit.finish", visit_id, {}, agent.pk),
    ]


def test_mutations_are_applied_once_and_replays_get_the_first_answer(estate, agent_b):
    phone = Phone(agent_b)
    _visit_id, batch = start_and_answer(estate, agent_b)
    first = phone.push(*batch).json()["answers"]
    assert [a["status"] for a in first] == ["applied"] * 3
    assert first[2]["record"]["d"]["status"] == "done"
    again = phone.push(*batch).json()["answers"]
    assert [a["status"] for a in again] == ["duplicate"] * 3
    assert again[2]["record"] == first[2]["record"]
    assert Visit.objects.count() == 1 and Mutation.objects.count() == 3
    # A replay an hour later is still a duplicate.
    Mutation.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert phone.push(batch[0]).json()["answers"][0]["status"] == "duplicate"


def test_refusals_are_french_kept_and_never_applied(estate, cast, agent_b):
    phone = Phone(agent_b)
    outside = mutation("visit.start", uuid.uuid4(), {"residence": estate.tilleuls.pk}, agent_b.pk)
    unknown = mutation("tractor.drive", uuid.uuid4(), {}, agent_b.pk)
    answers = phone.push(outside, unknown).json()["answers"]
    assert answers[0]["status"] == "rejected" and "hors de votre secteur" in answers[0]["reason"]
    assert answers[1]["status"] == "rejected" and "inconnu" in answers[1]["reason"]
    replay = phone.push(outside).json()["answers"][0]
    assert replay["status"] == "duplicate" and replay["first"] == "rejected"
    assert not Visit.objects.exists()
    # Another agent's change is not sent under this agent's name.
    someone = phone.push(
        mutation("visit.start", uuid.uuid4(), {"residence": estate.moulin.pk}, cast.agent_a.pk)
    )
    assert someone.json()["answers"][0]["status"] == "not_yours"
    assert not Visit.objects.exists() and Mutation.objects.count() == 2


def test_a_stale_recheck_is_a_conflict_with_the_current_version(estate, agent_b):
    finished_visit(agent_b, estate, exceptions={0: "major"})
    rework = Rework.objects.get()
    manager = make_user("manager_a", Role.MANAGER, estate.organisation, agencies=[estate.north])
    services.recheck(manager, rework.pk, lifted=True)  # on the office's screen, meanwhile
    answer = (
        Phone(agent_b)
        .push(mutation("rework.recheck", rework.pk, {"lifted": False}, agent_b.pk))
        .json()["answers"][0]
    )
    assert answer["status"] == "conflict" and "déjà été revérifiée" in answer["reason"]
    assert answer["current"]["d"]["status"] == "lifted"


def test_a_server_failure_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    estate, agent_b, settings
):
    phone = Phone(agent_b)
    phone.client.raise_request_exception = False
    _visit_id, batch = start_and_answer(estate, agent_b)
    settings.SYNC_FAULT_AFTER = 2
    assert phone.push(*batch).status_code == 500
    assert Mutation.objects.count() == 2  # the first two are in; the third was never tried
    del settings.SYNC_FAULT_AFTER
    answers = phone.push(*batch).json()["answers"]
    assert [a["status"] for a in answers] == ["duplicate", "duplicate", "applied"]
    assert Visit.objects.get().status == Visit.Status.DONE
    assert Answer.objects.count() == len(items_of(Visit.objects.get()))


@pytest.mark.django_db(transaction=True)
def test_a_twin_sent_at_the_same_moment_is_applied_once(estate, agent_b):
    _visit_id, batch = start_and_answer(estate, agent_b)
    results, barrier = [], threading.Barrier(2)

    def send():
        phone = Phone(agent_b)
        barrier.wait(5)
        results.append(phone.push(batch[0]).json()["answers"][0]["status"])
        connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == ["applied", "duplicate"]
    assert Visit.objects.count() == 1 and Mutation.objects.count() == 1


def jpeg_bytes(size=(900, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "JPEG", quality=90)
    return out.getvalue()


def put_chunk(phone, media_id, data, start, end, total, record, answer=""):
    return phone.client.put(
        f"/api/sync/media/{media_id}?kind=visit.photo&record={record}&answer={answer}",
        data[start : end + 1],
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes {start}-{end}/{total}",
        HTTP_X_RONDE_DEVICE=phone.device,
    )


def test_a_photo_in_chunks_survives_a_drop_and_waits_for_its_record(
    estate, agent_b, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    phone = Phone(agent_b)
    visit_id, batch = start_and_answer(estate, agent_b)
    answer_id = batch[1]["data"]["answers"][0]["id"]
    data, media_id = jpeg_bytes(), uuid.uuid4()
    total, third = len(data), len(data) // 3
    first = put_chunk(phone, media_id, data, 0, third - 1, total, visit_id, answer_id).json()
    assert first["received"] == third
    # The connection dropped: the phone asks where it stands and resumes; a stale chunk is ignored.
    assert phone.get(f"/api/sync/media/{media_id}").json()["received"] == third
    stale = put_chunk(phone, media_id, data, 0, third - 1, total, visit_id, answer_id).json()
    assert stale["received"] == third
    truncated = phone.client.put(
        f"/api/sync/media/{media_id}?kind=visit.photo&record={visit_id}&answer={answer_id}",
        data[third : third + 10],
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes {third}-{2 * third - 1}/{total}",
        HTTP_X_RONDE_DEVICE=phone.device,
    )
    assert truncated.status_code == 400 and "incomplet" in truncated.json()["message"]
    done = put_chunk(phone, media_id, data, third, total - 1, total, visit_id, answer_id).json()
    assert done["received"] == total and done["attached"] is False  # its visit is not here yet
    assert not Photo.objects.exists()
    answers = phone.push(*batch).json()["answers"]
    assert [a["status"] for a in answers] == ["applied"] * 3
    photo = Photo.objects.get()
    assert photo.pk == media_id and str(photo.answer_id) == answer_id
    assert phone.get(f"/api/sync/media/{media_id}").json()["attached"] is True
    again = put_chunk(phone, media_id, data, 0, total - 1, total, visit_id, answer_id).json()
    assert again["attached"] and Photo.objects.count() == 1  # a replay of the whole photo


def test_a_photo_that_is_not_one_is_refused_and_kept_with_its_reason(
    estate, agent_b, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    phone = Phone(agent_b)
    visit_id, batch = start_and_answer(estate, agent_b)
    phone.push(*batch[:2])
    garbage = b"\xff\xd8\xff not really a jpeg" * 10
    media_id = uuid.uuid4()
    refused = put_chunk(phone, media_id, garbage, 0, len(garbage) - 1, len(garbage), visit_id)
    assert refused.status_code == 422 and "n’est pas une image" in refused.json()["message"]
    assert "n’est pas une image" in Media.objects.get(pk=media_id).error
    other = make_user("agent_c", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])
    assert Phone(other).get(f"/api/sync/media/{media_id}").status_code == 404
    settings.PHOTO_MAX_BYTES = 1000
    big = put_chunk(phone, uuid.uuid4(), jpeg_bytes(), 0, 99, 5000, visit_id)
    assert big.status_code == 422


def test_a_garbled_list_of_residences_is_refused_in_french(estate, agent_b):
    phone = Phone(agent_b)
    phone.pull()
    response = phone.get("/api/sync/pull", cursor=phone.cursor, known="12,douze")
    assert response.status_code == 400 and response.json()["code"] == "bad_known"
    assert response.json()["message"] == "La liste des résidences du téléphone n’est pas comprise."


def test_a_revoked_phone_is_told_to_wipe_itself(estate, agent_b):
    phone = Phone(agent_b)
    phone.pull()
    device = Device.objects.get(pk=phone.device)
    assert device.user == agent_b and device.last_seen_at is not None
    Device.objects.filter(pk=phone.device).update(revoked_at=timezone.now())
    response = phone.get("/api/sync/pull", cursor=phone.cursor)
    assert response.status_code == 410 and response.json()["code"] == "device_revoked"
    assert Device.objects.get(pk=phone.device).wiped_at is not None
    assert phone.push(mutation("visit.start", uuid.uuid4(), {}, agent_b.pk)).status_code == 410
    assert client_for(agent_b).get("/api/sync/pull").status_code == 400  # no device named


def test_the_app_logs_in_again_with_a_fresh_csrf_token(estate, agent_b):
    from django.test import Client

    from tests.conftest import PASSWORD

    browser = Client(enforce_csrf_checks=True)
    session = browser.get("/api/sync/session").json()
    assert session["authenticated"] is False and session["token"]
    no_token = browser.post(
        "/api/sync/login",
        {"username": "agent_b", "password": PASSWORD},
        content_type="application/json",
    )
    assert no_token.status_code == 403
    wrong = browser.post(
        "/api/sync/login",
        {"username": "agent_b", "password": "faux"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=session["token"],
    )
    assert wrong.status_code == 401 and "incorrect" in wrong.json()["message"]
    right = browser.post(
        "/api/sync/login",
        {"username": "agent_b", "password": PASSWORD},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=session["token"],
    )
    assert right.status_code == 200 and right.json()["user_id"] == agent_b.pk
    fresh = browser.get("/api/sync/session").json()
    assert fresh["authenticated"] and fresh["token"] != session["token"]  # rotated at login
    stale = browser.post(
        "/api/sync/push",
        {"mutations": []},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=session["token"],
        HTTP_X_RONDE_DEVICE=str(uuid.uuid4()),
    )
    assert stale.status_code == 403  # the app fetches a fresh token and retries, never drops
    ok = browser.post(
        "/api/sync/push",
        {"mutations": []},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=fresh["token"],
        HTTP_X_RONDE_DEVICE=str(uuid.uuid4()),
    )
    assert ok.status_code == 200 and ok.json() == {"answers": []}


def test_a_building_moved_to_another_residence_moves_on_the_phones(estate, cast, agent_b):
    mine, theirs = Phone(agent_b), Phone(cast.agent_a)
    mine.pull()
    theirs.pull()
    building = estate.tilleuls.buildings.get()
    entrance = building.entrances.get()
    building.residence, building.code = estate.moulin, "B-EX-TILLEULS"  # merged by the ERP
    building.save()
    mine.pull()
    theirs.pull()
    assert str(entrance.pk) in mine.kinds("entrance")
    assert str(entrance.pk) not in theirs.kinds("entrance")
    assert not theirs.kinds("unit")  # Les Tilleuls has no unit left
