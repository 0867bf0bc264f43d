"""The tenant extranet in real Chromium on a phone (360 px): a newcomer activates an account
with the live password checklist, follows the e-mail's link, logs in, joins a second contract,
reports a problem and reads it; every page passes axe-core (WCAG 2.1 AA) and fits the screen."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from backend.accounts.models import ProvisionalCredential, TenantAccount
from backend.estate import models as m
from messaging.models import CapturedMessage
from tests.test_browser_staff_pages import assert_accessible, assert_fits_the_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Le chat de la voisine dort"


def check(page):
    assert page.locator("h1").count() == 1, page.url
    assert_accessible(page)
    assert_fits_the_phone(page)


def captured_link(path: str) -> str:
    mail = CapturedMessage.objects.filter(channel="email").order_by("-pk").first()
    found = re.search(r"https?://[^\s]+(" + re.escape(path) + r"[^\s]+/)", mail.body)
    assert found, mail.body
    return found.group(1)


def test_a_newcomer_activates_logs_in_joins_a_contract_and_reports(
    page, live_server, estate, tenants, settings, messaging_settings
):
    settings.SITE_URL = live_server.url
    lease = m.Lease.objects.filter(residence=estate.tilleuls).order_by("pk").first()
    person = lease.household.people.get()
    other = m.Lease.objects.filter(residence=estate.moulin).order_by("pk").first()
    ProvisionalCredential.objects.create(
        household=other.household,
        identifier="P-TEST-0042",
        secret_hash=make_password("lettre-provisoire"),
        expires_at=timezone.now() + timedelta(days=30),
    )
    base = live_server.url
    page.goto(f"{base}/locataire/?client={estate.organisation.code}")
    check(page)
    page.get_by_role("link", name="Je n’ai pas de compte (avec mon avis d’échéance)").click()
    check(page)
    page.get_by_label("Référence contrat (chiffres, sans le L)").fill(f"L{lease.reference}")
    page.get_by_label("Numéro de module").fill(lease.module_number)
    page.get_by_label(re.compile("Nom du signataire principal")).fill(person.last_name)
    page.get_by_label("Adresse e-mail").fill("nouveau.locataire@example.org")
    # The live checklist follows the server's rules while typing.
    password = page.locator('input[name="password"]')
    password.fill("azertyuiop123")
    strength = page.locator('[data-rule="strength"]')
    for _n in range(50):
        if strength.get_attribute("data-state"):
            break
        page.wait_for_timeout(100)
    assert strength.get_attribute("data-state") == "ko"
    password.fill(PASSWORD)
    for _n in range(50):
        if strength.get_attribute("data-state") == "ok":
            break
        page.wait_for_timeout(100)
    assert strength.get_attribute("data-state") == "ok"
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.locator('input[name="accept_terms"]').check()
    page.get_by_role("button", name="Je crée mon compte").click()
    page.wait_for_url(f"{base}/locataire/activer/envoye/")
    check(page)
    page.goto(base + captured_link("/locataire/verifier/"))
    check(page)
    assert TenantAccount.objects.get().status == TenantAccount.Status.ACTIVE
    page.get_by_role("link", name="Se connecter").click()
    check(page)
    page.get_by_label("E-mail, numéro de portable ou référence contrat").fill(
        "nouveau.locataire@example.org"
    )
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base}/locataire/espace/")
    check(page)
    for url in (
        "/locataire/espace/profil/",
        "/locataire/espace/consentements/",
        "/locataire/espace/assurance/",
        "/locataire/espace/mes-donnees/",
        "/locataire/espace/fusion/",
    ):
        page.goto(base + url)
        check(page)
    page.get_by_label("Identifiant provisoire de l’autre logement").fill("P-TEST-0042")
    page.get_by_label("Son mot de passe provisoire").fill("lettre-provisoire")
    page.get_by_label("Votre mot de passe actuel").fill(PASSWORD)
    page.get_by_role("button", name="Associer les comptes").click()
    page.wait_for_url(f"{base}/locataire/espace/")
    check(page)
    assert page.get_by_label("Logement affiché").locator("option").count() == 2
    page.goto(f"{base}/locataire/espace/demandes/nouvelle/")
    check(page)
    page.get_by_label("De quoi s’agit-il ?").select_option("leak")
    page.get_by_label("Décrivez le problème").fill("Fuite sous l’évier de la cuisine")
    page.get_by_role("button", name="Envoyer la demande").click()
    page.wait_for_url(re.compile(r"/locataire/espace/demandes/[0-9a-f-]+/$"))
    check(page)
    assert "Fuite sous l’évier" in page.content()
    page.goto(f"{base}/locataire/espace/")
    assert page.get_by_role("link", name=re.compile(r"D\d{4}-\d{6} — Fuite")).count() == 1


def test_the_public_tenant_pages_are_accessible(page, live_server, estate):
    base = live_server.url
    page.goto(f"{base}/locataire/?client={estate.organisation.code}")
    for url in (
        "/locataire/connexion/",
        "/locataire/activer/lettre/",
        "/locataire/mot-de-passe-oublie/",
        "/locataire/identifiant-oublie/",
        "/locataire/aide/",
        "/locataire/conditions/",
        "/locataire/confidentialite/",
        "/locataire/verifier/nimportequoi/",
    ):
        page.goto(base + url)
        check(page)
    page.goto(f"{base}/locataire/connexion/")
    page.get_by_role("button", name="Se connecter").click()
    check(page)  # the error state too
