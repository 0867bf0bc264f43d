"""A tenant account after the move-out, an unused account, and the retention of the data the
account reads: each step with the dates moved (explicit `now`, no frozen clock), what the
read-only space masks and refuses, the closed login, the anonymisation traced through every
table, leases and requests on their own clocks, and every run twice."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db.models import Q
from django.test import Client
from django.utils import formats, timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from backend.accounts import lifecycle, tenancy
from backend.accounts.models import (
    AccountHome,
    AccountToken,
    AuditRecord,
    Consent,
    HelpRequest,
    HouseholdBalance,
    HouseholdDocument,
    InsuranceCertificate,
    TenantAccount,
    User,
)
from backend.accounts.tenant_space import mask
from backend.core.errors import ServiceError
from backend.estate import models as m
from messaging.models import (
    Campaign,
    CapturedMessage,
    ChannelBlock,
    InboundMessage,
    Message,
    OptOut,
)
from tickets.models import Event, Link, Request
from tickets.services import search_text_of

PASSWORD = "Le chat de la voisine dort"
EMAIL = "nom1@example.org"
MOBILE = "+33639981122"
BACKEND = "backend.accounts.backends.ModelBackendWithOrganisation"


def french(message: str, **values) -> str:
    with translation.override("fr"):
        text = gettext(message)
    return text % values if values else text


@pytest.fixture
def world(
    estate, tenants, messaging_settings, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "http://testserver"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TENANT_DEACTIVATE_DAYS = 92
    settings.TENANT_ANONYMISE_DAYS = 30
    settings.TENANT_INACTIVE_WARN_DAYS = 700
    settings.TENANT_INACTIVE_CLOSE_DAYS = 730
    settings.LEASE_RETENTION_YEARS = 3
    settings.REQUEST_RETENTION_YEARS = 3
    settings.ACCOUNTING_RETENTION_YEARS = 10
    lease = m.Lease.objects.filter(residence=estate.tilleuls).order_by("pk").first()
    lease.payment_method = m.PaymentMethod.DIRECT_DEBIT
    lease.save()

    class World:
        pass

    world = World()
    world.estate, world.lease, world.person = estate, lease, lease.household.people.get()
    world.household = lease.household
    world.organisation = estate.organisation
    world.commit = lambda: django_capture_on_commit_callbacks(execute=True)
    world.now = timezone.now()
    world.today = timezone.localdate(world.now)
    return world


def open_account(world, with_mobile=True, email=EMAIL, person=None) -> TenantAccount:
    """Activation, verification, a verified login mobile: every trace a real account leaves."""
    with world.commit():
        tenancy.activate_from_notice(
            world.organisation,
            reference=world.lease.reference,
            module=world.lease.module_number,
            surname=(person or world.person).last_name,
            email=email,
            password=PASSWORD,
            confirm=PASSWORD,
            choices=tenancy.Choices(paperless=True, general=True, accept_terms=True),
        )
    mail = CapturedMessage.objects.filter(body__contains="/locataire/verifier/").latest("id")
    token = re.search(r"/locataire/verifier/([^/\s]+)/", mail.body).group(1)
    with world.commit():
        tenancy.verify_email(token)
    account = TenantAccount.objects.select_related("user").get(email=email)
    if with_mobile:
        with world.commit():
            tenancy.start_mobile(account, "06 39 98 11 22")
        code = re.search(r"\b(\d{6})\b", Message.objects.get(to=MOBILE).body).group(1)
        tenancy.confirm_mobile(account, code)
        account.refresh_from_db()
    return account


def move_out(world, on: date, lease=None) -> None:
    m.Lease.objects.filter(pk=(lease or world.lease).pk).update(end_date=on)


def run_accounts(world, now):
    with world.commit():
        return lifecycle.run_accounts(now)


def counts(result, world) -> dict:
    return result.get(str(world.organisation.pk), {})


def main(response) -> str:
    """The page's own content (the header names the logged-in user, as on every page)."""
    return response.content.decode().split("<main", 1)[1]


