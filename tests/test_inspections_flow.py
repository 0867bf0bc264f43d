"""A visit from start to report, rework to penalty, with the offline app's ids."""

import io
import uuid
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from backend.accounts.models import Role
from backend.core.errors import Conflict, ServiceError
from backend.core.images import ImageRefused
from inspections import services
from inspections.models import Answer, ControlAlert, Item, Penalty, Photo, Rework, Visit
from messaging.models import Message
from tests.conftest import make_user


@pytest.fixture
def agent_b(estate):
    """The agent of sector North 2 (Le Moulin, where "Propre & Net" cleans)."""
    return make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])


@pytest.fixture
def manager(estate):
    return make_user("manager_a", Role.MANAGER, estate.organisation, agencies=[estate.north])


def jpeg(width=800, height=600, gps=False, orientation=None, color="red") -> bytes:
    image = Image.new("RGB", (width, height), color)
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {2: (48.0, 51.0, 24.0), 4: (2.0, 21.0, 3.0)}  # GPSInfo: latitude, longitude
        exif[0x010F] = "PhoneMaker"
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def items_of(visit):
    return list(
        Item.objects.filter(zone__version=visit.grid_version).order_by("zone__order", "order")
    )


def answer_all(user, visit, value="compliant", exceptions=None):
    exceptions = exceptions or {}
    answers = [
        services.AnswerInput(id=uuid.uuid4(), item_id=item.pk, value=exceptions.get(n, value))
        for n, item in enumerate(items_of(visit))
    ]
    services.record_answers(user, visit.pk, answers)
    return answers


def test_a_visit_starts_once_with_the_phones_id(estate, cast, agent_b):
    visit_id = uuid.uuid4()
    first = services.start_visit(agent_b, visit_id, residence_id=estate.moulin.pk)
    again = services.start_visit(agent_b, visit_id, residence_id=estate.moulin.pk)
    assert first.pk == again.pk == visit_id and Visit.objects.count() == 1
    assert first.contract == estate.cleaning_contract
    assert first.grid_version.grid.name == "Ménage des parties communes"


def test_a_visit_outside_the_sector_is_refused(estate, cast, agent_b):
    with pytest.raises(Http404):
        services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.tilleuls.pk)
    with pytest.raises(PermissionDenied):
        services.start_visit(cast.contractor, uuid.uuid4(), residence_id=estate.moulin.pk)
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    with pytest.raises(Http404):  # someone else's visit id: not revealed, not reused
        services.start_visit(cast.agent_a, visit.pk, residence_id=estate.tilleuls.pk)


def test_answers_are_saved_once_and_in_a_fixed_number_of_queries(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    items = items_of(visit)
    few = [services.AnswerInput(uuid.uuid4(), items[0].pk, "compliant")]
    many = [services.AnswerInput(uuid.uuid4(), item.pk, "minor", "poussière") for item in items[1:]]
    with CaptureQueriesContext(connection) as small:
        services.record_answers(agent_b, visit.pk, few)
    with CaptureQueriesContext(connection) as large:
        services.record_answers(agent_b, visit.pk, many)
    assert len(large.captured_queries) == len(small.captured_queries)
    services.record_answers(agent_b, visit.pk, many)  # the phone sends it again
    assert Answer.objects.filter(visit=visit).count() == len(items)
    assert set(
        Answer.objects.filter(visit=visit).exclude(item=items[0]).values_list("cause", flat=True)
    ) == {"service"}


def test_an_answer_to_another_grids_item_is_refused_and_nothing_is_saved(estate, agent_b):
    from inspections import grids
    from inspections.models import Grid

    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    other = grids.publish(
        Grid.objects.create(name="Autre", category="lift"), "# Cabine\nPropre | 1\n"
    )
    foreign = Item.objects.get(zone__version=other)
    good = items_of(visit)[0]
    with pytest.raises(ValidationError) as info:
        services.record_answers(
            agent_b,
            visit.pk,
            [
                services.AnswerInput(uuid.uuid4(), good.pk, "compliant"),
                services.AnswerInput(uuid.uuid4(), foreign.pk, "compliant"),
            ],
        )
    assert "n’est pas dans la grille" in str(info.value)
    assert not Answer.objects.exists()


def test_photos_lose_their_gps_and_stay_upright(estate, agent_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    photo_id = uuid.uuid4()
    photo = services.add_photo(
        agent_b, photo_id, jpeg(4000, 3000, gps=True, orientation=6), visit_id=visit.pk
    )
    with photo.image.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert not stored.getexif() and "exif" not in stored.info
    assert stored.size == (1200, 1600)  # turned upright (orientation 6), then resized
    assert services.add_photo(agent_b, photo_id, jpeg(), visit_id=visit.pk) == photo  # a retry
    assert Photo.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a not really a picture", "n’est pas une image"),
        (b"\xff\xd8\xff\xe0 truncated jpeg", "n’est pas une image"),
    ],
)
def test_files_that_are_not_images_are_refused(estate, agent_b, data, message):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    with pytest.raises(ImageRefused) as info:
        services.add_photo(agent_b, uuid.uuid4(), data, visit_id=visit.pk)
    assert message in info.value.message
    assert not Photo.objects.exists()


