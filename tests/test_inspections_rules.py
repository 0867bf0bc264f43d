"""The finer rules of inspections: rounds that never drift past their frequency, replays and
duplicates that answer in French instead of crashing, re-checks that wait for the deadline,
rates that stay within 100 %, other categories than cleaning, outgoing texts in French."""

import io
import itertools
import uuid
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from backend.accounts.models import Role
from backend.core.errors import Conflict
from backend.estate import models as m
from inspections import grids, rates, services
from inspections.models import Answer, Grid, Penalty, Photo, Rework, Visit
from messaging.models import Message
from tests.conftest import client_for, make_user
from tests.test_inspections_flow import answer_all, items_of, jpeg


@pytest.fixture
def agent_b(estate):
    user = make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])
    user.first_name, user.last_name = "Bénédicte", "Martin"
    user.save()
    return user


def planned_days(residence):
    return list(
        Visit.objects.filter(residence=residence, status=Visit.Status.PLANNED)
        .order_by("planned_for")
        .values_list("planned_for", flat=True)
    )


@pytest.mark.parametrize(
    ("frequency", "visit_days"),
    [(7, [0, 3]), (7, [2]), (30, [0]), (14, [4]), (30, [])],
)
def test_rounds_never_drift_past_their_frequency(estate, agent_b, frequency, visit_days):
    estate.moulin.inspection_frequency = frequency
    estate.moulin.save()
    m.ContractSite.objects.filter(
        contract=estate.cleaning_contract, residence=estate.moulin
    ).update(visit_days=visit_days)
    today = date(2026, 11, 23)  # a Monday
    services.plan_rounds(horizon_days=200, today=today)
    days = planned_days(estate.moulin)
    assert len(days) >= 200 // frequency - 1
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    holidays = {d for d in days if estate.organisation.is_public_holiday(d)}
    assert not holidays and all(d.weekday() != 6 for d in days)
    # Never later than the frequency (a public holiday may push one visit a day or two).
    assert max(gaps) <= frequency + 2, gaps
    if visit_days:  # just after the provider's day, unless a holiday moved it
        after_provider = [d for d in days if (d - timedelta(days=1)).weekday() in visit_days]
        assert len(after_provider) >= len(days) - 2
    if frequency == 7 and visit_days == [0, 3]:
        assert set(gaps) == {7}  # weekly stays weekly


def test_duplicates_in_a_payload_are_refused_in_french(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    first, second = items_of(visit)[:2]
    same = uuid.uuid4()
    with pytest.raises(ValidationError) as twice:
        services.record_answers(
            agent_b,
            visit.pk,
            [
                services.AnswerInput(uuid.uuid4(), first.pk, "compliant"),
                services.AnswerInput(uuid.uuid4(), first.pk, "minor"),
            ],
        )
    assert "reçoit deux réponses" in str(twice.value)
    with pytest.raises(ValidationError) as sent_twice:
        services.record_answers(
            agent_b,
            visit.pk,
            [
                services.AnswerInput(same, first.pk, "compliant"),
                services.AnswerInput(same, second.pk, "compliant"),
            ],
        )
    assert "envoyée deux fois" in str(sent_twice.value)
    services.record_answers(agent_b, visit.pk, [services.AnswerInput(same, first.pk, "compliant")])
    with pytest.raises(ValidationError) as moved:  # a known answer id sent for another item
        services.record_answers(agent_b, visit.pk, [services.AnswerInput(same, second.pk, "minor")])
    assert "appartient à un autre point" in str(moved.value)
    assert list(Answer.objects.values_list("item_id", "value")) == [(first.pk, "compliant")]


def test_reassigning_to_a_taken_day_is_a_french_conflict(estate, agent_b):
    manager = make_user("manager_a", Role.MANAGER, estate.organisation, agencies=[estate.north])
    services.plan_rounds(horizon_days=30)
    first, second = Visit.objects.filter(residence=estate.moulin).order_by("planned_for")[:2]
    with pytest.raises(Conflict) as taken:
        services.reassign(manager, second.pk, None, first.planned_for)
    assert "déjà prévue" in taken.value.message
    with pytest.raises(ValidationError):
        services.reassign(manager, second.pk, None, timezone.localdate() - timedelta(days=3))
    # A missed visit given to another agent keeps its date and stays missed.
    Visit.objects.filter(pk=first.pk).update(status=Visit.Status.MISSED)
    colleague = make_user(
        "agent_c", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2]
    )
    moved = services.reassign(manager, first.pk, colleague.pk, first.planned_for)
    assert moved.status == Visit.Status.MISSED and moved.agent == colleague
    moved = services.reassign(manager, first.pk, None, timezone.localdate() + timedelta(days=40))
    assert moved.status == Visit.Status.PLANNED


def test_not_lifted_waits_for_the_answer_or_the_deadline(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit, exceptions={0: "major", 1: "major"})
    services.finish_visit(agent_b, visit.pk)
    early, unanswered = Rework.objects.order_by("answer__item__order")
    with pytest.raises(Conflict) as wait:
        services.recheck(agent_b, early.pk, lifted=False)
    assert "a jusqu’au" in wait.value.message
    services.recheck(agent_b, early.pk, lifted=True)  # fixed before the deadline: no penalty
    assert not Penalty.objects.exists()
    # Never answered, found fixed two days after the deadline: late, two days.
    Rework.objects.filter(pk=unanswered.pk).update(
        deadline=timezone.now() - timedelta(days=1, hours=12)
    )
    services.recheck(agent_b, unanswered.pk, lifted=True)
    penalty = Penalty.objects.get()
    assert penalty.reason == Penalty.Reason.LATE and penalty.days_late == 2
    assert penalty.amount == 2 * estate.cleaning_contract.penalty_per_day