def space_client(account) -> Client:
    client = Client()
    client.force_login(account.user, backend=BACKEND)
    return client


# --- departure: read-only, masked ----------------------------------------------------------------


def test_the_account_departs_on_the_move_out_date_not_before(world):
    account = open_account(world)
    move_out(world, world.today + timedelta(days=1))
    run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE  # still living there until tomorrow
    move_out(world, world.today)
    result = run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEPARTED and account.read_only
    assert account.departed_at == world.now
    assert counts(result, world)["departed"] == 1
    record = AuditRecord.objects.get(action="departed", account=account)
    assert record.detail["move_out"] == world.today.isoformat()
    # A second run changes nothing.
    again = run_accounts(world, world.now)
    assert counts(again, world).get("departed", 0) == 0
    assert AuditRecord.objects.filter(action="departed").count() == 1


def test_a_household_with_another_current_lease_stays_active(world, estate):
    account = open_account(world)
    unit = m.Unit.objects.create(
        entrance=m.Entrance.objects.get(residence=estate.moulin), code="R02-9", door="9"
    )
    m.Lease.objects.create(
        unit=unit,
        household=world.household,
        reference="10029998",
        module_number="01",
        start_date=world.today - timedelta(days=10),
    )
    move_out(world, world.today - timedelta(days=5))
    run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE


def test_a_corrected_move_out_date_brings_the_account_back(world):
    account = open_account(world)
    move_out(world, world.today - timedelta(days=1))
    run_accounts(world, world.now)
    move_out(world, None)  # the ERP's correction
    run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE and account.departed_at is None
    assert AuditRecord.objects.filter(action="departure_cancelled", account=account).exists()


def test_the_departed_space_is_read_only_with_sensitive_data_masked(world):
    account = open_account(world)
    HouseholdBalance.objects.create(
        household=world.household, amount=Decimal("123.45"), as_of=world.today
    )
    client = space_client(account)
    before = client.get("/locataire/espace/").content.decode()
    assert world.lease.reference in before and "Nom1" in before and "123,45" in before
    move_out(world, world.today)
    run_accounts(world, world.now)
    page = main(client.get("/locataire/espace/"))
    assert world.lease.reference not in page
    assert f"L{mask(world.lease.reference)}" in page  # "L10••••00"
    assert "Prénom1" not in page and "Nom1" not in page
    assert "123,45" not in page and "123.45" not in page
    assert world.household.name not in page
    closes = world.today + timedelta(days=92)
    with translation.override("fr"):
        assert formats.date_format(closes, "DATE_FORMAT") in page
    assert "/locataire/espace/demandes/nouvelle/" not in page
    profile = main(client.get("/locataire/espace/profil/"))
    assert EMAIL not in profile and MOBILE not in profile
    assert 'name="action"' not in profile  # no form
    for path in ("consentements", "fusion", "assurance"):
        assert (
            '<form method="post" class="stacked"'
            not in client.get(f"/locataire/espace/{path}/").content.decode()
        )