def test_a_100_megapixel_image_is_refused_before_it_is_decoded(estate, agent_b, monkeypatch):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    bomb = io.BytesIO()
    Image.new("1", (10000, 10000)).save(bomb, "PNG")  # a small file that decodes to 100 MP
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or real_load(self))
    with pytest.raises(ImageRefused) as info:
        services.add_photo(agent_b, uuid.uuid4(), bomb.getvalue(), visit_id=visit.pk)
    assert "pixels" in info.value.message
    assert not decoded  # only the header was read


def test_a_finished_visit_is_scored_and_its_major_failures_become_rework(
    estate, cast, agent_b, django_capture_on_commit_callbacks
):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    with pytest.raises(ServiceError) as info:
        services.finish_visit(agent_b, visit.pk)
    assert info.value.code == "unanswered_items"
    answer_all(agent_b, visit, exceptions={0: "major", 1: "minor", 5: "na"})
    with django_capture_on_commit_callbacks(execute=True):
        visit = services.finish_visit(agent_b, visit.pk)
    assert visit.status == Visit.Status.DONE and visit.score is not None and visit.passed is True
    rework = Rework.objects.get()
    assert rework.provider == estate.cleaner and rework.status == Rework.Status.REQUESTED
    assert rework.deadline - rework.requested_at == timedelta(hours=48)
    assert Message.objects.filter(campaign__object_id=str(visit.pk)).exists()
    assert services.finish_visit(agent_b, visit.pk) == visit  # a retry from the phone
    with pytest.raises(Conflict):
        services.record_answers(agent_b, visit.pk, [])


