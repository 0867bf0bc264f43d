"""The inspection pages of managers, agents and providers, end to end through the web client:
a rework requested, answered by the provider, a failed re-check, a contested penalty confirmed
and exported; rates with charts; reassignment; grids."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from backend.accounts.models import Role
from inspections import services
from inspections.models import Grid, Penalty, Rework, Visit
from messaging.models import Message
from tests.conftest import client_for, make_user
from tests.test_inspections_flow import answer_all, jpeg


@pytest.fixture
def agent_b(estate):
    return make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])


@pytest.fixture
def manager(estate):
    return make_user("manager_a", Role.MANAGER, estate.organisation, agencies=[estate.north])


def finished_visit(agent, estate, exceptions=None, **kwargs):
    visit = services.start_visit(agent, uuid.uuid4(), residence_id=estate.moulin.pk, **kwargs)
    answer_all(agent, visit, exceptions=exceptions or {})
    return services.finish_visit(agent, visit.pk)


def flash(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def test_a_rework_goes_from_request_to_an_exported_penalty(
    estate, cast, agent_b, manager, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The issue's "done when": provider answers, re-check fails, the provider contests, the
    manager confirms, the line is in the export."""
    settings.MEDIA_ROOT = tmp_path
    cast.contractor.email = "chef@propre-net.example"
    cast.contractor.save()
    with django_capture_on_commit_callbacks(execute=True):
        finished_visit(agent_b, estate, exceptions={0: "major"})
    rework = Rework.objects.get()
    mail = Message.objects.filter(campaign__object_id=str(rework.visit_id))
    assert set(mail.values_list("to", flat=True)) == {
        "contact@propre-net.example",
        "chef@propre-net.example",
    }
    assert "/prestataire/lien/" in mail.first().body
    # The provider's page lists it; the provider answers with a photo.
    provider = client_for(cast.contractor)
    home = provider.get("/prestataire/")
    assert home.status_code == 200 and rework.answer.item.label in home.content.decode()
    answered = provider.post(
        f"/prestataire/reprises/{rework.pk}/",
        {"comment": "Repassé ce matin", "photo": io.BytesIO(jpeg())},
        follow=True,
    )
    assert "la reprise est enregistrée comme faite" in flash(answered)
    rework.refresh_from_db()
    assert rework.status == Rework.Status.DONE and rework.photos.count() == 1
    # The agent re-checks: not lifted. A penalty is proposed and the provider told.
    staff = client_for(agent_b)
    page = staff.get(f"/controles/reprises/{rework.pk}/")
    assert "Repassé ce matin" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            f"/controles/reprises/{rework.pk}/",
            {"action": "not_lifted", "comment": "Toujours sale"},
        )
    penalty = Penalty.objects.get()
    assert penalty.status == Penalty.Status.PROPOSED
    assert Message.objects.filter(
        subject__startswith="Pénalité proposée", to="chef@propre-net.example"
    ).exists()
    # The manager cannot confirm while the provider may still contest.
    boss = client_for(manager)
    early = boss.post(
        "/controles/penalites/",
        {"penalty": penalty.pk, "decision": "confirm", "reason": "Photo"},
        follow=True,
    )
    assert "peut encore contester" in flash(early)
    penalty.refresh_from_db()
    assert penalty.status == Penalty.Status.PROPOSED
    # The provider contests from its page.
    empty = provider.post(f"/prestataire/penalites/{penalty.pk}/", {"text": "  "}, follow=True)
    assert "Dites pourquoi" in flash(empty)
    provider.post(
        f"/prestataire/penalites/{penalty.pk}/", {"text": "Notre équipe est passée à 8 h."}
    )
    penalty.refresh_from_db()
    assert penalty.status == Penalty.Status.CONTESTED
    listing = boss.get("/controles/penalites/?statut=contested").content.decode()
    assert "Notre équipe est passée à 8 h." in listing
    # The manager confirms, with a reason; the export has the line, its finding and photos.
    no_reason = boss.post(
        "/controles/penalites/",
        {"penalty": penalty.pk, "decision": "confirm", "reason": ""},
        follow=True,
    )
    assert "motif" in flash(no_reason)
    boss.post(
        "/controles/penalites/",
        {"penalty": penalty.pk, "decision": "confirm", "reason": "Constat photo"},
    )
    penalty.refresh_from_db()
    assert penalty.status == Penalty.Status.CONFIRMED and penalty.decided_by == manager
    month = timezone.localdate().strftime("%Y-%m")
    export = boss.get(f"/controles/penalites/export/?prestataire={estate.cleaner.pk}&mois={month}")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8")), delimiter=";"))
    assert len(rows) == 2
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["Résidence"] == "Le Moulin" and line["Montant (€)"] == str(penalty.amount).replace(
        ".", ","
    )
    assert "/fichiers/" in line["Photos"]
    # Another provider's export is empty; an agent may not export.
    other = boss.get(
        f"/controles/penalites/export/?prestataire={estate.other_cleaner.pk}&mois={month}"
    )
    assert len(list(csv.reader(io.StringIO(other.content.decode("utf-8")), delimiter=";"))) == 1
    assert (
        staff.get(f"/controles/penalites/export/?prestataire={estate.cleaner.pk}").status_code
        == 403
    )