def test_every_write_is_refused_in_read_only(world, estate):
    account = open_account(world)
    move_out(world, world.today)
    run_accounts(world, world.now)
    account.refresh_from_db()
    client = space_client(account)
    refusal = escape(french("Your space is read-only since your departure."))
    new = "Une autre phrase de passe solide"
    consents_before = Consent.objects.count()
    posts = {
        "/locataire/espace/profil/": {
            "action": "password",
            "pw-old": PASSWORD,
            "pw-password": new,
            "pw-confirm": new,
        },
        "/locataire/espace/consentements/": {
            "paperless": "no",
            "commercial": "yes",
            "general": "no",
        },
        "/locataire/espace/fusion/": {"identifier": "P-X", "secret": "s", "password": PASSWORD},
        "/locataire/espace/assurance/": {
            "insurer": "Assur",
            "valid_until": (world.today + timedelta(days=100)).isoformat(),
            "file": ContentFile(b"%PDF-1.4 test", name="attestation.pdf"),
        },
        "/locataire/espace/demandes/nouvelle/": {
            "category": "plumbing",
            "place": "unit",
            "description": "Fuite",
        },
    }
    for path, data in posts.items():
        response = client.post(path, data, follow=True)
        assert refusal in response.content.decode(), path
    assert client.get("/locataire/espace/demandes/nouvelle/").status_code == 302
    account.user.refresh_from_db()
    assert account.user.check_password(PASSWORD)
    assert Consent.objects.count() == consents_before
    assert not InsuranceCertificate.objects.exists() and not Request.objects.exists()
    assert AccountHome.objects.filter(account=account).count() == 1
    # The services refuse too, whoever calls them.
    account.refresh_from_db()
    calls = [
        lambda: tenancy.change_password(account, PASSWORD, new, new),
        lambda: tenancy.request_email_change(account, "autre@example.org", PASSWORD),
        lambda: tenancy.start_mobile(account, "06 39 98 33 44"),
        lambda: tenancy.confirm_mobile(account, "123456"),
        lambda: tenancy.update_consents(account, tenancy.Choices(general=False)),
        lambda: tenancy.merge(account, identifier="P-X", secret="s", password=PASSWORD),
    ]
    for call in calls:
        with pytest.raises(ServiceError) as refused:
            call()
        assert refused.value.code == "read_only"
    # Reading and switching homes still work.
    assert client.get("/locataire/espace/").status_code == 200
    assert client.get("/locataire/espace/mes-donnees/").status_code == 200


# --- deactivation: closed, no recovery ------------------------------------------------------------


def log_in(world, password=PASSWORD) -> str:
    client = Client()
    client.get(f"/locataire/?client={world.organisation.code}")
    with world.commit():
        response = client.post("/locataire/connexion/", {"identifier": EMAIL, "password": password})
    return response.content.decode()


def test_the_account_is_deactivated_after_the_read_only_period(world):
    account = open_account(world)
    client = space_client(account)
    moved = world.today - timedelta(days=92)
    move_out(world, moved)
    run_accounts(world, world.now - timedelta(days=1))  # 91 days after the move-out
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEPARTED
    result = run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEACTIVATED
    assert account.deactivated_at == world.now and counts(result, world)["deactivated"] == 1
    assert not User.objects.get(pk=account.user_id).is_active
    assert AuditRecord.objects.get(action="deactivated", account=account).detail["cause"] == (
        "departure"
    )
    assert client.get("/locataire/espace/")["Location"] == "/locataire/connexion/"
    # The right password is told the account is closed; a wrong one, the usual answer.
    closed = escape(
        french(
            "This account is closed (you left your home, or it was not used for a long "
            "time). To get a tenant space again, contact your agency."
        )
    )
    assert closed in log_in(world)
    wrong = log_in(world, password="pas le bon")
    assert closed not in wrong
    assert escape(french("Incorrect identifier or password.")) in wrong
    # No recovery: no link is sent, and a link sent before no longer works.
    assert not AccountToken.objects.filter(account=account, used_at__isnull=True).exists()
    sent = CapturedMessage.objects.count()
    with world.commit():
        tenancy.forgot_password(world.organisation, EMAIL)
    assert CapturedMessage.objects.count() == sent
    raw = tenancy.issue_token(account, AccountToken.Purpose.RESET_PASSWORD, timedelta(minutes=30))
    with pytest.raises(ServiceError):
        tenancy.reset_password(raw, "Une autre phrase solide", "Une autre phrase solide")


# --- anonymisation ------------------------------------------------------------------------------