def test_rework_on_demand_waits_for_the_end_of_the_visit(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit, exceptions={0: "minor"})
    minor = Answer.objects.get(visit=visit, value="minor")
    with pytest.raises(Conflict):
        services.request_rework(agent_b, minor.pk)
    services.finish_visit(agent_b, visit.pk)
    assert not Rework.objects.exists()  # a minor defect raises none by itself
    rework = services.request_rework(agent_b, minor.pk)
    assert rework.answer == minor and services.request_rework(agent_b, minor.pk) == rework


def test_the_visit_rate_counts_planned_visits_done(estate, agent_b, token_client):
    services.plan_rounds(horizon_days=10)
    planned = Visit.objects.get(residence=estate.moulin)
    for _n in range(2):  # two unplanned visits
        visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
        answer_all(agent_b, visit)
        services.finish_visit(agent_b, visit.pk)
    today = timezone.localdate()
    row = next(
        r
        for r in rates.compute(agent_b, today - timedelta(days=30), today + timedelta(days=30)).rows
    )
    assert (row.planned, row.planned_done, row.done) == (1, 0, 2) and row.visit_rate == 0
    services.start_visit(agent_b, planned.pk)
    answer_all(agent_b, planned)
    services.finish_visit(agent_b, planned.pk)
    row = next(
        r
        for r in rates.compute(agent_b, today - timedelta(days=30), today + timedelta(days=30)).rows
    )
    assert (row.planned, row.planned_done, row.done) == (1, 1, 3) and row.visit_rate == 100
    by_agent = rates.compute(agent_b, today - timedelta(days=30), today, "agent").rows
    assert [r.label for r in by_agent] == ["Bénédicte Martin"]


def test_rates_are_for_staff_only(estate, cast, token_client):
    assert token_client(cast.contractor).get("/api/inspections/rates?by=agent").status_code == 403
    assert token_client(cast.advisor).get("/api/inspections/rates?by=agent").status_code == 200


def test_a_photo_too_large_is_refused_before_it_is_read(estate, agent_b, token_client, settings):
    settings.PHOTO_MAX_BYTES = 2_000
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    response = token_client(agent_b).post(
        f"/api/inspections/visits/{visit.pk}/photos",
        {"id": str(uuid.uuid4()), "file": io.BytesIO(jpeg(2000, 1500))},
    )
    assert response.status_code == 422 and "trop volumineux" in response.json()["message"]
    assert not Photo.objects.exists()


def test_a_photo_is_checked_for_rights_before_it_is_decoded(estate, cast, agent_b, monkeypatch):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    decoded = []
    monkeypatch.setattr(services.images, "process", lambda data: decoded.append(data))
    with pytest.raises(PermissionDenied):
        services.add_photo(cast.advisor, uuid.uuid4(), jpeg(), visit_id=visit.pk)
    from django.http import Http404

    with pytest.raises(Http404):
        services.add_photo(cast.agent_a, uuid.uuid4(), jpeg(), visit_id=visit.pk)
    assert decoded == []


def test_a_photo_sent_after_the_end_of_its_visit_is_kept(estate, agent_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit)
    services.finish_visit(agent_b, visit.pk)
    photo = services.add_photo(agent_b, uuid.uuid4(), jpeg(), visit_id=visit.pk)
    assert photo.visit_id == visit.pk and Photo.objects.count() == 1


def test_a_lift_control_uses_the_lift_contract_and_grid(
    estate, agent_b, django_capture_on_commit_callbacks
):
    lift_company = m.Provider.objects.create(
        organisation=estate.organisation,
        name="Ascenseurs du Val",
        kind="lift",
        email="sav@asc.example",
    )
    contract = m.ProviderContract.objects.create(
        provider=lift_company,
        reference="ASC-1",
        categories=["lift"],
        start_date=date(2024, 1, 1),
        rework_deadline_hours=24,
    )
    m.ContractSite.objects.create(contract=contract, residence=estate.moulin)
    grid = Grid.objects.create(contract=contract, name="Ascenseurs", category="lift")
    assert grid.organisation == estate.organisation  # a contract's grid is its landlord's
    version = grids.publish(grid, "# Cabine\nÉclairage de la cabine | 2\nPropreté | 1\n")
    visit = services.start_visit(
        agent_b, uuid.uuid4(), residence_id=estate.moulin.pk, category="lift"
    )
    assert visit.contract == contract and visit.grid_version == version
    answer_all(agent_b, visit, exceptions={0: "major"})
    with django_capture_on_commit_callbacks(execute=True):
        services.finish_visit(agent_b, visit.pk)
    rework = Rework.objects.get()
    assert rework.provider == lift_company and rework.deadline - rework.requested_at == timedelta(
        hours=24
    )
    with pytest.raises(ValidationError):
        services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk, category="fusée")


def test_messages_to_providers_are_french_whoever_triggers_them(estate, agent_b):
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk)
    answer_all(agent_b, visit, exceptions={0: "major"})
    with translation.override("en"):
        services.finish_visit(agent_b, visit.pk)
    mail = Message.objects.get(to="contact@propre-net.example")
    assert mail.subject.startswith("Reprise demandée") and "Bonjour" in mail.body


def test_the_staff_pages_refuse_a_malformed_penalty_and_an_empty_grid(estate):
    manager = make_user("manager_a", Role.MANAGER, estate.organisation, agencies=[estate.north])
    client = client_for(manager)
    assert (
        client.post(
            "/controles/penalites/", {"penalty": "abc", "decision": "waive", "reason": "x"}
        ).status_code
        == 404
    )
    empty = Grid.objects.create(organisation=estate.organisation, name="Vide")
    assert client.post("/controles/grilles/", {"grid": empty.pk}).status_code == 404
    assert Grid.objects.filter(organisation=estate.organisation).count() == 1
