"""The agents' app in real Chromium, as a phone (360 px, touch, French): log in and pull, go
offline, reload, inspect with two photos, close and reopen, come back online — the server holds
exactly one inspection with its two photos. Then the same with the connection cut in the
middle of the push and of an upload, a replayed batch, and a server failure in the middle of a
batch; with and without Background Sync; every screen checked by axe, for 48 px targets and
7:1 text contrast; install, update, logout, revocation, an expired session and a shared phone.
A technical request reported offline with a photo reaches the server once, its contact told."""

import io
import json
import re
import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from backend.sync.models import Mutation
from inspections.models import Answer, Item, Photo, Rework, Visit
from messaging.models import Message
from tests.conftest import PASSWORD
from tests.test_browser_staff_pages import assert_accessible, assert_fits_the_phone
from tickets.models import Photo as RequestPhoto
from tickets.models import Request

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every visible control at least 48 x 48 CSS px (a checkbox counts with its label), and every
# visible text at least 7:1 against the background it is drawn on.
SUNLIGHT_CHECK = """() => {
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 1 && box.height > 1 && style.visibility !== "hidden" && style.display !== "none"
      && box.right > 0 && box.left < innerWidth;
  };
  const small = [];
  for (const el of document.querySelectorAll("a, button, input, select, textarea, summary")) {
    let target = el;
    if (el.matches("input[type=checkbox], input[type=radio]")) target = el.closest("label") || el;
    if (!visible(el) && !visible(target)) continue;
    if (el.matches("input[type=file]")) continue; // hidden; its <label class=button> is the target
    const box = target.getBoundingClientRect();
    if (box.width < 48 || box.height < 48) small.push(`${el.outerHTML.slice(0, 80)} ${box.width}x${box.height}`);
  }
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour.length === 3 || (colour.length === 4 && colour[3] === 1)) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const faint = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !visible(el) || el.closest("noscript, .skip")) continue;
    const fg = luminance(rgb(getComputedStyle(el).color));
    const bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 7) faint.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return { small, faint };
}"""


def check_screen(page):
    """axe, touch targets and contrast on the screen shown."""
    assert_accessible(page)
    found = page.evaluate(SUNLIGHT_CHECK)
    assert found == {"small": [], "faint": []}, found


def open_app(page, live_server):
    page.goto(f"{live_server.url}/terrain/")