def traces(world, account, values) -> dict:
    """Every row that still holds one of these values, table by table."""
    found = {}

    def look(name, queryset, fields):
        query = Q()
        for value in values:
            for field in fields:
                query |= Q(**{f"{field}__icontains": value})
        rows = list(queryset.filter(query))
        if rows:
            found[name] = rows

    look("User", User.objects.all(), ["username", "email", "first_name", "last_name"])
    look("TenantAccount", TenantAccount.objects.all(), ["email", "pending_email", "mobile"])
    look("Message", Message.objects.all(), ["to", "subject", "body", "html"])
    look(
        "CapturedMessage", CapturedMessage.objects.all(), ["recipients", "subject", "body", "html"]
    )
    look("InboundMessage", InboundMessage.objects.all(), ["from_number", "body"])
    look("Person.search_text", m.Person.objects.all(), ["search_text"])
    look("AccountToken", AccountToken.objects.all(), ["target"])
    look("AuditRecord", AuditRecord.objects.all(), ["actor_label", "reason", "detail"])
    return found


def test_anonymisation_leaves_no_trace_of_the_account(world, estate):
    account = open_account(world)
    user_pk = account.user_id
    # A pending change of address, a text from the login mobile, one attached to a request.
    tenancy.request_email_change(account, "nouvelle@example.org", PASSWORD)
    InboundMessage.objects.create(
        provider_id="SM-own",
        from_number=MOBILE,
        body="Bonjour, c'est Prénom1 Nom1",
        kind=InboundMessage.Kind.UNKNOWN,
        organisation=world.organisation,
    )
    request = Request.objects.create(
        reference="D-1",
        organisation=world.organisation,
        residence=estate.tilleuls,
        kind="technical",
        category="plumbing",
        team="technical",
        urgency="normal",
        description="Fuite sous l'évier",
        channel="sms",
    )
    attached = InboundMessage.objects.create(
        provider_id="SM-request",
        from_number=MOBILE,
        body="Fuite sous l'évier",
        kind=InboundMessage.Kind.UNKNOWN,
        organisation=world.organisation,
        content_type=ContentType.objects.get_for_model(Request),
        object_id=str(request.pk),
    )
    tenancy.change_password(account, PASSWORD, PASSWORD + " !", PASSWORD + " !")  # audited
    own = [EMAIL, "nouvelle@example.org", MOBILE]
    assert {"User", "TenantAccount", "Message", "CapturedMessage", "InboundMessage"} <= set(
        traces(world, account, own)
    )
    assert traces(world, account, ["Prénom1"]).keys() >= {"User", "AuditRecord"}

    move_out(world, world.today - timedelta(days=92 + 30))
    run_accounts(world, world.now - timedelta(days=30))  # departed, then deactivated
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEACTIVATED
    run_accounts(world, world.now - timedelta(days=1))  # 29 days after: not yet
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEACTIVATED
    result = run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ANONYMISED
    assert account.anonymised_at == world.now and counts(result, world)["anonymised"] == 1

    left = traces(world, account, own)
    # Only the text attached to a request stays, with the request's retention.
    assert left == {"InboundMessage": [attached]}, left
    names = traces(world, account, ["Prénom1", "Nom1"])
    assert set(names) == {"Person.search_text"}, names  # the household's data, on its own clock
    user = User.objects.get(pk=user_pk)
    assert not user.is_active and not user.has_usable_password()
    assert (user.first_name, user.last_name, user.email) == ("", "", "")
    assert not AccountToken.objects.filter(account=account).exists()
    record = AuditRecord.objects.get(action="anonymised", account=account)
    assert record.detail["tokens_deleted"] >= 3 and record.detail["messages"] >= 2
    assert record.detail["inbound_texts"] == 1 and record.detail["captured_messages"] >= 3
    # Nobody logs in with the old address: the usual answer.
    assert escape(french("Incorrect identifier or password.")) in log_in(world)
    # The lease and the household are untouched.
    world.person.refresh_from_db()
    assert world.person.last_name == "Nom1" and world.person.email == "locataire1@example.org"
    assert m.Lease.objects.get(pk=world.lease.pk).reference == world.lease.reference

    # Idempotent: a second run finds nothing to do and changes nothing.
    snapshot = list(
        TenantAccount.objects.values_list("pk", "status", "email", "mobile", "anonymised_at")
    )
    messages = list(Message.objects.values_list("pk", "to", "body"))
    again = run_accounts(world, world.now + timedelta(days=1))
    assert not any(counts(again, world).values())
    assert (
        list(TenantAccount.objects.values_list("pk", "status", "email", "mobile", "anonymised_at"))
        == snapshot
    )
    assert list(Message.objects.values_list("pk", "to", "body")) == messages


