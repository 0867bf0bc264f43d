"""The demo data: deterministic, realistic, idempotent, with fiction phone numbers."""

import pytest
from django.core.management import call_command

from backend.accounts.models import User
from backend.accounts.scoping import visible_residences
from backend.core import demo
from backend.estate import models as m
from backend.estate.phones import is_fiction, parse_mobile


def wipe():
    """Delete the demo, the records that protect others first (module-scoped data lives outside
    the test transactions)."""
    from backend.core.models import Job
    from inspections.models import Answer, ControlAlert, Grid, Penalty, Photo, Rework, Visit
    from messaging import models as messaging
    from tickets import models as tickets

    for model in [
        tickets.Appointment,
        tickets.Slot,
        tickets.Photo,
        tickets.Link,
        tickets.Subscription,
        tickets.Event,
        tickets.WorkOrder,
        tickets.Request,
        tickets.Incident,
        tickets.Counter,
        messaging.MessageEvent,
        messaging.Message,
        messaging.Campaign,
        messaging.InboundMessage,
        messaging.CapturedMessage,
        Job,
    ]:
        model.objects.all().delete()
    for model in [Penalty, Rework, Photo, Answer, Visit, ControlAlert]:
        model.objects.all().delete()
    Grid.objects.filter(organisation__isnull=False).delete()
    for model in [
        m.Person,
        m.Lease,
        m.Household,
        m.Equipment,
        m.Unit,
        m.Entrance,
        m.Building,
        m.ContractSite,
        m.ProviderContract,
        m.Sector,
    ]:
        model.objects.all().delete()
    User.objects.all().delete()
    for model in [m.Residence, m.Provider, m.Agency, m.Organisation]:
        model.objects.all().delete()


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        assert demo.load() is True
        yield
        from django.db import connection

        # Module-scoped data outside a test transaction: clean up for the other modules.
        with connection.cursor():
            pass
        wipe()


@pytest.mark.django_db
def test_the_demo_has_the_promised_size(demo_data):
    assert m.Agency.objects.count() == 2
    assert m.Residence.objects.count() == 40
    assert m.Unit.objects.count() == 3000
    sizes = list(m.Residence.objects.values_list("units_count", flat=True))
    assert min(sizes) == 20 and max(sizes) == 400
    assert sum(1 for s in sizes if s <= 30) >= 8  # several small residences
    assert m.Household.objects.count() > 2800
    assert m.Provider.objects.count() >= 4 and m.ProviderContract.objects.count() >= 4
    assert m.Equipment.objects.filter(kind="lift").exists()


@pytest.mark.django_db
def test_every_demo_phone_is_a_valid_fiction_number(demo_data):
    mobiles = list(m.Person.objects.exclude(mobile="").values_list("mobile", flat=True))
    assert len(mobiles) > 3000 and len(set(mobiles)) == len(mobiles)
    assert all(is_fiction(n) and parse_mobile(n) == n for n in mobiles)


@pytest.mark.django_db
def test_one_login_per_role_with_a_scope(demo_data):
    for login in demo.LOGINS:
        user = User.objects.get(username=login.username)
        assert user.role == login.role
        assert user.check_password(demo.demo_password())
        assert visible_residences(user).exists(), login.username
    north = visible_residences(User.objects.get(username="responsable"))
    south = visible_residences(User.objects.get(username="responsable.sud"))
    assert not set(north) & set(south)


@pytest.mark.django_db
def test_a_second_load_changes_nothing(demo_data, capsys):
    call_command("load_demo")
    assert "rien n’a été modifié" in capsys.readouterr().out
    assert m.Unit.objects.count() == 3000