def test_the_personal_link_works_without_login_and_expires(
    estate, cast, agent_b, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    finished_visit(agent_b, estate, exceptions={0: "major"})
    rework = Rework.objects.get()
    link = services.rework_link(rework).replace(settings.SITE_URL, "")
    anonymous = client_for(None)
    page = anonymous.get(link)
    assert page.status_code == 200 and rework.answer.item.label in page.content.decode()
    anonymous.post(link, {"comment": "Fait", "photo": io.BytesIO(b"not an image")})
    rework.refresh_from_db()
    assert rework.status == Rework.Status.REQUESTED  # refused photo: nothing saved
    anonymous.post(link, {"comment": "Fait"})
    rework.refresh_from_db()
    assert rework.status == Rework.Status.DONE and rework.done_by is None
    forged = anonymous.get("/prestataire/lien/" + signing.dumps(str(rework.pk), salt="autre") + "/")
    assert forged.status_code == 404 and "n’est pas valide" in forged.content.decode()
    Rework.objects.filter(pk=rework.pk).update(deadline=timezone.now() - timedelta(days=8))
    expired = anonymous.get(link)
    assert expired.status_code == 410 and "a expiré" in expired.content.decode()


def test_the_dashboard_shows_rates_charts_and_the_forgotten_residence(
    estate, cast, agent_b, manager
):
    finished_visit(agent_b, estate, exceptions={0: "minor"})
    Visit.objects.update(finished_at=timezone.now() - timedelta(days=40))  # Le Moulin: monthly
    page = client_for(manager).get("/controles/")
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count('class="chart-title"') == 3 and body.count("<svg") >= 2
    assert "Note moyenne par mois (%)" in body
    alert = body[body.index("alert-box") : body.index("</section>", body.index("alert-box"))]
    assert "Le Moulin" in alert and "Les Tilleuls" in alert and "jamais contrôlée" in alert
    assert "La Source" not in body  # another agency's
    by_provider = client_for(manager).get("/controles/?par=provider&mois=3").content.decode()
    assert "Propre &amp; Net" in by_provider
    export = client_for(manager).get("/controles/taux.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(export), delimiter=";"))
    moulin = next(r for r in rows if r[0] == "Le Moulin")
    assert moulin[2] == "1"  # one visit done
    assert client_for(cast.contractor).get("/controles/").status_code == 403


def test_a_manager_reassigns_a_planned_visit_within_the_sector(estate, cast, agent_b, manager):
    services.plan_rounds(horizon_days=14)
    visit = Visit.objects.filter(residence=estate.moulin, status=Visit.Status.PLANNED).first()
    assert visit.agent == agent_b
    boss = client_for(manager)
    listing = boss.get("/controles/visites/?statut=planned").content.decode()
    assert "Le Moulin" in listing
    wrong = boss.post(
        f"/controles/visites/{visit.pk}/reaffecter/", {"agent": cast.agent_a.pk}, follow=True
    )
    assert "ne s’occupe pas de cette résidence" in flash(wrong)
    colleague = make_user(
        "agent_c", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2]
    )
    bad_date = boss.post(
        f"/controles/visites/{visit.pk}/reaffecter/",
        {"agent": colleague.pk, "planned_for": "31/02/2027"},
        follow=True,
    )
    assert "AAAA-MM-JJ" in flash(bad_date)
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    boss.post(
        f"/controles/visites/{visit.pk}/reaffecter/", {"agent": colleague.pk, "planned_for": day}
    )
    visit.refresh_from_db()
    assert visit.agent == colleague and visit.planned_for.isoformat() == day
    client_for(agent_b).post(f"/controles/visites/{visit.pk}/reaffecter/", {"agent": agent_b.pk})
    visit.refresh_from_db()
    assert visit.agent == colleague  # an agent does not reassign


def test_a_joint_visit_page_links_its_signed_report(
    estate, agent_b, manager, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    visit = services.start_visit(agent_b, uuid.uuid4(), residence_id=estate.moulin.pk, joint=True)
    answer_all(agent_b, visit)
    signature = io.BytesIO()
    from PIL import Image

    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(signature, "PNG")
    with django_capture_on_commit_callbacks(execute=True):
        services.finish_visit(agent_b, visit.pk, "Mme Net", signature.getvalue())
    visit.refresh_from_db()
    body = client_for(manager).get(f"/controles/visites/{visit.pk}/").content.decode()
    assert "Contrôle contradictoire" in body and "Mme Net" in body
    # The report is served by the scoped file view, never from a public folder.
    link = next(
        part.split('"')[0]
        for part in body.split('href="')[1:]
        if "/fichiers/" in part and "report" in part
    )
    report = client_for(manager).get(link)
    assert report.status_code == 200 and b"".join(report.streaming_content).startswith(b"%PDF")
    assert client_for(cast_agent_a(estate)).get(link).status_code == 404


def cast_agent_a(estate):
    return make_user("agent_x", Role.AGENT, estate.organisation, sectors=[estate.sector_north_1])


def test_grids_are_copied_edited_and_versioned(estate, manager, agent_b):
    boss = client_for(manager)
    default = Grid.objects.get(organisation__isnull=True)
    shown = boss.get(f"/controles/grilles/{default.pk}/").content.decode()
    assert "Hall et boîtes aux lettres" in shown
    assert (
        boss.post(f"/controles/grilles/{default.pk}/", {"structure": "# X\nY | 1\n"}).status_code
        == 403
    )
    copied = boss.post("/controles/grilles/", {"grid": default.pk})
    copy = Grid.objects.get(organisation=estate.organisation)
    assert copied["Location"] == f"/controles/grilles/{copy.pk}/"
    bad = boss.post(f"/controles/grilles/{copy.pk}/", {"structure": "Sol propre | 2\n"})
    assert bad.status_code == 200 and "commencez par une zone" in bad.content.decode()
    assert copy.versions.count() == 1
    boss.post(
        f"/controles/grilles/{copy.pk}/",
        {"structure": "# Hall\nSol propre | 2\nVitres | 1 | critique\n"},
    )
    assert copy.versions.count() == 2
    # The organisation's grid is used for sites without a contract grid.
    agent_a = cast_agent_a(estate)
    started = services.start_visit(agent_a, uuid.uuid4(), residence_id=estate.tilleuls.pk)
    assert started.grid_version == copy.current
    assert (
        client_for(agent_b)
        .post(f"/controles/grilles/{copy.pk}/", {"structure": "# A\nB | 1\n"})
        .status_code
        == 403
    )