# --- inactive accounts ---------------------------------------------------------------------------


def warnings_to(address) -> int:
    subject = french("Your tenant account will be closed — %(landlord)s", landlord="Habitat Test")
    return CapturedMessage.objects.filter(recipients__icontains=address, subject=subject).count()


def test_an_unused_account_is_warned_once_then_closed_and_back_to_paper(world):
    account = open_account(world, with_mobile=False)
    paperless = tenancy.current_consents(world.household.pk)["paperless"]
    assert paperless.granted
    TenantAccount.objects.filter(pk=account.pk).update(last_seen_at=world.now - timedelta(days=699))
    run_accounts(world, world.now)
    assert warnings_to(EMAIL) == 0
    later = world.now + timedelta(days=1)
    result = run_accounts(world, later)
    assert warnings_to(EMAIL) == 1 and counts(result, world)["warned"] == 1
    account.refresh_from_db()
    assert account.inactivity_warned_at == later
    run_accounts(world, later + timedelta(days=1))
    assert warnings_to(EMAIL) == 1  # once
    run_accounts(world, later + timedelta(days=29))  # 729 days without a login
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE
    result = run_accounts(world, later + timedelta(days=30))
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEACTIVATED and counts(result, world)["closed"]
    assert not User.objects.get(pk=account.user_id).is_active
    latest = tenancy.current_consents(world.household.pk)["paperless"]
    assert not latest.granted and latest.source == "inactivity"
    assert Consent.objects.filter(kind="paperless", household=world.household).count() == 2
    record = AuditRecord.objects.get(action="deactivated", account=account)
    assert record.detail == {"cause": "inactivity", "paperless_switched_to_paper": 1}
    run_accounts(world, later + timedelta(days=31))
    assert Consent.objects.filter(kind="paperless", household=world.household).count() == 2


def test_a_co_signatory_still_reading_the_home_keeps_the_paperless_notice(world):
    account = open_account(world, with_mobile=False)
    co = m.Person.objects.create(
        household=world.household,
        role=m.Person.Role.CO_SIGNATORY,
        first_name="Bruno",
        last_name="Martinez",
    )
    open_account(world, with_mobile=False, email="bruno@example.org", person=co)
    assert tenancy.current_consents(world.household.pk)["paperless"].granted
    TenantAccount.objects.filter(pk=account.pk).update(
        last_seen_at=world.now - timedelta(days=800),
        inactivity_warned_at=world.now - timedelta(days=31),
    )
    run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEACTIVATED
    assert tenancy.current_consents(world.household.pk)["paperless"].granted
    assert AuditRecord.objects.get(action="deactivated").detail["paperless_switched_to_paper"] == 0


def test_a_login_clears_the_warning(world):
    account = open_account(world, with_mobile=False)
    TenantAccount.objects.filter(pk=account.pk).update(last_seen_at=world.now - timedelta(days=701))
    run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.inactivity_warned_at is not None
    tenancy.authenticate(world.organisation, EMAIL, PASSWORD)
    account.refresh_from_db()
    assert account.inactivity_warned_at is None
    run_accounts(world, world.now + timedelta(days=40))
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE and warnings_to(EMAIL) == 1


def test_a_job_stopped_for_a_while_still_warns_before_closing(world):
    account = open_account(world, with_mobile=False)
    TenantAccount.objects.filter(pk=account.pk).update(last_seen_at=world.now - timedelta(days=800))
    run_accounts(world, world.now)
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE and warnings_to(EMAIL) == 1
    run_accounts(world, world.now + timedelta(days=30))
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.DEACTIVATED


# --- retention of the household's data -----------------------------------------------------------


