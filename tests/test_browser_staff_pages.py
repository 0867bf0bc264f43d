"""The staff pages in real Chromium, 360 px wide: log in, navigate, no horizontal scrolling,
keyboard access, and no WCAG 2.1 AA violation found by axe-core."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


def assert_accessible(page):
    results = Axe().run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, results.generate_report()
    # axe reports broken aria-describedby references only as "incomplete": check them here.
    dangling = page.evaluate("""() => [...document.querySelectorAll('[aria-describedby]')]
        .flatMap(el => el.getAttribute('aria-describedby').split(/\\s+/))
        .filter(id => id && !document.getElementById(id))""")
    assert dangling == [], f"aria-describedby points at nothing: {dangling}"


def assert_fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} scrolls sideways ({width}px)"


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/")


def test_the_login_page_is_accessible_and_keyboard_first(page, live_server, cast):
    page.goto(f"{live_server.url}/connexion/")
    assert page.title() == "Se connecter — Ronde"
    assert_accessible(page)
    assert_fits_the_phone(page)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Aller au contenu"
    page.get_by_label("Identifiant").fill("advisor")
    page.get_by_label("Mot de passe").fill("mauvais")
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("alert").inner_text() == "Identifiant ou mot de passe incorrect."
    assert_accessible(page)


@pytest.mark.parametrize("who", ["advisor", "contractor"])
def test_staff_pages_are_accessible_on_a_phone(page, live_server, estate, cast, who):
    log_in(page, live_server, who)
    urls = ["/", "/patrimoine/", f"/patrimoine/{estate.moulin.pk}/", "/accessibilite/"]
    if who == "advisor":
        urls.append("/recherche/?q=tilleuls")
    for url in urls:
        page.goto(f"{live_server.url}{url}")
        assert page.locator("h1").count() == 1, url
        assert_accessible(page)
        assert_fits_the_phone(page)


def test_the_admin_browses_the_estate_in_french(page, live_server, estate, cast):
    from backend.accounts.models import User

    User.objects.filter(pk=cast.admin.pk).update(is_staff=True, is_superuser=True)
    log_in(page, live_server, "admin")
    page.get_by_role("link", name="Administration").click()
    page.get_by_role("link", name="Résidences").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Sélectionnez l’objet résidence à changer"
    )
    page.get_by_role("link", name="Les Tilleuls").click()
    # The buildings are edited inline on the residence page.
    expect(page.locator("input[value='Bâtiment A']")).to_have_count(1)


def test_the_interactive_api_docs_work_under_the_content_security_policy(page, live_server, db):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/api/docs")
    expect(page.get_by_text("/api/estate/residences", exact=True).first).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.mark.parametrize("who", ["manager", "contractor"])
def test_inspection_pages_are_accessible_on_a_phone(
    page, live_server, estate, cast, who, settings, tmp_path
):
    import uuid

    from backend.accounts.models import Role
    from inspections import services
    from inspections.models import Item, Rework
    from tests.conftest import make_user

    settings.MEDIA_ROOT = tmp_path
    agent = make_user(
        "agent_moulin", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2]
    )
    make_user("manager", Role.MANAGER, estate.organisation, agencies=[estate.north])
    visit = services.start_visit(agent, uuid.uuid4(), residence_id=estate.moulin.pk)
    items = Item.objects.filter(zone__version=visit.grid_version)
    services.record_answers(
        agent,
        visit.pk,
        [
            services.AnswerInput(uuid.uuid4(), item.pk, "major" if n < 2 else "compliant")
            for n, item in enumerate(items)
        ],
    )
    services.finish_visit(agent, visit.pk)
    first, second = Rework.objects.order_by("answer__item__order")[:2]
    from datetime import timedelta

    from django.utils import timezone

    Rework.objects.filter(pk=first.pk).update(deadline=timezone.now() - timedelta(hours=1))
    services.recheck(agent, first.pk, lifted=False)
    log_in(page, live_server, who)
    if who == "manager":
        urls = [
            "/controles/",
            "/controles/visites/",
            f"/controles/visites/{visit.pk}/",
            "/controles/reprises/",
            f"/controles/reprises/{first.pk}/",
            "/controles/penalites/",
            "/controles/grilles/",
            f"/controles/grilles/{items[0].zone.version.grid_id}/",
        ]
    else:
        penalty = first.penalty
        urls = [
            "/prestataire/",
            f"/prestataire/reprises/{second.pk}/",
            f"/prestataire/penalites/{penalty.pk}/",
        ]
    for url in urls:
        page.goto(f"{live_server.url}{url}")
        assert page.locator("h1").count() == 1, url
        assert_accessible(page)
        assert_fits_the_phone(page)
    if who == "contractor":
        page.goto(f"{live_server.url}/prestataire/reprises/{second.pk}/")
        page.get_by_label("Commentaire").fill("Repassé")
        page.get_by_role("button", name="Signaler comme faite").click()
        expect(page.locator(".messages")).to_contain_text("la reprise est enregistrée")
        assert_accessible(page)
