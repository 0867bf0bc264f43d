"""The agents' app's life on a phone, in real Chromium: installable, its worker kept to its
scope, updated on the agent's consent, private mode refused before any work, logout and
revocation that wipe the phone, an expired session and a second agent on a shared phone."""

import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from backend.accounts.models import Role
from backend.sync.models import Device
from inspections.models import Visit
from tests.conftest import make_user
from tests.test_pwa import (
    fill_login,
    heading,
    log_in,
    open_app,
    synchronise,
    wait_synced,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the phone holds, counted in the page: records, drafts, queue, photos.
STORES = """() => new Promise((resolve, reject) => {
  const request = indexedDB.open("ronde-terrain");
  request.onsuccess = () => {
    const names = ["records", "drafts", "queue", "photos"];
    const tx = request.result.transaction(names);
    const out = {};
    for (const name of names) tx.objectStore(name).count().onsuccess = (e) => { out[name] = e.target.result; };
    tx.oncomplete = () => { request.result.close(); resolve(out); };
  };
  request.onerror = () => reject(request.error);
})"""


def start_a_visit(page):
    page.get_by_role("link", name="Nouvelle visite").click()
    page.get_by_role("button", name="Commencer la visite").click()
    expect(heading(page)).to_contain_text("Zone 1 /")
    page.locator("fieldset.item").first.get_by_role("button", name="Conforme").click()
    expect(page.locator("fieldset.item").first.get_by_role("button", pressed=True)).to_have_count(1)
    page.get_by_role("link", name="Tournées").click()
    expect(page.locator("#sync-badge")).to_contain_text("2 en attente")


def test_the_app_is_installable_and_its_worker_stays_in_its_scope(
    playwright, browser_type_launch_args, browser_context_args, live_server, field, tmp_path
):
    # Chromium never offers to install from an incognito context: a real profile, as on a phone.
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile", **browser_type_launch_args, **browser_context_args
    )
    try:
        page = context.new_page()
        log_in(page, live_server)
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
        manifest = json.loads(page.evaluate("async () => (await fetch('/manifest.json')).text()"))
        assert manifest["name"] == "Ronde — terrain" and manifest["lang"] == "fr-FR"
        assert manifest["display"] == "standalone" and manifest["scope"] == "/terrain/"
        assert manifest["theme_color"] == "#153f70"
        sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
        assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
        scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
        assert scope == f"{live_server.url}/terrain/"
        page.goto(f"{live_server.url}/connexion/")  # a staff page: never the app's worker's
        assert page.evaluate("() => navigator.serviceWorker.controller") is None
    finally:
        context.close()


def test_a_new_version_is_announced_and_applied_on_the_agents_consent(
    page, live_server, field, monkeypatch
):
    log_in(page, live_server)
    old = page.evaluate(
        "async () => (await caches.keys()).filter((k) => k.startsWith('terrain-shell-'))"
    )
    assert len(old) == 1
    monkeypatch.setattr("backend.sync.views.version", lambda: "0123456789abcdef")  # a deployment
    page.reload()
    expect(page.get_by_text("Mise à jour disponible.")).to_be_visible()
    # Nothing changes until the agent says so: the old shell still serves the page.
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL").endswith(
        "/terrain/sw.js"
    )
    with page.expect_event("load"):
        page.get_by_role("button", name="Mettre à jour").click()
    wait_until(
        page,
        """async () => JSON.stringify((await caches.keys()).filter((k) => k.startsWith('terrain-shell-')))
             === '["terrain-shell-0123456789abcdef"]'""",
    )
    expect(heading(page)).to_have_text("Tournées")
    expect(page.get_by_text("Mise à jour disponible.")).to_have_count(0)


def test_without_storage_the_app_says_so_before_any_work(page, context, live_server, field):
    # Private browsing on some browsers: IndexedDB refuses to open.
    context.add_init_script(
        "IDBFactory.prototype.open = function () { throw new DOMException('refused', 'InvalidStateError'); };"
    )
    open_app(page, live_server)
    expect(heading(page)).to_have_text("Stockage indisponible")
    expect(page.get_by_label("Identifiant")).to_have_count(0)  # no form to enter work into
    expect(page.locator("#sync-badge")).to_have_text("Stockage indisponible")


