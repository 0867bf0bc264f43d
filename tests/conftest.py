"""The cast every test reuses (style.md: a small cast makes the permission matrix a table).

One organisation, two agencies:
- agency North: residences "Les Tilleuls" (sector North 1) and "Le Moulin" (sector North 2);
- agency South: residence "La Source" (sector South 1), in La Réunion for phone tests.
People:
- agent_a: proximity agent of sector North 1 (sees Les Tilleuls only);
- advisor: advisor of agency North (Les Tilleuls, Le Moulin);
- manager_b: manager of agency South (La Source only): "a manager of another agency";
- contractor: employee of a cleaning company whose contract covers Le Moulin only;
- admin: administrator of the organisation (everything in it);
- outsider: an administrator of another organisation.
"""

import os
from dataclasses import dataclass
from datetime import date

import pytest
from django.test import Client

from backend.accounts.models import ApiToken, Role, User
from backend.estate import models as m

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(config, items):
    # In CI nothing is skipped: a test that needs a service fails when the service is missing.
    if os.environ.get("CI") and not os.environ.get("RONDE_SERVICES"):
        raise pytest.UsageError("CI runs the suite through scripts/with-services.sh")


@dataclass
class Estate:
    organisation: m.Organisation
    north: m.Agency
    south: m.Agency
    tilleuls: m.Residence
    moulin: m.Residence
    source: m.Residence
    sector_north_1: m.Sector
    sector_north_2: m.Sector
    sector_south_1: m.Sector
    cleaner: m.Provider
    cleaning_contract: m.ProviderContract
    other_cleaner: m.Provider
    other_organisation: m.Organisation
    elsewhere: m.Residence


def make_residence(agency, code, name, postcode="37000", city="Tours", units=2, lease_prefix="10"):
    residence = m.Residence.objects.create(
        agency=agency,
        code=code,
        name=name,
        address=f"1 rue {name}",
        postcode=postcode,
        city=city,
        units_count=units,
    )
    building = m.Building.objects.create(residence=residence, code="B1", name="Bâtiment A")
    entrance = m.Entrance.objects.create(building=building, code="E1", name="Entrée 1")
    m.Equipment.objects.create(
        residence=residence,
        building=building,
        entrance=entrance,
        kind="lift",
        name=f"Ascenseur {name}",
    )
    for n in range(units):
        unit = m.Unit.objects.create(
            entrance=entrance, code=f"{code}-{n + 1}", floor=n, door=f"{n + 1}"
        )
        household = m.Household.objects.create(
            organisation=agency.organisation, name=f"Foyer {code} {n}"
        )
        m.Lease.objects.create(
            unit=unit,
            household=household,
            reference=f"{lease_prefix}{code[-2:]}{n:04d}",
            module_number="01",
            start_date=date(2020, 1, 1),
        )
    return residence


@pytest.fixture
def estate(db):
    org = m.Organisation.objects.create(code="TST", name="Habitat Test")
    north = m.Agency.objects.create(organisation=org, code="01", name="Agence Nord")
    south = m.Agency.objects.create(organisation=org, code="02", name="Agence Sud")
    tilleuls = make_residence(north, "R01", "Les Tilleuls")
    moulin = make_residence(north, "R02", "Le Moulin")
    source = make_residence(south, "R03", "La Source", postcode="97400", city="Saint-Denis")
    s1 = m.Sector.objects.create(agency=north, name="Nord 1")
    s1.residences.set([tilleuls])
    s2 = m.Sector.objects.create(agency=north, name="Nord 2")
    s2.residences.set([moulin])
    s3 = m.Sector.objects.create(agency=south, name="Sud 1")
    s3.residences.set([source])
    cleaner = m.Provider.objects.create(
        organisation=org, name="Propre & Net", kind="cleaning", email="contact@propre-net.example"
    )
    contract = m.ProviderContract.objects.create(
        provider=cleaner,
        reference="MEN-1",
        categories=["cleaning"],
        start_date=date(2024, 1, 1),
        rework_deadline_hours=48,
        penalty_per_day=50,
        contest_days=15,
    )
    m.ContractSite.objects.create(contract=contract, residence=moulin, visit_days=[0, 3])
    other_cleaner = m.Provider.objects.create(
        organisation=org, name="Brille Partout", kind="cleaning"
    )
    other_contract = m.ProviderContract.objects.create(
        provider=other_cleaner,
        reference="MEN-2",
        categories=["cleaning"],
        start_date=date(2024, 1, 1),
    )
    m.ContractSite.objects.create(contract=other_contract, residence=moulin)
    m.ContractSite.objects.create(contract=other_contract, residence=tilleuls)
    other_org = m.Organisation.objects.create(code="OTH", name="Autre Bailleur")
    other_agency = m.Agency.objects.create(
        organisation=other_org, code="01", name="Agence Ailleurs"
    )
    elsewhere = make_residence(other_agency, "X01", "Ailleurs", lease_prefix="20")
    return Estate(
        org,
        north,
        south,
        tilleuls,
        moulin,
        source,
        s1,
        s2,
        s3,
        cleaner,
        contract,
        other_cleaner,
        other_org,
        elsewhere,
    )


