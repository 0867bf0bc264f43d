"""The request pages in real Chromium, on a 360 px phone and a desktop: axe-core (WCAG 2.1 A and
AA) on every page and state, no sideways scrolling, headings in order, errors tied to their
fields, touch-sized buttons, the hall's QR sheet in print; then one request driven through the
pages from the phone call to its closure, by an advisor and the lift maintainer's technician."""

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from backend.accounts.models import Role
from backend.estate import models as m
from tests import test_tickets_flow
from tests.conftest import PASSWORD, make_user
from tests.test_browser_staff_pages import AXE_OPTIONS
from tests.test_tickets_flow import future_slot, take, tilleuls_tenant
from tickets import public, services
from tickets.models import Link, Request, Status, WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

lift = test_tickets_flow.lift  # the lift maintainer's contract and technician, a fixture

PHONE, DESKTOP = 360, 1280

# What axe cannot see: one h1, no skipped heading level, every invalid field described by its
# message, nothing below the touch size on a phone (WCAG 2.5.5), no sideways scrolling.
LAYOUT_CHECKS = """(phone) => {
  const problems = [];
  const visible = el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const name = el => (el.textContent || el.value || el.outerHTML).trim().slice(0, 60);
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible);
  if (headings.filter(h => h.tagName === 'H1').length !== 1) problems.push('not one h1');
  let level = 0;
  for (const h of headings) {
    const next = Number(h.tagName[1]);
    if (next > level + 1) problems.push(`heading skips a level: h${level} then "${name(h)}" h${next}`);
    level = next;
  }
  for (const el of document.querySelectorAll('[aria-describedby]')) {
    for (const id of el.getAttribute('aria-describedby').split(/\\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) problems.push(`aria-describedby points at nothing: ${id}`);
    }
  }
  const described = new Set([...document.querySelectorAll('[aria-describedby]')]
    .flatMap(el => el.getAttribute('aria-describedby').split(/\\s+/)));
  for (const error of document.querySelectorAll('form .error, form .field-error')) {
    if (!described.has(error.id)) problems.push(`error not tied to its field: "${name(error)}"`);
  }
  for (const el of document.querySelectorAll('[aria-invalid="true"]')) {
    if (!el.getAttribute('aria-describedby')) problems.push(`invalid without a message: ${el.id}`);
  }
  if (phone) {
    const width = document.documentElement.scrollWidth;
    if (width > 360) problems.push(`scrolls sideways (${width}px)`);
    const targets = 'button, .button, summary, select, textarea, input:not([type=hidden])';
    for (const el of [...document.querySelectorAll(targets)].filter(visible)) {
      let box = el.getBoundingClientRect();
      if (el.matches('input[type=checkbox], input[type=radio]') && el.labels.length) {
        box = el.closest('.checkbox, .choice')?.getBoundingClientRect() || box;
      }
      if (box.height < 44) problems.push(`too small to touch (${Math.round(box.height)}px): "${name(el)}"`);
      if (box.right > 360.5) problems.push(`past the screen's edge: "${name(el)}"`);
    }
  }
  return problems;
}"""


def audit(page, phone: bool) -> list[str]:
    """Everything wrong with the page, as lines naming it (empty when all is well)."""
    path = page.url.split("/", 3)[-1]
    results = Axe().run(page, options=AXE_OPTIONS)
    problems = [
        f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
        for v in results.response["violations"]
    ]
    problems += page.evaluate(LAYOUT_CHECKS, phone)
    return [f"/{path} [{PHONE if phone else DESKTOP}px] {p}" for p in problems]


@pytest.fixture
def open_page(browser, browser_context_args, live_server):
    """A page at a given width, logged in as someone (or no one): a phone held upright, or a
    desktop browser without touch."""
    contexts = []

    def make(width, username=None):
        args = dict(browser_context_args)
        if width != PHONE:
            args.update(
                viewport={"width": width, "height": 900},
                device_scale_factor=1,
                is_mobile=False,
                has_touch=False,
            )
        context = browser.new_context(**args)
        contexts.append(context)
        page = context.new_page()
        if username:
            page.goto(f"{live_server.url}/connexion/")
            page.get_by_label("Identifiant").fill(username)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.wait_for_url(f"{live_server.url}/")
        return page

    yield make
    for context in contexts:
        context.close()


@dataclass
class Scene:
    lift_request: Request  # a work order sent, free slots, two similar reports to group
    accepted: WorkOrder  # accepted by the technician, free slots to book
    sent: WorkOrder
    incident_id: str
    regie_order: WorkOrder
    track_token: str
    place_token: str


