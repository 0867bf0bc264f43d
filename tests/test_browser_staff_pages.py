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