def log_in(page, live_server, username="agent_b"):
    open_app(page, live_server)
    fill_login(page, username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tournées")
    wait_synced(page)
    wait_until(page, "() => navigator.serviceWorker.controller !== null")
    wait_until(
        page,
        """async () => { for (const key of await caches.keys()) {
             if (key.startsWith('terrain-shell-') && await (await caches.open(key)).match('/terrain/')) return true;
           } return false; }""",
    )


def fill_login(page, username):
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def wait_until(page, function, timeout=15.0, until=None):
    """Poll with evaluate(): wait_for_function() evaluates strings, which our CSP forbids.
    `until`, a Python check, is polled the same way (page events are handled meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(function) and (until is None or until()):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"never true: {function}")


def wait_synced(page, timeout=20000):
    expect(page.locator("#sync-badge")).to_have_text(
        re.compile(r"^À jour · \d\d:\d\d"), timeout=timeout
    )


def heading(page):
    return page.get_by_role("heading", level=1)


def inspect_with_two_photos(page, photos, check=None):
    """A whole visit of the default grid: the first item a major finding with a comment and two
    photos, the others compliant. `check` runs on the first zone and on the finish screen."""
    page.get_by_role("link", name="Nouvelle visite").click()
    expect(heading(page)).to_have_text("Nouvelle visite")
    if check:
        check(page)
    page.get_by_role("button", name="Commencer la visite").click()
    expect(heading(page)).to_contain_text("Zone 1 /")
    first = True
    while True:
        items = page.locator("fieldset.item")
        for n in range(items.count()):
            item = page.locator("fieldset.item").nth(n)
            if first:
                item.get_by_role("button", name="Défaut majeur").click()
                item = page.locator("fieldset.item").nth(n)
                item.get_by_label("Commentaire").fill("Sol sale sous les boîtes")
                item.get_by_label("Commentaire").blur()
                for count, photo in enumerate(photos, start=1):
                    page.locator("fieldset.item").nth(n).locator(
                        "input[type=file]"
                    ).set_input_files(str(photo))
                    expect(
                        page.locator("fieldset.item").nth(n).locator(".thumbs img")
                    ).to_have_count(count)
                if check:
                    check(page)
                first = False
            else:
                item.get_by_role("button", name="Conforme").click()
            expect(
                page.locator("fieldset.item").nth(n).get_by_role("button", pressed=True)
            ).to_have_count(1)
        following = page.get_by_role("link", name="Zone suivante")
        if following.count():
            zone = int(re.search(r"Zone (\d+) /", heading(page).inner_text())[1])
            following.click()
            expect(heading(page)).to_contain_text(f"Zone {zone + 1} /")
            continue
        page.get_by_role("link", name="Terminer la visite").click()
        break
    expect(heading(page)).to_have_text("Fin de la visite")
    expect(page.locator(".score")).to_contain_text("%")
    phone_score = float(
        re.search(r"Note : ([\d.]+) %", page.locator(".score").first.inner_text())[1]
    )
    if check:
        check(page)
    page.get_by_role("button", name="Terminer et envoyer").click()
    expect(heading(page)).to_have_text("Tournées")
    return phone_score


def photos_on_the_phone(page):
    """What the phone stored of each photo: the compressed JPEG, measured in the page."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
          const request = indexedDB.open("ronde-terrain");
          request.onsuccess = () => {
            const read = request.result.transaction("photos").objectStore("photos").getAll();
            read.onsuccess = async () => {
              const out = [];
              for (const photo of read.result) {
                const bitmap = await createImageBitmap(photo.blob);
                out.push({ type: photo.blob.type, size: photo.blob.size, side: Math.max(bitmap.width, bitmap.height) });
              }
              resolve(out);
            };
          };
          request.onerror = () => reject(request.error);
        })"""
    )


def assert_one_inspection_with_two_photos(phone_score=None):
    visit = Visit.objects.get()
    assert visit.status == Visit.Status.DONE
    if phone_score is not None:  # the running score on the phone is the server's
        assert float(visit.score) == phone_score
    assert (
        Answer.objects.filter(visit=visit).count()
        == Item.objects.filter(zone__version=visit.grid_version).count()
    )
    major = Answer.objects.get(visit=visit, value="major")
    assert major.comment == "Sol sale sous les boîtes"
    photos = list(Photo.objects.filter(visit=visit))
    assert len(photos) == 2 and all(p.answer_id == major.pk for p in photos)
    for photo in photos:
        with photo.image.open("rb") as handle:
            stored = Image.open(io.BytesIO(handle.read()))
        assert max(stored.size) <= 1600
    assert Rework.objects.filter(answer=major).count() == 1
    assert not Mutation.objects.exclude(status=Mutation.Status.APPLIED).exists()


def work_offline_then_reopen(page, context, live_server, photos):
    """Log in, go offline, reload, inspect, close the page and open the app again offline."""
    log_in(page, live_server)
    context.set_offline(True)
    page.reload()
    expect(heading(page)).to_have_text("Tournées")  # opened offline, from the cache
    inspect_with_two_photos(page, photos)
    page.close()
    page = context.new_page()  # closed and opened again: the work is still there
    open_app(page, live_server)
    expect(page.locator("#sync-badge")).to_contain_text("en attente")
    expect(page.get_by_text("Terminées, en attente d’envoi")).to_be_visible()
    assert not Visit.objects.exists()
    return page


def synchronise(page):
    page.get_by_role("link", name="Synchro", exact=True).click()
    expect(heading(page)).to_have_text("Synchronisation")
    page.get_by_role("button", name="Synchroniser").click()


NO_BACKGROUND_SYNC = "delete window.SyncManager; delete ServiceWorkerRegistration.prototype.sync;"


@pytest.mark.parametrize(
    "background_sync", [True, False], ids=["background-sync", "no-background-sync"]
)
def test_an_inspection_done_offline_reaches_the_server_once(
    page, context, live_server, field, background_sync
):
    _agent, photos = field
    if not background_sync:  # as on an iPhone: the page alone sends the queue
        context.add_init_script(NO_BACKGROUND_SYNC)
    log_in(page, live_server)
    script = page.evaluate("() => navigator.serviceWorker.controller.scriptURL")
    assert script.endswith("classic=1") is not background_sync
    context.set_offline(True)
    page.reload()
    expect(heading(page)).to_have_text("Tournées")
    phone_score = inspect_with_two_photos(page, photos)
    if background_sync:
        tags = page.evaluate("async () => (await navigator.serviceWorker.ready).sync.getTags()")
        assert tags == ["ronde-sync"]
    stored = photos_on_the_phone(page)
    assert [p["type"] for p in stored] == ["image/jpeg"] * 2
    assert all(p["side"] == 1600 for p in stored)  # 3000 x 2000 made 1600 x 1067 on the phone
    page.close()
    page = context.new_page()
    open_app(page, live_server)
    expect(page.locator("#sync-badge")).to_contain_text("en attente")
    expect(page.get_by_text("Terminées, en attente d’envoi")).to_be_visible()
    assert not Visit.objects.exists()
    context.set_offline(False)
    synchronise(page)
    wait_synced(page)
    assert_one_inspection_with_two_photos(phone_score)
    page.get_by_role("link", name="Tournées").click()
    expect(page.get_by_text("Terminées (7 jours)")).to_be_visible()
    expect(page.get_by_text("Terminées, en attente d’envoi")).to_have_count(0)
    assert (
        page.evaluate(
            "async () => (await caches.keys()).filter((k) => k.startsWith('terrain-shell-')).length"
        )
        == 1
    )


def test_a_connection_cut_in_the_middle_loses_and_doubles_nothing(
    page, context, live_server, field, noisy_photos
):
    context.add_init_script(NO_BACKGROUND_SYNC)  # page.route() sees the page's requests only
    page = work_offline_then_reopen(page, context, live_server, noisy_photos)
    cut = {"push": 0, "chunks": 0}
    ranges = []

    def push_cut_once(route):
        if cut["push"]:
            route.continue_()
            return
        # The server receives and applies the batch; the answer never reaches the phone.
        route.fetch()
        cut["push"] += 1
        route.abort("internetdisconnected")

    def second_chunk_cut(route):
        if route.request.method != "PUT":
            route.continue_()
            return
        photo = route.request.url.split("/api/sync/media/", 1)[1].split("?", 1)[0]
        ranges.append((photo, route.request.headers["content-range"]))
        cut["chunks"] += 1
        if cut["chunks"] == 2:
            route.fetch()  # half a photo on the server, and the phone does not know it
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/sync/push", push_cut_once)
    page.route("**/api/sync/media/**", second_chunk_cut)
    context.set_offline(False)
    synchronise(page)
    wait_synced(page, timeout=45000)  # the app retries by itself, with backoff
    assert cut == {"push": 1, "chunks": len(ranges)} and len(ranges) > 2
    assert_one_inspection_with_two_photos()
    # The photos went in pieces of 256 KB; after the cut the upload resumed from what the
    # server held (the cut piece is sent again, never the whole photo).
    totals = {photo: int(r.rsplit("/", 1)[1]) for photo, r in ranges}
    assert len(totals) == 2 and all(total > 256 * 1024 for total in totals.values()), ranges
    starts = [(photo, int(r.split()[1].split("-")[0])) for photo, r in ranges]
    assert sorted(p for p, start in starts if start == 0) == sorted(totals), ranges  # once each


def test_a_replayed_batch_is_applied_once(page, context, live_server, field):
    _agent, photos = field
    context.add_init_script(NO_BACKGROUND_SYNC)
    page = work_offline_then_reopen(page, context, live_server, photos)
    answers = []

    def twice(route):
        route.fetch()  # the batch reaches the server twice (a proxy replaying it)
        second = route.fetch()
        answers.append(json.loads(second.text()))
        route.fulfill(response=second)

    page.route("**/api/sync/push", twice)
    page.route("**/api/sync/media/**", lambda route: (route.fetch(), route.continue_()))
    context.set_offline(False)
    synchronise(page)
    wait_synced(page)
    assert answers and {a["status"] for a in answers[0]["answers"]} == {"duplicate"}
    assert {a["first"] for a in answers[0]["answers"]} == {"applied"}
    assert_one_inspection_with_two_photos()


def test_a_server_failure_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    page, context, live_server, field, settings
):
    _agent, photos = field
    page = work_offline_then_reopen(page, context, live_server, photos)
    settings.SYNC_FAULT_AFTER = 3  # the server fails after three mutations of the batch
    context.set_offline(False)
    synchronise(page)
    expect(page.get_by_text("Le serveur ne répond pas correctement.")).to_be_visible()
    expect(page.locator("#sync-badge")).to_contain_text("en attente")
    assert Mutation.objects.count() == 3
    assert Visit.objects.get().status == Visit.Status.IN_PROGRESS
    settings.SYNC_FAULT_AFTER = None
    synchronise(page)
    wait_synced(page)
    assert_one_inspection_with_two_photos()


def test_every_screen_is_accessible_readable_in_sunlight_and_rechecks_offline(
    page, context, live_server, field, rework_to_recheck
):
    _agent, photos = field
    open_app(page, live_server)
    expect(heading(page)).to_have_text("Connexion")
    check_screen(page)
    fill_login(page, "agent_b")
    expect(heading(page)).to_have_text("Tournées")
    wait_synced(page)
    expect(page.get_by_text("Terminées (7 jours)")).to_be_visible()
    check_screen(page)
    context.set_offline(True)
    page.get_by_role("link", name="Reprises").click()
    expect(heading(page)).to_have_text("Reprises")
    check_screen(page)
    page.get_by_role("link", name=re.compile("Le Moulin")).click()
    expect(page.get_by_role("button", name="Levée", exact=True)).to_be_visible()
    check_screen(page)
    page.get_by_label("Commentaire de la contre-visite").fill("Propre à la contre-visite")
    page.get_by_role("button", name="Levée", exact=True).click()
    expect(page.get_by_text("Contre-visite enregistrée, en attente d’envoi")).to_be_visible()
    page.get_by_role("link", name="Tournées").click()
    inspect_with_two_photos(page, photos[:1], check=check_screen)
    page.get_by_role("link", name="Synchro", exact=True).click()
    expect(heading(page)).to_have_text("Synchronisation")
    check_screen(page)
    context.set_offline(False)
    page.get_by_role("button", name="Synchroniser").click()
    wait_synced(page)
    rework_to_recheck.refresh_from_db()
    assert rework_to_recheck.status == Rework.Status.LIFTED
    assert Visit.objects.filter(status=Visit.Status.DONE).count() == 2
    page.get_by_role("link", name="Reprises").click()
    assert Rework.objects.exclude(status=Rework.Status.LIFTED).count() == 1  # today's finding
    expect(page.locator("#view ul.cards > li")).to_have_count(1)  # the lifted one left the phone


# --- technical requests -----------------------------------------------------------------------


def queued_on_the_phone(page):
    """The phone's outbox: what it still holds to send."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
          const request = indexedDB.open("ronde-terrain");
          request.onsuccess = () => {
            const db = request.result;
            const read = db.transaction("queue").objectStore("queue").getAll();
            read.onsuccess = () => {
              resolve(read.result.map((q) => ({ type: q.type, state: q.state, record: q.record })));
              db.close();
            };
          };
          request.onerror = () => reject(request.error);
        })"""
    )


def report_a_leak(page, photo, check=None):
    """From the home screen: a leak in the first flat of Le Moulin, a person to keep informed,
    one photo."""
    page.get_by_role("link", name="Signaler un problème").click()
    expect(heading(page)).to_have_text("Signaler un problème")
    page.get_by_label("Bâtiment et entrée").select_option(label="Bâtiment A — Entrée 1")
    page.get_by_label("Logement ou équipement").select_option(
        label="Logement porte 1 · rez-de-chaussée"
    )
    page.get_by_label("Catégorie").select_option(label="Fuite")
    expect(page.get_by_label("Urgence")).to_have_value("urgent")  # the category's default
    page.get_by_label("Description").fill("Fuite au plafond de la salle de bains")
    page.get_by_label("Nom", exact=True).fill("Mme Diallo")
    page.get_by_label("Mobile", exact=True).fill("06 39 98 00 42")
    page.locator("#report-photo").set_input_files(str(photo))
    expect(page.get_by_role("img", name="Photo 1 du signalement")).to_be_visible()
    if check:
        check(page)
    page.get_by_role("button", name="Enregistrer le signalement").click()
    expect(heading(page)).to_have_text("Demandes")
    expect(page.get_by_text("Signalements en attente d’envoi")).to_be_visible()


def test_a_request_reported_offline_reaches_the_server_once(
    page, context, live_server, field, messaging_settings, settings
):
    settings.TICKETS_OFFICE_HOURS = "00:00-23:59"  # a leak is urgent: no on-call routing here
    agent, photos = field
    context.add_init_script(NO_BACKGROUND_SYNC)  # page.route() sees the page's requests only
    log_in(page, live_server)
    context.set_offline(True)
    page.reload()
    expect(heading(page)).to_have_text("Tournées")  # opened offline, from the cache

    def check(page):
        check_screen(page)
        assert_fits_the_phone(page)

    # A wrong form says what to correct, in French, before anything is queued.
    page.get_by_role("link", name="Signaler un problème").click()
    page.get_by_role("button", name="Enregistrer le signalement").click()
    expect(page.locator("#report-error")).to_have_text(
        "Choisissez une catégorie. Décrivez le problème en quelques mots."
    )
    check(page)
    page.get_by_role("link", name="Tournées").click()
    report_a_leak(page, photos[0], check=check)
    check(page)  # the list, the report waiting
    stored = photos_on_the_phone(page)
    assert [(p["type"], p["side"]) for p in stored] == [("image/jpeg", 1600)]
    queue = queued_on_the_phone(page)
    assert [(q["type"], q["state"]) for q in queue] == [("request.create", "pending")]
    page.close()
    page = context.new_page()  # closed and opened again: the report is still there
    open_app(page, live_server)
    expect(page.locator("#sync-badge")).to_contain_text("2 en attente")  # the change, the photo
    page.get_by_role("link", name="Demandes", exact=True).click()
    expect(page.get_by_text("Signalements en attente d’envoi")).to_be_visible()
    assert not Request.objects.exists()

    # Online: the server applies the report, but its answer is lost on the way back.
    cut = {"push": 0, "applied": False, "allowed": False}

    def answer_lost(route):
        cut["push"] += 1
        if cut["push"] == 1:
            route.fetch()
            cut["applied"] = True
            route.abort("internetdisconnected")
        elif not cut["allowed"]:
            route.abort("internetdisconnected")  # still no signal
        else:
            route.continue_()

    page.route("**/api/sync/push", answer_lost)
    context.set_offline(False)
    synchronise(page)
    wait_until(page, "() => true", until=lambda: cut["applied"])
    assert Request.objects.count() == 1
    # Not confirmed: the report stays in the outbox, its photo on the phone.
    assert [q["type"] for q in queued_on_the_phone(page)] == ["request.create"]
    expect(page.locator("#sync-badge")).to_contain_text("en attente")
    cut["allowed"] = True
    synchronise(page)
    wait_synced(page)
    assert queued_on_the_phone(page) == []

    request = Request.objects.get()
    unit = field_unit()
    assert request.channel == "field" and request.created_by == agent
    assert request.unit == unit and request.category == "leak" and request.urgency == "urgent"
    assert request.description == "Fuite au plafond de la salle de bains"
    assert request.contact_phone == "+33639980042"
    told = Message.objects.get(to="+33639980042")
    assert request.reference in told.body
    photo = RequestPhoto.objects.get()
    assert photo.request == request
    with photo.image.open("rb") as handle:
        assert max(Image.open(io.BytesIO(handle.read())).size) <= 1600
    assert not Mutation.objects.exclude(status=Mutation.Status.APPLIED).exists()
    assert Mutation.objects.count() == 1  # the replay found the first one
    # The list now shows the server's request, in French, and nothing waits.
    page.get_by_role("link", name="Demandes", exact=True).click()
    expect(page.get_by_text("Signalements en attente d’envoi")).to_have_count(0)
    card = page.locator("li.card", has_text=request.reference)
    expect(card).to_contain_text("Fuite")
    expect(card).to_contain_text("Nouvelle · urgente")
    expect(card).to_contain_text("Le Moulin · Bâtiment A — Entrée 1, étage 0, porte 1")
    check(page)


def field_unit():
    from backend.estate.models import Unit

    return Unit.objects.filter(residence__code="R02").order_by("pk").first()


def test_a_refused_report_stays_on_the_phone_with_its_reason(
    page, context, live_server, field, messaging_settings
):
    log_in(page, live_server)
    page.get_by_role("link", name="Signaler un problème").click()
    page.get_by_label("Catégorie").select_option(label="Interphone")
    expect(page.get_by_label("Urgence")).to_have_value("normal")
    page.get_by_label("Urgence").select_option(label="Peut attendre")
    page.get_by_label("Catégorie").select_option(label="Ascenseur")  # urgent by default...
    expect(page.get_by_label("Urgence")).to_have_value("low")  # ...but the agent chose
    page.get_by_label("Description").fill("L’interphone ne sonne plus")
    page.get_by_label("Mobile", exact=True).fill("01 23 45 67 89")  # a landline: no SMS
    page.get_by_role("button", name="Enregistrer le signalement").click()
    expect(heading(page)).to_have_text("Demandes")
    expect(page.get_by_text("refusé par le serveur")).to_be_visible()
    check_screen(page)
    assert not Request.objects.exists()
    page.get_by_role("link", name="Voir pourquoi dans Synchro").click()
    expect(page.get_by_text("Signalement : refusé")).to_be_visible()
    expect(page.get_by_text("n’est pas un numéro de mobile")).to_be_visible()
    assert [q["state"] for q in queued_on_the_phone(page)] == ["rejected"]