def make_user(username, role, organisation, **attachments):
    user = User(
        username=username, role=role, organisation=organisation, first_name=username.title()
    )
    if role == Role.CONTRACTOR:
        user.provider = attachments.pop("provider")
    user.set_password(PASSWORD)
    user.save()
    for name, values in attachments.items():
        getattr(user, name).set(values)
    return user


@dataclass
class Cast:
    agent_a: User
    advisor: User
    manager_b: User
    contractor: User
    admin: User
    outsider: User


@pytest.fixture
def cast(estate):
    return Cast(
        agent_a=make_user(
            "agent_a", Role.AGENT, estate.organisation, sectors=[estate.sector_north_1]
        ),
        advisor=make_user("advisor", Role.ADVISOR, estate.organisation, agencies=[estate.north]),
        manager_b=make_user(
            "manager_b", Role.MANAGER, estate.organisation, agencies=[estate.south]
        ),
        contractor=make_user(
            "contractor", Role.CONTRACTOR, estate.organisation, provider=estate.cleaner
        ),
        admin=make_user("admin", Role.ADMIN, estate.organisation),
        outsider=make_user("outsider", Role.ADMIN, estate.other_organisation),
    )


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def token_client():
    """A client that authenticates with a real bearer token, as integrations do."""

    def make(user):
        _, key = ApiToken.issue(user, "test")
        return Client(headers={"authorization": f"Bearer {key}"})

    return make