def test_a_failed_critical_item_fails_the_visit(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    critical = next(n for n, item in enumerate(items_of(visit)) if item.critical)
    answer_all(agent_b, visit, exceptions={critical: "minor"})
    visit = services.finish_visit(agent_b, visit.pk)
    assert visit.score > 95 and visit.critical_failed and visit.passed is False


def test_damage_after_the_service_feeds_no_rework(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    item = items_of(visit)[0]
    answer_all(agent_b, visit)
    services.record_answers(
        agent_b, visit.pk, [services.AnswerInput(uuid.uuid4(), item.pk, "major", "tags", "damage")]
    )
    services.finish_visit(agent_b, visit.pk)
    assert not Rework.objects.exists()
    answer = Answer.objects.get(visit=visit, item=item)
    with pytest.raises(ServiceError) as info:
        services.request_rework(agent_b, answer.pk)
    assert info.value.code == "damage_not_reworked"


def failed_rework(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit, exceptions={0: "major"})
    services.finish_visit(agent_b, visit.pk)
    return Rework.objects.get()


def test_the_provider_answers_through_its_link_and_a_failed_recheck_proposes_a_penalty(
    estate, cast, agent_b, manager, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    rework = failed_rework(estate, agent_b)
    token = services.rework_link(rework).rsplit("/", 2)[-2]
    assert services.rework_from_link(token) == rework
    from django.contrib.auth.models import AnonymousUser

    services.mark_rework_done(AnonymousUser(), rework, "Repassé ce matin", photo=jpeg(color="blue"))
    rework.refresh_from_db()
    assert rework.status == Rework.Status.DONE and rework.photos.count() == 1
    with pytest.raises(Conflict):
        services.mark_rework_done(AnonymousUser(), rework, "encore")
    rework = services.recheck(agent_b, rework.pk, lifted=False, comment="Toujours sale")
    penalty = Penalty.objects.get()
    contract = estate.cleaning_contract
    assert penalty.reason == Penalty.Reason.NOT_LIFTED  # re-checked before the deadline: one day
    assert penalty.days_late == 1 and penalty.amount == contract.penalty_per_day
    assert penalty.status == Penalty.Status.PROPOSED
    assert penalty.contest_until - penalty.proposed_at >= timedelta(
        days=contract.contest_days
    ) - timedelta(seconds=1)
    with pytest.raises(Conflict):  # still open to contest
        services.decide_penalty(manager, penalty.pk, confirm=True, reason="Non levée")
    services.contest_penalty(cast.contractor, penalty.pk, "L'agent est passé avant notre équipe.")
    with pytest.raises(Conflict):
        services.contest_penalty(cast.contractor, penalty.pk, "encore")
    penalty = services.decide_penalty(
        manager, penalty.pk, confirm=True, reason="Constat photo probant"
    )
    assert penalty.status == Penalty.Status.CONFIRMED and penalty.decided_by == manager
    csv = services.export_penalties(manager, estate.cleaner.pk, timezone.localdate())
    assert (
        "Le Moulin" in csv and str(penalty.amount).replace(".", ",") in csv and "/fichiers/" in csv
    )


def test_a_late_rework_proposes_a_penalty_by_the_contracts_rule(estate, agent_b):
    contract = estate.cleaning_contract
    contract.penalty_per_day, contract.penalty_grace_days, contract.penalty_cap = 50, 1, 120
    contract.save()
    rework = failed_rework(estate, agent_b)
    Rework.objects.filter(pk=rework.pk).update(deadline=timezone.now() - timedelta(days=4))
    rework.refresh_from_db()
    from django.contrib.auth.models import AnonymousUser

    services.mark_rework_done(AnonymousUser(), rework, "Fait")
    services.recheck(agent_b, rework.pk, lifted=True)
    penalty = Penalty.objects.get()
    assert penalty.reason == Penalty.Reason.LATE
    assert (
        penalty.days_late == 3 and penalty.amount == 120
    )  # 4 days late, 1 of grace, capped at 120


def test_a_recheck_by_someone_elses_provider_or_out_of_scope_is_refused(estate, cast, agent_b):
    rework = failed_rework(estate, agent_b)
    with pytest.raises(PermissionDenied):
        services.recheck(cast.contractor, rework.pk, lifted=True)
    with pytest.raises(Http404):
        services.recheck(cast.agent_a, rework.pk, lifted=True)
    other = make_user(
        "other_contractor", Role.CONTRACTOR, estate.organisation, provider=estate.other_cleaner
    )
    with pytest.raises(PermissionDenied):
        services.mark_rework_done(other, rework, "pas le nôtre")
    with pytest.raises(Http404):
        services.contest_penalty(other, 999, "x")


def test_a_joint_inspection_needs_a_signature_and_produces_a_signed_report(
    estate, agent_b, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk, joint=True)
    answer_all(agent_b, visit, exceptions={0: "major"})
    first_answer = Answer.objects.get(visit=visit, item=items_of(visit)[0])
    services.add_photo(agent_b, uuid.uuid4(), jpeg(), visit_id=visit.pk, answer_id=first_answer.pk)
    with pytest.raises(ValidationError):
        services.finish_visit(agent_b, visit.pk)
    with pytest.raises(ImageRefused):
        services.finish_visit(agent_b, visit.pk, "M. Dupont", b"<svg>not a png</svg>")
    signature = io.BytesIO()
    Image.new("RGBA", (400, 150), (0, 0, 0, 0)).save(signature, "PNG")
    with django_capture_on_commit_callbacks(execute=True):
        visit = services.finish_visit(agent_b, visit.pk, "M. Dupont", signature.getvalue())
    visit.refresh_from_db()
    assert visit.signatory_name == "M. Dupont" and visit.signature and visit.report
    with visit.report.open("rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF") and b"Image" in pdf
    assert Message.objects.filter(
        campaign__title="Compte rendu de contrôle contradictoire"
    ).exists()


def test_rounds_are_planned_after_the_providers_days_once(estate, agent_b):
    monday = date(2026, 11, 23)
    created = services.plan_rounds(horizon_days=14, today=monday)
    visits = list(Visit.objects.filter(residence=estate.moulin).order_by("planned_for"))
    assert created >= 1 and visits
    first = visits[0].planned_for
    assert first.weekday() in (1, 4)  # the day after Monday or Thursday, the provider's days
    assert visits[0].agent == agent_b
    assert services.plan_rounds(horizon_days=14, today=monday) == 0  # idempotent
    assert not Visit.objects.filter(residence=estate.source).exists()  # nobody looks after it


def test_a_late_planned_visit_becomes_missed(estate, agent_b):
    monday = date(2026, 11, 23)
    services.plan_rounds(horizon_days=7, today=monday)
    visit = Visit.objects.filter(residence=estate.moulin).first()
    assert services.mark_missed(today=visit.planned_for + timedelta(days=5)) == 0
    assert services.mark_missed(today=visit.planned_for + timedelta(days=31)) == 1
    visit.refresh_from_db()
    assert visit.status == Visit.Status.MISSED


def test_under_controlled_residences_alert_their_manager_once_per_lapse(
    estate, agent_b, manager, django_capture_on_commit_callbacks
):
    manager.email = "responsable@example.org"
    manager.save()
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit)
    services.finish_visit(agent_b, visit.pk)
    Visit.objects.filter(pk=visit.pk).update(finished_at=timezone.now() - timedelta(days=45))
    # Le Moulin (monthly, last visit 45 days ago); Les Tilleuls, La Source and the other
    # landlord's residence, never inspected.
    assert services.alert_under_controlled() == 4
    assert services.alert_under_controlled() == 0  # not every day
    told = Message.objects.get(to="responsable@example.org")  # one message for the agency
    assert "2 résidences de Agence Nord" in told.subject
    assert "Le Moulin (2 logements)\u00a0: dernier contrôle le" in told.body
    assert "Les Tilleuls (2 logements)\u00a0: jamais contrôlée" in told.body
    assert "La Source" not in told.body  # another agency's
    # Inspected again: the lapse ends; a later lapse alerts again.
    Visit.objects.filter(pk=visit.pk).update(finished_at=timezone.now())
    assert services.alert_under_controlled() == 0
    assert (
        ControlAlert.objects.filter(residence=estate.moulin, resolved_at__isnull=False).count() == 1
    )
    later = timezone.localdate() + timedelta(days=40)
    assert services.alert_under_controlled(today=later) == 1
    again = Message.objects.filter(to="responsable@example.org").order_by("-pk").first()
    assert "1 résidence de Agence Nord" in again.subject and "Le Moulin" in again.body


def test_old_photos_are_deleted_with_their_files(estate, agent_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PHOTO_RETENTION_DAYS = 30
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    photo = services.add_photo(agent_b, uuid.uuid4(), jpeg(), visit_id=visit.pk)
    path = photo.image.path
    Photo.objects.filter(pk=photo.pk).update(created_at=timezone.now() - timedelta(days=40))
    assert services.purge_old_photos() == 1
    assert not Photo.objects.exists()
    import os

    assert not os.path.exists(path)


def test_tenants_are_told_after_a_compliant_visit(
    estate, tenants, agent_b, django_capture_on_commit_callbacks
):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit)
    visit = services.finish_visit(agent_b, visit.pk)
    campaign = services.inform_tenants(agent_b, visit=visit)
    # A visit of the whole residence tells the whole residence, once.
    assert campaign.purpose == "information"
    assert (campaign.audience["kind"], campaign.audience["ids"]) == (
        "residence",
        [estate.moulin.pk],
    )
    assert services.inform_tenants(agent_b, visit=visit) == campaign
    entrance = estate.moulin.entrances.get()
    at_entrance = services.start_visit(
        agent_b, uuid.uuid4(), residence_id=estate.moulin.pk, entrance_id=entrance.pk
    )
    answer_all(agent_b, at_entrance)
    at_entrance = services.finish_visit(agent_b, at_entrance.pk)
    audience = services.inform_tenants(agent_b, visit=at_entrance).audience
    assert (audience["kind"], audience["ids"]) == ("entrance", [entrance.pk])
    failed = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, failed, value="major")
    failed = services.finish_visit(agent_b, failed.pk)
    with pytest.raises(ServiceError):
        services.inform_tenants(agent_b, visit=failed)