@pytest.fixture
def scene(estate, cast, tenants, lift, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    provider, _contract, technician = lift
    equipment = m.Equipment.objects.get(residence=estate.tilleuls, kind="lift")
    entrance = equipment.entrance
    first = take(cast.advisor, estate, tenants, equipment_id=equipment.pk)
    services.create_request(
        cast.agent_a,
        services.RequestInput(equipment_id=equipment.pk, category="lift", description="En panne"),
        "field",
    )
    services.create_request(
        None,
        services.RequestInput(
            equipment_id=equipment.pk,
            category="lift",
            description="Ascenseur bloqué",
            contact_phone="+33639980099",
        ),
        "qr",
        residences=[estate.tilleuls.pk],
    )
    sent = services.send_order(
        cast.advisor,
        first.pk,
        services.OrderInput(access="key_caretaker", access_note="Clé chez la gardienne"),
    )
    services.add_note(cast.advisor, first.pk, "Locataire joignable après 18 h")
    # A second lift request, in common areas, whose order the technician accepted.
    other = take(cast.advisor, estate, tenants, unit=False)
    accepted = services.send_order(cast.advisor, other.pk, services.OrderInput())
    services.accept_order(technician, accepted.pk)
    for days in (2, 3, 4):
        future_slot(provider, days=days)
    # Two reports of the hall's door grouped under an incident.
    doors = [
        services.create_request(
            cast.agent_a,
            services.RequestInput(entrance_id=entrance.pk, category="door", description=text),
            "field",
        )
        for text in ("Porte du hall bloquée ouverte", "La porte ne ferme plus")
    ]
    incident = services.group(cast.advisor, [d.pk for d in doors], title="Porte du hall")
    # The régie: an intercom fault of Le Moulin with a booked appointment.
    regie = m.Provider.objects.create(
        organisation=estate.organisation, name="Régie Nord", kind="regie"
    )
    worker = make_user("regie_tech", Role.CONTRACTOR, estate.organisation, provider=regie)
    intercom = services.create_request(
        cast.advisor,
        services.RequestInput(
            residence_id=estate.moulin.pk, category="intercom", description="Interphone muet"
        ),
        "phone",
    )
    regie_order = services.send_order(
        cast.advisor, intercom.pk, services.OrderInput(technician_id=worker.pk)
    )
    services.book(cast.advisor, regie_order.pk, future_slot(regie, days=1).pk)
    return Scene(
        lift_request=first,
        accepted=accepted,
        sent=sent,
        incident_id=str(incident.pk),
        regie_order=regie_order,
        track_token=Link.objects.filter(request=first).first().token,
        place_token=public.place_token(entrance),
    )


def survey(open_page, live_server, width, username, urls):
    page = open_page(width, username)
    problems = []
    for url in urls:
        response = page.goto(f"{live_server.url}{url}")
        assert response.status < 500, url
        problems += audit(page, width == PHONE)
    return page, problems


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_advisors_request_pages_are_accessible(
    open_page, live_server, estate, cast, tenants, scene, width
):
    unit_id = tilleuls_tenant(estate, tenants).household.leases.first().unit_id
    urls = [
        "/demandes/",
        "/demandes/?retard=1&statut=new",
        "/demandes/nouvelle/",
        "/demandes/nouvelle/?q=Nom1",
        "/demandes/nouvelle/?q=personne",
        f"/demandes/nouvelle/?unit_id={unit_id}",
        f"/demandes/nouvelle/?residence_id={estate.tilleuls.pk}",
        f"/demandes/{scene.lift_request.pk}/",
        f"/demandes/{scene.accepted.request_id}/",
        f"/demandes/{scene.regie_order.request_id}/",
        f"/demandes/incidents/{scene.incident_id}/",
        "/demandes/regie/",
        f"/demandes/qr/{estate.tilleuls.pk}/",
        f"/interventions/{scene.sent.pk}/",
    ]
    page, problems = survey(open_page, live_server, width, "advisor", urls)
    # The intake refused: each message tied to its field.
    page.goto(f"{live_server.url}/demandes/nouvelle/?unit_id={unit_id}")
    page.get_by_role("button", name="Enregistrer la demande").click()
    expect(page.locator(".messages")).to_contain_text("n’est pas enregistrée")
    problems += audit(page, width == PHONE)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_contractors_pages_are_accessible(open_page, live_server, scene, width):
    urls = [
        "/interventions/",
        f"/interventions/{scene.sent.pk}/",
        f"/interventions/{scene.accepted.pk}/",
        "/interventions/creneaux/",
    ]
    _page, problems = survey(open_page, live_server, width, "tech", urls)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_public_pages_are_accessible(open_page, live_server, scene, width):
    urls = [
        f"/suivi/{scene.track_token}/",
        f"/signaler/{scene.place_token}/",
        "/suivi/pas-un-lien/",
        f"/signaler/{scene.place_token}x/",
    ]
    _page, problems = survey(open_page, live_server, width, None, urls)
    assert not problems, "\n".join(problems)


def test_the_qr_sheet_prints_one_card_per_code_and_nothing_else(
    open_page, live_server, estate, scene
):
    page = open_page(DESKTOP, "advisor")
    page.goto(f"{live_server.url}/demandes/qr/{estate.tilleuls.pk}/")
    codes = (
        m.Entrance.objects.filter(building__residence=estate.tilleuls).count()
        + m.Equipment.objects.filter(residence=estate.tilleuls, is_active=True).count()
    )
    assert codes == 2
    expect(page.locator(".qr-card")).to_have_count(codes)
    page.emulate_media(media="print")
    for hidden in (".site-header", ".site-footer", ".no-print", "h1", ".breadcrumb"):
        for element in page.locator(hidden).all():
            expect(element).to_be_hidden()
    cards = page.locator(".qr-card")
    for n in range(codes):
        card = cards.nth(n)
        expect(card.locator("svg")).to_have_count(1)
        expect(card.locator("svg")).to_be_visible()
        expect(card.locator(".qr-url")).to_contain_text("/signaler/")
        # Large on paper: at least 8 cm (CSS pixels are 1/96 in).
        assert card.locator("svg").bounding_box()["width"] >= 8 / 2.54 * 96
    breaks = page.eval_on_selector_all(
        ".qr-card", "cards => cards.map(c => getComputedStyle(c).breakAfter)"
    )
    assert breaks == ["page"] * (codes - 1) + ["auto"]
    # Chromium's own print: one sheet of paper per code.
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == codes


def fact(page, term):
    """The value of a term of the page's facts (dl.facts)."""
    return page.locator("dl.facts > dt", has_text=re.compile(f"^{term}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def test_a_request_from_the_phone_call_to_its_closure_through_the_pages(
    open_page, live_server, estate, cast, tenants, lift
):
    provider, _contract, technician = lift
    person = tilleuls_tenant(estate, tenants)
    entrance = person.household.leases.first().unit.entrance
    earlier = services.create_request(
        cast.agent_a,
        services.RequestInput(
            entrance_id=entrance.pk, category="door", description="Porte du hall bloquée"
        ),
        "field",
    )
    problems = []
    # The tenant calls: the advisor finds them by name, the unit comes prefilled.
    advisor = open_page(DESKTOP, "advisor")
    advisor.goto(f"{live_server.url}/demandes/nouvelle/")
    advisor.get_by_label("Trouver le locataire").fill(person.last_name)
    advisor.get_by_role("button", name="Rechercher").click()
    hit = advisor.locator(".card").filter(has_text=str(person))
    expect(hit).to_have_count(1)
    hit.get_by_role("link", name="Choisir ce logement").click()
    expect(advisor).to_have_url(re.compile(r"\?unit_id=\d+$"))
    already = advisor.locator("section[aria-labelledby=already]")
    expect(already.get_by_role("heading", level=2)).to_have_text("Déjà ouvert dans cette entrée")
    expect(already).to_contain_text(earlier.reference)
    expect(advisor.get_by_label("Locataire concerné")).to_have_value(str(person.pk))
    problems += audit(advisor, phone=False)
    advisor.get_by_label("Catégorie").select_option(label="Ascenseur")
    advisor.get_by_label("Description").fill("L’ascenseur est bloqué au 3e étage.")
    advisor.get_by_role("button", name="Enregistrer la demande").click()
    expect(advisor).to_have_url(re.compile(r"/demandes/[0-9a-f-]{36}/$"))
    created = Request.objects.exclude(pk=earlier.pk).get()
    expect(advisor.locator(".messages")).to_contain_text(f"Demande {created.reference} enregistrée")
    expect(advisor.get_by_role("heading", level=1)).to_contain_text(created.reference)
    expect(fact(advisor, "Statut")).to_have_text("Prise en compte")
    # The work order, to the lift contract's maintainer (chosen by default).
    expect(advisor.get_by_label("Prestataire", exact=True)).to_have_value(str(provider.pk))
    advisor.get_by_label("Détails d’accès").fill("Digicode 4512")
    advisor.get_by_role("button", name="Envoyer le bon de travaux").click()
    expect(advisor.locator(".messages")).to_contain_text("Enregistré.")
    order = WorkOrder.objects.get(request=created)
    section = advisor.locator("section[aria-labelledby=order-h]")
    expect(section.get_by_role("heading")).to_have_text(f"Bon de travaux {order.number}")
    expect(section).to_contain_text("Envoyé")
    expect(section).to_contain_text("Le prestataire n’a encore publié aucun créneau libre.")
    problems += audit(advisor, phone=False)
    # The technician, on a phone, accepts it.
    tech = open_page(PHONE, "tech")
    tech.goto(f"{live_server.url}/interventions/")
    tech.get_by_role("link", name=re.compile(order.number)).click()
    expect(fact(tech, "Statut")).to_have_text("Envoyé")
    expect(fact(tech, "Conditions d’accès")).to_contain_text("Digicode 4512")
    tech.get_by_role("button", name="Accepter").click()
    expect(tech.locator(".messages")).to_contain_text("Enregistré.")
    expect(fact(tech, "Statut")).to_have_text("Accepté")
    # ...publishes a slot, and the advisor books it while the tenant is on the phone.
    day = timezone.localdate() + timedelta(days=2)
    start = timezone.make_aware(datetime.combine(day, time(9)))
    (slot,) = services.publish_slots(technician, [(start, start + timedelta(hours=2))])
    advisor.reload()
    advisor.get_by_label("Créneaux libres du prestataire").select_option(str(slot.pk))
    advisor.get_by_role("button", name="Réserver ce créneau").click()
    expect(advisor.locator(".messages")).to_contain_text("Enregistré.")
    expect(fact(advisor, "Statut")).to_have_text("Planifiée")
    expect(section).to_contain_text(re.compile(r"Rendez-vous\s:"))
    problems += audit(advisor, phone=False)
    # The technician reports it done with a comment.
    tech.reload()
    expect(fact(tech, "Statut")).to_have_text("Rendez-vous fixé")
    expect(fact(tech, "Rendez-vous")).to_be_visible()
    problems += audit(tech, phone=True)
    tech.get_by_label("Commentaire (obligatoire si réalisé)").fill("Carte de commande remplacée")
    tech.get_by_role("button", name="Terminée").click()
    expect(tech.locator(".messages")).to_contain_text("Enregistré.")
    expect(fact(tech, "Statut")).to_have_text("Terminé")
    problems += audit(tech, phone=True)
    # The advisor closes it.
    advisor.reload()
    expect(fact(advisor, "Statut")).to_have_text("Terminée")
    problems += audit(advisor, phone=False)
    advisor.get_by_label("Commentaire de clôture").fill("Locataire rappelé, tout fonctionne")
    advisor.get_by_role("button", name="Clôturer").click()
    expect(advisor.locator(".messages")).to_contain_text("Enregistré.")
    expect(fact(advisor, "Statut")).to_have_text("Clôturée")
    # Every step is on the timeline, in order, each told to the tenant where it should be.
    steps = [
        "Demande enregistrée (Téléphone)\u00a0: Ascenseur, urgente.",
        "Demande prise en compte.",
        f"Bon de travaux {order.number} envoyé à Ascenseurs Martin.",
        f"Bon de travaux {order.number} accepté.",
        "Rendez-vous pris avec Ascenseurs Martin le",
        "Intervention réalisée. Carte de commande remplacée",
        "Intervention déclarée réalisée.",
        "Clôturée. Locataire rappelé, tout fonctionne",
    ]
    lines = advisor.locator("ol.timeline > li").all_inner_texts()
    found = [next((n for n, line in enumerate(lines) if step in line), -1) for step in steps]
    assert -1 not in found and found == sorted(found), (found, lines)
    told = [line for line in lines if "Locataire informé" in line]
    assert len(told) >= 4, lines  # taken, appointment, done, closed
    problems += audit(advisor, phone=False)
    # The tenant's link shows the same steps, without the staff's lines.
    token = Link.objects.get(request=created).token
    tenant = open_page(PHONE)
    tenant.goto(f"{live_server.url}/suivi/{token}/")
    expect(fact(tenant, "Où en est-elle")).to_have_text("Clôturée")
    expect(tenant.locator("ol.timeline")).to_contain_text("Rendez-vous pris avec Ascenseurs Martin")
    expect(tenant.locator("ol.timeline")).to_contain_text("Carte de commande remplacée")
    problems += audit(tenant, phone=True)
    created.refresh_from_db()
    assert created.status == Status.CLOSED
    assert not problems, "\n".join(problems)