# --- real Chromium (recipes.md) ---------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A cheap Android phone held upright: 360 CSS pixels wide, French.
    return {
        **browser_context_args,
        "viewport": {"width": 360, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "fr-FR",
        "timezone_id": "Europe/Paris",
    }


# --- the Twilio double and a real SMTP server -------------------------------------------------
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "test-auth-token-0123456789"


@pytest.fixture(scope="session")
def twilio_mock(tmp_path_factory):
    from tests import twilio_mock as mock

    process, base = mock.start(tmp_path_factory.mktemp("prism"))
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except Exception:
        process.kill()


@pytest.fixture
def twilio(settings, twilio_mock, monkeypatch):
    """SMS through the real twilio SDK to the Prism double. `twilio.set("code=429")` makes the
    double answer that way (a Prefer header, added by a test HTTP client)."""
    from twilio.rest import Client

    from messaging.transports import twilio_sms

    settings.SMS_TRANSPORT = "twilio"
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM = "RONDE"
    settings.TWILIO_TWO_WAY_FROM = "+33939000001"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_URL = twilio_mock
    settings.SITE_URL = "https://ronde.example.fr"

    class Controls:
        def __init__(self):
            self.prefer: str | None = None
            self.requests: list = []

        def set(self, value):
            self.prefer = value

    controls = Controls()

    class PreferClient(twilio_sms._HttpClient):
        def request(self, method, url, params=None, data=None, headers=None, *args, **kwargs):
            headers = dict(headers or {})
            if controls.prefer:
                headers["Prefer"] = controls.prefer
            controls.requests.append(
                {
                    "method": method,
                    "url": url,
                    "data": dict(data or {}),
                    "params": dict(params or {}),
                }
            )
            return super().request(method, url, params, data, headers, *args, **kwargs)

    monkeypatch.setattr(
        twilio_sms,
        "client",
        lambda: Client(TWILIO_SID, TWILIO_TOKEN, http_client=PreferClient(twilio_mock, timeout=10)),
    )
    return controls


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; Django's SMTP backend points at it."""
    from aiosmtpd.controller import Controller

    from tests.twilio_mock import free_port

    class Inbox:
        def __init__(self):
            self.messages = []
            self.refuse = set()

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in self.refuse:
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            import email

            self.messages.append(email.message_from_bytes(envelope.content))
            return "250 Message accepted"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_TRANSPORT = "smtp"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    yield inbox
    controller.stop()


@pytest.fixture
def tenants(estate):
    """One person per lease of the cast's residences, each with a fiction mobile and an e-mail,
    preferring text messages."""
    people = []
    leases = m.Lease.objects.filter(
        residence__in=[estate.tilleuls, estate.moulin, estate.source]
    ).order_by("pk")
    for n, lease in enumerate(leases, start=1):
        people.append(
            m.Person.objects.create(
                household=lease.household,
                first_name=f"Prénom{n}",
                last_name=f"Nom{n}",
                mobile=f"+336399800{n:02d}",
                email=f"locataire{n}@example.org",
                preferred_channel="sms",
            )
        )
    return people


@pytest.fixture
def messaging_settings(settings):
    """Capture transports and no waiting for the rate limit (tests never time anything)."""
    from decimal import Decimal

    settings.SMS_TRANSPORT = "capture"
    settings.EMAIL_TRANSPORT = "capture"
    settings.EMAIL_BACKEND = "messaging.capture.CaptureEmailBackend"
    settings.SMS_RATE_PER_SECOND = Decimal(100000)
    settings.EMAIL_RATE_PER_SECOND = Decimal(100000)
    return settings


def zone_where(*, night: bool) -> str:
    """A time zone (Etc/GMT±N) where it is now night (22:00–06:59), or a weekday working hour
    (10:00–16:59) that is not a public holiday: quiet-hours tests that do not depend on when
    the suite runs."""
    from datetime import timedelta

    import holidays
    from django.utils import timezone

    now = timezone.now()
    for offset in range(-12, 15):
        local = now + timedelta(hours=offset)
        if night:
            ok = local.hour >= 22 or local.hour < 7
        else:
            ok = (
                10 <= local.hour < 17
                and local.weekday() != 6
                and local.date() not in holidays.France(years=local.year)
            )
        if ok:
            return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    raise AssertionError("no such zone")


# --- the agents' app ------------------------------------------------------------------------


@pytest.fixture
def field(estate, settings, tmp_path):
    """An agent of Le Moulin, the default grid (flushed by transactional tests), two photos."""
    from PIL import Image

    from inspections.grids import ensure_default_grid

    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_default_grid()
    agent = make_user("agent_b", Role.AGENT, estate.organisation, sectors=[estate.sector_north_2])
    photos = []
    for n, colour in enumerate(["red", "navy"]):
        path = tmp_path / f"photo-{n}.jpg"
        Image.new("RGB", (3000, 2000), colour).save(path, "JPEG", quality=95)
        photos.append(path)
    return agent, photos


@pytest.fixture
def noisy_photos(tmp_path):
    """Photos that stay large once compressed (noise), so that they go in several chunks."""
    from PIL import Image

    paths = []
    for n in range(2):
        path = tmp_path / f"noise-{n}.jpg"
        Image.frombytes("RGB", (1800, 1200), os.urandom(1800 * 1200 * 3)).save(
            path, "JPEG", quality=95
        )
        paths.append(path)
    return paths


@pytest.fixture
def rework_to_recheck(estate, field):
    """A visit of agent_b's finished with a major finding: its rework, to re-check."""
    from inspections.models import Rework
    from tests.test_inspections_pages import finished_visit

    finished_visit(field[0], estate, exceptions={0: "major"})
    return Rework.objects.get()