def household_data(world, estate):
    """Everything the household leaves besides an account: messages, texts, opt-outs, blocked
    addresses, a request with its timeline and tracking link, documents."""
    person = world.person
    campaign = Campaign.objects.create(
        organisation=world.organisation, title="Travaux", purpose="information"
    )
    Message.objects.create(
        campaign=campaign,
        person=person,
        channel="sms",
        to=person.mobile,
        body="Bonjour Prénom1, travaux demain.",
    )
    CapturedMessage.objects.create(
        channel="sms", recipients=[person.mobile], body="Bonjour Prénom1, travaux demain."
    )
    InboundMessage.objects.create(
        provider_id="SM-person",
        from_number=person.mobile,
        body="Merci, Nom1",
        kind=InboundMessage.Kind.FROM_TENANT,
        person=person,
        organisation=world.organisation,
    )
    OptOut.objects.create(person=person, purpose="commercial", channel="sms", source="staff")
    ChannelBlock.objects.create(
        person=person, channel="email", address=person.email, code="550", reason="bounce"
    )
    request = Request(
        reference="D-7",
        organisation=world.organisation,
        residence=estate.tilleuls,
        unit=world.lease.unit,
        kind="technical",
        category="plumbing",
        team="technical",
        urgency="normal",
        description="Fuite chez Prénom1 Nom1",
        channel="phone",
        status="closed",
        household=world.household,
        person=person,
        contact_email=person.email,
    )
    request.search_text = search_text_of(request)
    request.save()
    Event.objects.create(
        request=request, kind="told", text="SMS", told="Bonjour Prénom1", author_label="Nom1"
    )
    Link.objects.create(
        token="t" * 43, request=request, person=person, expires_at=world.now + timedelta(days=9)
    )
    HelpRequest.objects.create(
        organisation=world.organisation,
        name="Prénom1 Nom1",
        contact=person.email,
        message="Je n'arrive pas à me connecter",
        household=world.household,
    )
    certificate = InsuranceCertificate(household=world.household, valid_until=world.today)
    certificate.file.save("attestation.pdf", ContentFile(b"%PDF-1.4"), save=True)
    return request, certificate


