"""The extranet's back office in real Chromium: every page at 360 px and on a desktop screen
without a WCAG 2.1 AA violation found by axe-core, and the activation letters printed one per
sheet of A4, the staff pages' header and footer left out."""

import re

import pytest

from backend.accounts.models import Consent, HelpRequest, TenantAccount
from tests.test_browser_staff_pages import assert_accessible, assert_fits_the_phone, log_in
from tests.test_tenant_backoffice import households_of, make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def backoffice(estate, cast, tenants):
    t0, t1 = households_of(estate.tilleuls)
    m0, _m1 = households_of(estate.moulin)
    active = make_account(t0)
    make_account(t1, TenantAccount.Status.PENDING)
    Consent.objects.create(
        household=t0, kind="paperless", granted=True, version="2026-11", source="activation"
    )
    HelpRequest.objects.create(
        organisation=estate.organisation,
        name="Mme Nom3",
        contact="nom3@example.org",
        contract_reference="1002" + "0000",
        message="Je n’arrive pas à me connecter.",
        household=m0,
        residence=estate.moulin,
    )
    return {"t0": t0, "t1": t1, "m0": m0, "active": active}


def pages(estate, households):
    return [
        "/extranet/",
        f"/extranet/?statut=pending&residence={estate.tilleuls.pk}",
        f"/extranet/foyers/{households['t0'].pk}/",
        f"/extranet/foyers/{households['t1'].pk}/",
        f"/extranet/relances/?agence={estate.north.pk}",
        "/extranet/adoption/",
        "/extranet/lettres/",
        "/extranet/aide/",
    ]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_back_office_pages_are_accessible(page, live_server, estate, backoffice, viewport):
    if viewport == "desktop":
        page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "advisor")
    for url in pages(estate, backoffice):
        page.goto(f"{live_server.url}{url}")
        assert page.locator("h1").count() == 1, url
        # Charts and tables behind <details>: open them, so that axe checks them too.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert_accessible(page)
        if viewport == "phone":
            assert_fits_the_phone(page)


def test_an_action_without_reason_shows_its_error_accessibly(page, live_server, estate, backoffice):
    log_in(page, live_server, "advisor")
    page.goto(f"{live_server.url}/extranet/foyers/{backoffice['t0'].pk}/")
    form = page.locator("form.action-form", has=page.locator("input[value='paper']"))
    form.locator("button").click()
    page.wait_for_load_state()
    field = page.locator("textarea[aria-invalid='true']")
    assert field.count() == 1
    assert_accessible(page)
    assert_fits_the_phone(page)
    field.fill("Préfère le papier")
    page.locator("form.action-form", has=page.locator("input[value='paper']")).locator(
        "button"
    ).click()
    page.wait_for_url(re.compile(r"/extranet/foyers/\d+/$"))
    assert "Préfère le papier" in page.locator("main").inner_text()
    assert not Consent.objects.filter(kind="paperless").order_by("-at", "-id").first().granted


def test_letters_print_one_per_page_without_the_staff_pages_chrome(
    page, live_server, estate, backoffice
):
    TenantAccount.objects.all().delete()
    log_in(page, live_server, "advisor")
    page.goto(f"{live_server.url}/extranet/lettres/")
    assert_accessible(page)
    page.locator("#l-residence").select_option(str(estate.tilleuls.pk))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("form button[type=submit].primary").click()
    assert "no-store" in posted.value.headers["cache-control"]
    page.wait_for_load_state()
    letters = page.locator("article.letter")
    assert letters.count() == 2
    assert page.locator("[data-print]").is_visible()  # print.js shows the button
    assert_accessible(page)
    assert_fits_the_phone(page)
    page.set_viewport_size(DESKTOP)
    assert_accessible(page)
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden()
    assert page.locator(".site-footer").is_hidden()
    assert page.locator("main > .no-print").first.is_hidden()
    breaks = page.evaluate(
        "[...document.querySelectorAll('article.letter')].map(l => getComputedStyle(l).breakAfter)"
    )
    assert breaks == ["page", "auto"]
    # A real print to PDF: one sheet per letter, each with its own identifier.
    pdf = page.pdf(format="A4", print_background=False)
    sheets = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert sheets == 2, sheets
    assert all(
        page.locator("article.letter").nth(n).locator("code").first.inner_text().startswith("P-")
        for n in range(2)
    )
