"""The compose screen in real Chromium on a phone: live SMS analysis, one-click replacement,
preview, send, and no accessibility violation."""

import pytest
from playwright.sync_api import expect

from tests.test_browser_staff_pages import assert_accessible, assert_fits_the_phone, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_advisor_writes_sees_the_cost_fixes_the_encoding_and_sends(
    page, live_server, estate, tenants, cast
):
    log_in(page, live_server, "advisor")
    page.goto(f"{live_server.url}/messages/nouveau/")
    assert_accessible(page)
    assert_fits_the_phone(page)
    page.get_by_label("Titre (pour le suivi)").fill("Ascenseur réparé")
    page.get_by_label("Destinataires").select_option(label="Bâtiment A — Entrée 1")
    page.get_by_label("SMS", exact=True).fill("Bonjour {{ prenom }}, l’ascenseur est réparé.")
    analysis = page.locator("#sms-analysis")
    expect(analysis).to_contain_text("UCS-2")
    expect(analysis).to_contain_text("1 partie")
    page.get_by_role("button", name="Remplacer par «\u00a0'\u00a0»").click()
    expect(page.get_by_label("SMS", exact=True)).to_have_value(
        "Bonjour {{ prenom }}, l'ascenseur est réparé."
    )
    expect(analysis).to_contain_text("GSM-7")
    page.get_by_label("Envoyer immédiatement", exact=False).check()
    page.get_by_role("button", name="Voir les destinataires et le coût").click()
    expect(page.get_by_role("heading", name="Avant l’envoi")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Envoyer à 2 destinataires").click()
    expect(page.get_by_role("heading", name="Ascenseur réparé")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{live_server.url}/messages/")
    assert_accessible(page)
    assert_fits_the_phone(page)