def test_leases_and_requests_are_anonymised_on_their_own_clocks(world, estate):
    request, certificate = household_data(world, estate)
    move_out(world, world.today - timedelta(days=1))
    Request.objects.filter(pk=request.pk).update(closed_at=world.now + timedelta(days=366))
    # A neighbour still living there, and a household with an old lease and a current one.
    neighbour = m.Lease.objects.filter(residence=estate.tilleuls).order_by("pk")[1]
    other = m.Unit.objects.create(entrance=world.lease.unit.entrance, code="R01-8", door="8")
    m.Lease.objects.create(
        unit=other,
        household=neighbour.household,
        reference="10019998",
        start_date=date(2001, 1, 1),
        end_date=date(2002, 1, 1),
    )
    person = world.person

    def snapshot():
        person.refresh_from_db()
        return (person.first_name, person.last_name, person.mobile, person.email)

    def run(now):
        return counts(lifecycle.run_retention(now), world)

    three_years = world.now.replace(year=world.now.year + 3)
    assert not any(run(world.now).values())
    assert not any(run(three_years - timedelta(days=2)).values())
    assert snapshot() == ("Prénom1", "Nom1", "+33639980001", "locataire1@example.org")

    done = run(three_years + timedelta(days=1))
    assert done["households"] == 1 and done["people"] == 1 and done["messages"] == 1
    assert done["inbound_texts"] == 1 and done["opt_outs"] == 1 and done["channel_blocks"] == 1
    assert done["insurance_certificates"] == 1 and done["help_requests"] == 1
    assert done["captured_messages"] == 1
    assert done.get("requests", 0) == 0
    assert snapshot() == ("Anonyme", "Anonyme", "", "")
    values = ["Prénom1", "Nom1", "+33639980001", "locataire1@example.org"]
    for model, fields in (
        (m.Person, ["search_text", "first_name", "last_name"]),
        (m.Household, ["name"]),
        (Message, ["to", "body"]),
        (CapturedMessage, ["recipients", "body"]),
        (InboundMessage, ["from_number", "body"]),
        (HelpRequest, ["name", "contact", "message"]),
    ):
        query = Q()
        for value in values:
            for field in fields:
                query |= Q(**{f"{field}__icontains": value})
        assert not model.objects.filter(query).exists(), model
    assert not OptOut.objects.exists() and not ChannelBlock.objects.exists()
    assert not Link.objects.exists() and not InsuranceCertificate.objects.exists()
    assert not certificate.file.storage.exists(certificate.file.name)
    # The request keeps its own data (its clock runs from its closure), names out of its search.
    request.refresh_from_db()
    assert request.person_id == person.pk and request.household_id == world.household.pk
    assert request.description == "Fuite chez Prénom1 Nom1" and "nom1" not in request.search_text
    # The lease stays, and so do the neighbours (one of their leases ended long ago).
    lease = m.Lease.objects.get(pk=world.lease.pk)
    assert lease.reference == world.lease.reference
    assert lease.end_date == world.today - timedelta(days=1)
    assert neighbour.household.people.get().last_name == "Nom2"
    # Idempotent.
    assert not any(run(three_years + timedelta(days=2)).values())

    four_years = world.now.replace(year=world.now.year + 4)
    assert not run(four_years).get("requests")
    done = run(four_years + timedelta(days=2))
    assert done["requests"] == 1
    request.refresh_from_db()
    assert request.person_id is None and request.household_id is None
    assert (request.description, request.contact_email) == ("", "")
    assert request.unit_id == world.lease.unit_id and request.category == "plumbing"
    event = request.events.get()
    assert event.told == "" and event.author_label == ""
    assert not run(four_years + timedelta(days=3)).get("requests")
    runs = AuditRecord.objects.filter(action="retention_run", organisation=world.organisation)
    assert runs.count() == 7
    assert all("Nom1" not in str(r.detail) + r.reason for r in runs)


def test_accounting_documents_are_deleted_with_their_files_after_their_retention(world):
    def document(period, kind=HouseholdDocument.Kind.RENT_NOTICE):
        doc = HouseholdDocument(household=world.household, kind=kind, title="Avis", period=period)
        doc.file.save(f"{period}.pdf", ContentFile(b"%PDF-1.4"), save=True)
        return doc

    cutoff = world.today.replace(year=world.today.year - 10)
    old = document(cutoff - timedelta(days=1))
    old_receipt = document(cutoff - timedelta(days=40), HouseholdDocument.Kind.RECEIPT)
    recent = document(cutoff + timedelta(days=1))
    certificate = document(cutoff - timedelta(days=400), HouseholdDocument.Kind.CERTIFICATE)
    HouseholdBalance.objects.create(
        household=world.household, amount=Decimal("10"), as_of=cutoff - timedelta(days=1)
    )
    done = counts(lifecycle.run_retention(world.now), world)
    assert done["accounting_documents"] == 2 and done["balances"] == 1
    assert set(HouseholdDocument.objects.all()) == {recent, certificate}
    assert not old.file.storage.exists(old.file.name)
    assert not old_receipt.file.storage.exists(old_receipt.file.name)
    assert recent.file.storage.exists(recent.file.name)
    assert not HouseholdBalance.objects.exists()
    assert not any(counts(lifecycle.run_retention(world.now), world).values())


def test_the_daily_jobs_are_registered_and_take_a_date(world):
    from backend import jobs
    from backend.accounts import tasks

    names = {p.name for p in jobs.periodic_jobs()}
    assert "backend.accounts.tasks.tenant_accounts_lifecycle" in names
    assert "backend.accounts.tasks.personal_data_retention" in names
    with world.commit():
        assert tasks.tenant_accounts_lifecycle(world.now.isoformat()) == {}
        assert tasks.personal_data_retention() == {}
    assert AuditRecord.objects.filter(action="accounts_run").count() == 2  # both organisations