def test_logging_out_warns_of_unsent_work_then_wipes_the_phone(page, context, live_server, field):
    log_in(page, live_server)
    assert page.evaluate(STORES)["records"] > 0
    context.set_offline(True)
    start_a_visit(page)
    page.get_by_role("link", name="Synchro", exact=True).click()
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Se déconnecter").click()
    wait_until(page, "() => true", until=lambda: messages)
    expect(heading(page)).to_have_text("Synchronisation")  # kept: the agent said no
    assert "2 changement(s) ne sont pas encore envoyés" in messages[0]
    assert page.evaluate(STORES)["queue"] == 2
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Se déconnecter").click()
    expect(
        page.get_by_text("Vous êtes déconnecté. Les données ont été effacées du téléphone.")
    ).to_be_visible()
    assert page.evaluate(STORES) == {"records": 0, "drafts": 0, "queue": 0, "photos": 0}
    page.reload()  # offline, from the cache: nothing of the tenants' data comes back
    expect(heading(page)).to_have_text("Connexion")


def test_a_revoked_phone_wipes_itself_at_its_next_contact(page, live_server, field):
    log_in(page, live_server)
    device = Device.objects.get()
    assert page.evaluate(STORES)["records"] > 0
    Device.objects.filter(pk=device.pk).update(revoked_at=timezone.now())
    synchronise(page)
    expect(heading(page)).to_have_text("Téléphone révoqué")
    assert page.evaluate(STORES) == {"records": 0, "drafts": 0, "queue": 0, "photos": 0}
    assert Device.objects.get().wiped_at is not None
    # Found again: the agent logs in and the phone starts afresh, as a new device.
    fill_login(page, "agent_b")
    expect(heading(page)).to_have_text("Tournées")
    wait_synced(page)
    assert Device.objects.count() == 2 and Device.objects.filter(revoked_at=None).count() == 1


def test_an_expired_session_keeps_the_queue_and_a_second_agent_never_sends_it(
    page, context, live_server, field, estate
):
    agent_b, _photos = field
    make_user("agent_c", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])
    log_in(page, live_server)
    context.set_offline(True)
    start_a_visit(page)
    Session.objects.all().delete()  # the session expired while the agent was in the cellar
    context.set_offline(False)
    synchronise(page)
    banner = page.locator("#login-banner")
    expect(banner).to_contain_text("Session expirée")
    assert page.evaluate(STORES)["queue"] == 2  # kept: a refused session is never a rejection
    # Another agent picks up the phone and logs in: agent_b's work is not sent under their name.
    banner.get_by_role("button", name="Se reconnecter").click()
    fill_login(page, "agent_c")
    expect(heading(page)).to_have_text("Tournées")
    wait_synced(page)
    assert not Visit.objects.exists()
    page.get_by_role("link", name=re.compile("à voir|en attente|À jour")).click()
    expect(page.get_by_text("2 changement(s) d’un autre agent attendent")).to_be_visible()
    expect(page.get_by_text("Commencée à")).to_have_count(0)  # agent_b's draft is not shown
    # agent_b comes back: their session expired again, they log in, their work goes.
    Session.objects.all().delete()
    synchronise(page)
    banner.get_by_role("button", name="Se reconnecter").click()
    fill_login(page, "agent_b")
    expect(heading(page)).to_have_text("Tournées")
    wait_until(page, "() => true", until=lambda: Visit.objects.exists())
    wait_synced(page)
    visit = Visit.objects.get()
    assert visit.agent == agent_b and visit.status == Visit.Status.IN_PROGRESS
    assert page.evaluate(STORES)["queue"] == 0


def test_a_conflict_is_shown_with_what_to_do_and_given_up_only_by_the_agent(
    page, context, live_server, field, estate, rework_to_recheck
):
    from inspections import services
    from inspections.models import Rework

    rework = rework_to_recheck
    log_in(page, live_server)
    context.set_offline(True)
    page.get_by_role("link", name="Reprises").click()
    page.get_by_role("link", name=re.compile("Le Moulin")).click()
    page.get_by_role("button", name="Non levée").click()
    expect(page.get_by_text("Contre-visite enregistrée, en attente d’envoi")).to_be_visible()
    # Meanwhile a colleague re-checked it from the office: lifted.
    colleague = make_user(
        "agent_d", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2]
    )
    services.recheck(colleague, rework.pk, lifted=True)
    context.set_offline(False)
    synchronise(page)
    expect(page.locator("#sync-badge")).to_contain_text("1 à voir")
    problem = page.locator(".card.problem")
    expect(problem).to_contain_text("Contre-visite : conflit")
    expect(problem).to_contain_text("Vérifiez son état actuel")
    rework.refresh_from_db()
    assert rework.status == Rework.Status.LIFTED  # the phone's stale answer changed nothing
    assert page.evaluate(STORES)["queue"] == 1  # kept until the agent gives it up
    page.once("dialog", lambda dialog: dialog.accept())
    problem.get_by_role("button", name="Abandonner ce changement").click()
    expect(page.locator(".card.problem")).to_have_count(0)
    assert page.evaluate(STORES)["queue"] == 0
    wait_synced(page)