def fingerprint() -> str:
    import hashlib

    rows = [
        list(
            m.Residence.objects.order_by("code").values_list("code", "name", "units_count", "city")
        ),
        list(
            m.Person.objects.order_by(
                "household__leases__reference", "first_name", "last_name", "mobile", "email"
            ).values_list("first_name", "last_name", "mobile", "email")
        ),
        list(
            m.Lease.objects.order_by("reference").values_list(
                "reference", "module_number", "payment_method"
            )
        ),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.django_db
def test_the_demo_is_deterministic(demo_data):
    """Loaded again from scratch, the demo is the same to the last phone number."""
    first = fingerprint()
    wipe()
    assert demo.load() is True
    assert fingerprint() == first


@pytest.mark.django_db
def test_the_demo_templates_are_valid_and_their_sms_cheap(demo_data):
    from messaging.models import TemplateVariant
    from messaging.rendering import SAMPLE
    from messaging.services import render_sms
    from messaging.sms import analyse

    variants = list(TemplateVariant.objects.select_related("template"))
    assert len(variants) >= 5
    for variant in variants:
        variant.full_clean()
        if variant.sms_body:
            assert analyse(render_sms(variant.sms_body, SAMPLE)).encoding == "GSM-7", variant


@pytest.mark.django_db
def test_the_demo_has_a_year_of_inspections_and_a_forgotten_small_residence(demo_data):
    from django.db.models import Min

    from inspections import rates
    from inspections.models import Penalty, Rework, Visit

    manager = User.objects.get(username="responsable")
    first = Visit.objects.aggregate(first=Min("finished_at"))["first"]
    from django.utils import timezone

    assert (timezone.now() - first).days > 330
    result = rates.compute(
        manager,
        timezone.localdate().replace(year=timezone.localdate().year - 1),
        timezone.localdate(),
    )
    assert len(result.months) >= 12 and all(r.average_score for r in result.rows if r.done)
    flagged = rates.under_controlled(manager)
    assert [r.units_count <= 30 for r, _last, _due in flagged] == [True]
    contractor = User.objects.get(username="prestataire")
    assert Rework.objects.filter(
        provider=contractor.provider, status=Rework.Status.REQUESTED
    ).exists()
    statuses = set(Penalty.objects.values_list("status", flat=True))
    assert statuses == {"proposed", "contested", "confirmed", "waived"}


# --- the tenant extranet's demo ------------------------------------------------------------------


def printed_banner() -> str:
    import io

    from backend.core.management.commands.serve import Command

    out = io.StringIO()
    Command(stdout=out).banner("127.0.0.1:8000", False)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_tenants_are_in_every_state(demo_data):
    from backend.accounts.models import (
        Consent,
        HouseholdBalance,
        HouseholdDocument,
        ProvisionalCredential,
        TenantAccount,
    )
    from backend.accounts.tenant_extras import INSURANCE_TYPES, _sniff

    accounts = {a.user.username: a for a in TenantAccount.objects.select_related("user")}
    states = {name: a.status for name, a in accounts.items()}
    assert states == {
        "tenant-demo-1": "active",
        "tenant-demo-2": "active",
        "tenant-demo-3": "pending",
        "tenant-demo-4": "departed",
    }
    main = accounts["tenant-demo-1"]
    agencies = {
        lease.residence.agency.code
        for lease in m.Lease.objects.current().filter(household__account_homes__account=main)
    }
    assert agencies == {"01", "02"} and main.mobile_verified_at and main.activated_at
    kinds = set(Consent.objects.filter(account=main).values_list("kind", flat=True))
    assert kinds == {"terms", "privacy", "paperless", "commercial", "general"}
    departed = accounts["tenant-demo-4"]
    end = m.Lease.objects.get(household=departed.current_household).end_date
    from django.utils import timezone

    assert 0 < (timezone.localdate() - end).days <= 31 and departed.read_only
    documents = HouseholdDocument.objects.filter(household__account_homes__account=main)
    assert documents.count() == 6
    for document in documents:
        assert document.is_demo and "(démonstration)" in document.title
        with document.file.open("rb") as handle:
            data = handle.read()
        assert _sniff(data) in INSURANCE_TYPES and data.rstrip().endswith(b"%%EOF")
    assert HouseholdBalance.objects.filter(household__account_homes__account=main).count() == 2
    letters = ProvisionalCredential.objects.filter(batch="demo", used_at__isnull=True)
    assert letters.count() == 3
    assert not letters.filter(household__account_homes__isnull=False).exists()


def _parse_pdf_text(data: bytes) -> str:
    import re

    return " ".join(
        part.decode("cp1252").replace("\\(", "(").replace("\\)", ")")
        for part in re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", data)
    )


@pytest.mark.django_db
def test_the_demo_documents_are_real_pdfs(demo_data):
    import shutil
    import subprocess

    from backend.accounts.models import HouseholdDocument

    document = HouseholdDocument.objects.filter(is_demo=True).order_by("pk").first()
    with document.file.open("rb") as handle:
        data = handle.read()
    text = _parse_pdf_text(data)
    assert "Avis d’échéance" in text and "€" in text
    # A real reader opens it (poppler-utils, installed by scripts/system-deps.sh).
    assert shutil.which("pdftotext"), "pdftotext missing: run make test (system-deps)"
    result = subprocess.run(
        ["pdftotext", document.file.path, "-"], capture_output=True, check=True, text=True
    )
    assert "démonstration" in result.stdout and not result.stderr


@pytest.mark.django_db
def test_make_run_prints_a_newcomer_who_can_activate_and_a_tenant_who_can_log_in(demo_data):
    import re

    from backend.accounts import tenancy
    from backend.accounts.models import TenantAccount

    banner = printed_banner()
    found = re.search(r"Locataire à activer\u00a0: référence (\d+), module (\d+), nom (.+)", banner)
    assert found, banner
    reference, module, surname = found.groups()
    organisation = m.Organisation.objects.get(code=demo.ORGANISATION_CODE)
    before = TenantAccount.objects.count()
    result = tenancy.activate_from_notice(
        organisation,
        reference=reference,
        module=module,
        surname=surname.strip(),
        email="nouvel.arrivant@example.org",
        password="Le chat de la voisine dort",
        confirm="Le chat de la voisine dort",
        choices=tenancy.Choices(accept_terms=True),
    )
    account = TenantAccount.objects.get(pk=result.account_id)
    assert account.status == "pending" and TenantAccount.objects.count() == before + 1
    assert account.current_household.leases.get().reference == reference
    # The next banner offers the next household.
    assert f"référence {reference}," not in printed_banner()
    # The demo tenant logs in with the printed address and password (and so does the departed).
    logins = re.findall(r"^\s+(\S+@\S+)\s", banner, flags=re.MULTILINE)
    assert len(logins) == 2 and f"mot de passe\u00a0: {demo.demo_password()}" in banner
    for email in logins:
        assert tenancy.authenticate(organisation, email, demo.demo_password()).email == email
    letter = re.search(r"identifiant (P-DEMO-\d+), mot de passe provisoire (\S+)", banner)
    assert tenancy.check_provisional(organisation, *letter.groups()).batch == "demo"


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_has_a_year_of_requests_on_every_channel(demo_data):
    from collections import Counter

    from django.db.models import Min
    from django.utils import timezone

    from tickets.models import Appointment, Event, Request, Status

    requests = Request.objects.all()
    assert requests.count() > 2000
    channels = Counter(requests.values_list("channel", flat=True))
    assert {"phone", "counter", "field", "sms", "email", "qr"} <= set(channels), channels
    assert all(n >= 50 for n in channels.values()), channels
    kinds = set(requests.values_list("kind", flat=True))
    urgencies = set(requests.values_list("urgency", flat=True))
    assert kinds == {"technical", "complaint"} and urgencies == {"urgent", "normal", "low"}
    now = timezone.now()
    first = requests.aggregate(first=Min("created_at"))["first"]
    assert 330 < (now - first).days <= 366
    statuses = Counter(requests.values_list("status", flat=True))
    assert statuses["closed"] > 0.8 * sum(statuses.values()), statuses
    assert {"new", "acknowledged", "scheduled", "done", "cancelled"} <= set(statuses)
    open_requests = list(requests.filter(status__in=["new", "acknowledged", "scheduled"]))
    assert sum(r.is_overdue for r in open_requests) >= 5
    assert Appointment.objects.filter(status="booked", slot__starts_at__gt=now).count() >= 5
    closed = requests.filter(status=Status.CLOSED)
    rated = closed.filter(satisfaction__isnull=False).count()
    assert 0.3 * closed.count() < rated < 0.8 * closed.count()
    assert set(
        requests.exclude(work_orders=None).values_list("work_orders__provider__name", flat=True)
    ) >= {"Ascenseurs du Centre", "Thermi-Loire", "Multitech 37", "Régie Deux Rives"}
    # The timeline agrees with the statuses: taken first, its last status change is the status.
    last_status, first_kind = {}, {}
    for request_id, kind, status in Event.objects.order_by("at", "id").values_list(
        "request_id", "kind", "status"
    ):
        first_kind.setdefault(request_id, kind)
        if kind == Event.Kind.STATUS:
            last_status[request_id] = status
    for request in requests.only("pk", "status", "created_at", "closed_at"):
        assert first_kind[request.pk] == Event.Kind.CREATED
        assert last_status.get(request.pk, Status.NEW) == request.status, request
        assert request.created_at <= now
    assert not Event.objects.filter(at__gt=now).exists()


@pytest.mark.django_db
def test_the_demo_lift_breakdown_reported_three_times_went_through_the_services(demo_data):
    from messaging.models import Message
    from tickets.models import Event, Incident

    incident = Incident.objects.get(status=Incident.Status.RESOLVED, category="lift")
    requests = list(incident.requests.order_by("created_at"))
    assert [r.channel for r in requests] == ["phone", "field", "sms"]
    assert {r.status for r in requests} == {"closed"}
    assert [r.satisfaction for r in requests].count(None) == 1
    order = requests[0].work_orders.get()
    assert order.provider.name == "Ascenseurs du Centre" and order.status == "done"
    assert order.appointments.get().slot.starts_at < order.done_at
    for request in requests:
        messages = Message.objects.filter(person=request.person, campaign__object_id=request.pk)
        assert {m.status for m in messages} == {"delivered"}
        statuses = list(
            request.events.filter(kind=Event.Kind.STATUS).values_list("status", flat=True)
        )
        assert statuses == ["acknowledged", "scheduled", "done", "closed"], statuses
        # Taken, grouped, appointment, done, closed (and the thanks for a score, untold).
        told = request.events.filter(kind=Event.Kind.TOLD, internal=False).count()
        assert told == 5 and messages.count() in (5, 6), request.channel
    # Every step happened at its own moment, in order, in the past.
    times = list(requests[0].events.values_list("at", flat=True))
    assert times == sorted(times) and (times[-1] - times[0]).total_seconds() > 20 * 3600


@pytest.mark.django_db
def test_a_lift_broken_this_morning_shows_its_technician_on_the_hall_page(demo_data):
    from datetime import timedelta

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from tickets import public
    from tickets.models import Appointment

    tomorrow = timezone.localdate() + timedelta(days=1)
    appointment = Appointment.objects.select_related("work_order__request").get(
        status="booked",
        slot__starts_at__date=tomorrow,
        work_order__request__channel="qr",
        work_order__request__category="lift",
    )
    request = appointment.work_order.request
    assert request.status == "scheduled" and request.unit_id is None
    assert timezone.localdate(request.created_at) == timezone.localdate()
    page = Client().get(reverse("tickets:place", args=[public.place_token(request.entrance)]))
    assert "Technicien attendu le" in page.content.decode()


@pytest.mark.django_db
def test_a_request_after_the_demo_continues_its_references(demo_data):
    from django.utils import timezone

    from tickets import services
    from tickets.models import Counter, Request

    advisor = User.objects.get(username="conseiller")
    year = timezone.localdate().year
    last = Counter.objects.get(prefix="D", year=year).value
    assert Request.objects.filter(reference=f"D{year}-{last:06d}").exists()
    unit = m.Lease.objects.current().filter(end_date=None).first().unit
    request = services.create_request(
        advisor,
        services.RequestInput(unit_id=unit.pk, category="leak", description="Fuite sous l'évier"),
        "phone",
    )
    assert request.reference == f"D{year}-{last + 1:06d}"
    order = services.send_order(advisor, request.pk, services.OrderInput())
    orders = Counter.objects.get(prefix="BT", year=year).value
    assert order.number == f"BT{year}-{orders:06d}" and order.provider.name == "Thermi-Loire"
