"""The tenant API (/api/tenant/) end to end, as a phone app would use it: a cookie jar, the CSRF
token from GET /session, JSON in and out, the e-mails caught by a real SMTP server (aiosmtpd)
and their links' tokens sent back through the API. The same flows and the same bad input as
the pages (test_tenant_accounts.py), each refusal checked for its French message and for the
database it leaves unchanged."""

import io
import json
import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from backend.accounts.models import (
    AccountHome,
    AccountToken,
    AuditRecord,
    Consent,
    HelpRequest,
    HouseholdBalance,
    HouseholdDocument,
    InsuranceCertificate,
    LoginFailure,
    TenantAccount,
)
from backend.estate import models as m
from messaging.models import OptOut
from tests.conftest import client_for
from tests.test_tenant_accounts import PASSWORD, WEAK, body, link_in, provisional, subject

NEW = "Une autre phrase de passe solide"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world(estate, tenants, smtp_server, settings, django_capture_on_commit_callbacks, tmp_path):
    """The signatory of the first lease at Les Tilleuls, on direct debit; the e-mail jobs run
    when a request's transaction commits, as in production."""
    settings.SITE_URL = "http://testserver"
    settings.SMS_TRANSPORT = "capture"
    settings.EMAIL_RATE_PER_SECOND = Decimal(100000)
    settings.MEDIA_ROOT = tmp_path / "media"
    lease = m.Lease.objects.filter(residence=estate.tilleuls).order_by("pk").first()
    lease.payment_method = m.PaymentMethod.DIRECT_DEBIT
    lease.save()

    class World:
        pass

    world = World()
    world.estate, world.lease, world.inbox = estate, lease, smtp_server
    world.person = lease.household.people.get()
    world.organisation = estate.organisation
    world.commit = django_capture_on_commit_callbacks
    return world


class App:
    """A phone app talking to /api/tenant/ with CSRF checks enforced, as a browser would."""

    def __init__(self, world, code=None):
        self.world = world
        self.client = Client(enforce_csrf_checks=True)
        answer = self.client.get(f"/api/tenant/session?client={code or world.organisation.code}")
        assert answer.status_code == 200, answer.content
        self.token = answer.json()["csrf_token"]

    def get(self, path):
        return self.client.get("/api/tenant" + path)

    def send(self, method, path, data=None, *, token=True):
        headers = {"X-CSRFToken": self.token} if token else {}
        with self.world.commit(execute=True):
            response = getattr(self.client, method)(
                "/api/tenant" + path,
                json.dumps(data or {}),
                content_type="application/json",
                headers=headers,
            )
        answer = (
            response.json()
            if response.headers.get("Content-Type", "").startswith("application/json")
            else None
        )
        if isinstance(answer, dict) and "csrf_token" in answer:
            self.token = answer["csrf_token"]  # Django rotates it at login
        return response

    def post(self, path, data=None, **kwargs):
        return self.send("post", path, data, **kwargs)

    def put(self, path, data=None):
        return self.send("put", path, data)

    def upload(self, path, data):
        with self.world.commit(execute=True):
            return self.client.post("/api/tenant" + path, data, headers={"X-CSRFToken": self.token})


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def last_link(world, path: str) -> str:
    return token_of(link_in(world.inbox.messages[-1], path))


def notice(world, **changes):
    data = {
        "reference": f"L/{world.lease.reference}",
        "module": world.lease.module_number,
        "surname": world.person.last_name.upper(),
        "email": "nom1@example.org",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "paperless": True,
        "commercial": False,
        "general": True,
        "accept_terms": True,
    }
    data.update(changes)
    return data


def activated(world) -> App:
    app = App(world)
    assert app.post("/activation", notice(world)).status_code == 200
    assert (
        app.post("/verify", {"token": last_link(world, "/locataire/verifier/")}).status_code == 200
    )
    return app


def logged_in(world, identifier="nom1@example.org", password=PASSWORD, **extra) -> App:
    app = App(world)
    response = app.post("/login", {"identifier": identifier, "password": password, **extra})
    assert response.status_code == 200, response.content
    return app


def details(response) -> dict:
    return {d["field"]: d["message"] for d in response.json()["details"]}


# --- CSRF and the session ----------------------------------------------------------------------


def test_public_writes_need_the_csrf_token_like_the_pages(world):
    activated(world)
    app = App(world)
    for path, data in [
        ("/login", {"identifier": "nom1@example.org", "password": PASSWORD}),
        ("/activation", notice(world, email="autre@example.org")),
        ("/password/forgot", {"identifier": "nom1@example.org"}),
    ]:
        refused = app.post(path, data, token=False)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "csrf_failed"
        assert "jeton de sécurité" in refused.json()["message"].lower()
    assert TenantAccount.objects.count() == 1 and "_auth_user_id" not in app.client.session
    session = app.get("/session").json()
    assert session["logged_in"] is False and session["organisation"]["code"] == "TST"
    # Django rotates the token at login: the answer carries the new one, which works.
    old = app.token
    login = app.post("/login", {"identifier": "nom1@example.org", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["csrf_token"] != old
    assert app.get("/session").json()["logged_in"] is True
    assert app.post("/logout", {}, token=False).status_code == 403
    assert app.post("/logout", {}).status_code == 200
    assert app.get("/me").status_code == 401


def test_without_the_landlords_codes_nothing_is_matched(world):
    app = App(world, code="NOPE")  # two landlords in the cast: none chosen
    response = app.post("/activation", notice(world))
    assert response.status_code == 400 and response.json()["code"] == "landlord_unknown"
    assert not TenantAccount.objects.exists()


# --- activation ------------------------------------------------------------------------------------


def test_a_newcomer_activates_verifies_and_logs_in(world):
    app = App(world)
    response = app.post("/activation", notice(world))
    assert response.status_code == 200
    assert response.json()["email"] == "nom1@example.org"
    account = TenantAccount.objects.get()
    assert account.status == TenantAccount.Status.PENDING and account.person == world.person
    refused = App(world).post("/login", {"identifier": "nom1@example.org", "password": PASSWORD})
    assert refused.status_code == 400 and "pas encore vérifiée" in refused.json()["message"]
    mail = world.inbox.messages[-1]
    assert mail["To"] == "nom1@example.org" and "Confirmez" in subject(mail)
    token = token_of(link_in(mail, "/locataire/verifier/"))
    assert app.post("/verify", {"token": token}).status_code == 200
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE and account.activated_at
    assert any("Bienvenue" in subject(m) for m in world.inbox.messages)
    reused = app.post("/verify", {"token": token})
    assert reused.status_code == 400 and "déjà été utilisé" in reused.json()["message"]
    latest = {c.kind: c for c in Consent.objects.filter(household=world.lease.household)}
    assert latest["paperless"].granted and latest["general"].granted
    assert not latest["commercial"].granted and latest["terms"].version
    assert OptOut.objects.filter(person=world.person, purpose="commercial").exists()
    # Login by e-mail ("remember me": a lasting cookie), then by the contract reference.
    phone = App(world)
    login = phone.post(
        "/login", {"identifier": "nom1@example.org", "password": PASSWORD, "remember": True}
    )
    assert login.status_code == 200
    assert int(login.cookies["sessionid"]["max-age"]) == 30 * 86400
    me = phone.get("/me").json()
    assert me["email"] == "nom1@example.org" and me["home"]["contract"] == world.lease.reference
    assert me["status"] == "active" and not me["read_only"]
    by_reference = App(world).post(
        "/login", {"identifier": f"L{world.lease.reference}", "password": PASSWORD}
    )
    assert by_reference.status_code == 200
    assert not by_reference.cookies["sessionid"]["max-age"]  # until the browser closes


@pytest.mark.parametrize(
    "change",
    [
        {"module": "99"},  # wrong module number
        {"surname": "Nom2"},  # the surname of another household's signatory
        {"reference": "10R020000"},  # the contract of another household, with our surname
        {"reference": "99999999"},  # no such contract
    ],
)
def test_wrong_details_get_the_same_clear_answer_and_create_nothing(world, change):
    response = App(world).post("/activation", notice(world, **change))
    assert response.status_code == 422
    assert response.json()["message"] == "Les données envoyées ne sont pas valides."
    assert "ne correspondent à aucun logement" in details(response)["reference"]
    assert not TenantAccount.objects.exists() and not Consent.objects.exists()
    assert not world.inbox.messages


def test_a_household_with_an_account_gets_the_same_answer_and_an_email(world):
    activated(world)
    before = len(world.inbox.messages)
    first = App(world).post("/activation", notice(world, email="autre@example.org"))
    assert first.status_code == 200 and first.json()["email"] == "autre@example.org"
    assert TenantAccount.objects.count() == 1
    told = world.inbox.messages[before:]
    assert [m["To"] for m in told] == ["nom1@example.org"] and "déjà un compte" in subject(told[0])
    # A new household would get the same keys and words.
    TenantAccount.objects.get().user.delete()
    fresh = App(world).post("/activation", notice(world, email="autre@example.org"))
    assert fresh.status_code == first.status_code and fresh.json() == first.json()


def test_resend_and_restart_fix_a_mistyped_address(world):
    app = App(world)
    app.post("/activation", notice(world, email="nom1@exmaple.org"))
    assert app.post("/activation/resend").json()["message"] == "Un nouvel e-mail est en route."
    assert [m["To"] for m in world.inbox.messages] == ["nom1@exmaple.org"] * 2
    first, second = (token_of(link_in(m, "/locataire/verifier/")) for m in world.inbox.messages)
    assert app.post("/verify", {"token": first}).status_code == 400  # replaced by the resend
    assert app.post("/activation/restart").status_code == 200
    assert not TenantAccount.objects.exists()
    assert app.post("/verify", {"token": second}).status_code == 400
    nothing = app.post("/activation/resend")
    assert nothing.status_code == 400 and nothing.json()["code"] == "nothing_pending"
    app.post("/activation", notice(world))
    assert TenantAccount.objects.get().email == "nom1@example.org"


def test_an_expired_verification_link_is_refused(world):
    app = App(world)
    app.post("/activation", notice(world))
    AccountToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = app.post("/verify", {"token": last_link(world, "/locataire/verifier/")})
    assert expired.status_code == 400 and "expiré" in expired.json()["message"]
    assert expired.json()["code"] == "expired_link"
    assert TenantAccount.objects.get().status == TenantAccount.Status.PENDING


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passwords_are_refused_with_the_rules_they_break(world, weak):
    response = App(world).post("/activation", notice(world, password=weak, confirm=weak))
    assert response.status_code == 422
    assert "ne respecte pas ces règles" in details(response)["password"]
    assert not TenantAccount.objects.exists() and not world.inbox.messages


def test_the_terms_must_be_accepted_and_the_passwords_match(world):
    response = App(world).post(
        "/activation", notice(world, accept_terms=False, confirm=PASSWORD + "!")
    )
    found = details(response)
    assert "conditions générales d’utilisation" in found["accept_terms"]
    assert "différents" in found["confirm"]
    assert not TenantAccount.objects.exists()


def test_the_live_checklist_uses_the_servers_rules(world):
    app = App(world)
    answer = app.post("/password/check", {"password": "azertyuiop123", "email": "a@b.fr"}).json()
    rules = {r["key"]: r["ok"] for r in answer["rules"]}
    assert rules == {"length": True, "personal": True, "common": True, "strength": False}
    assert all(r["label"] for r in answer["rules"])
    good = app.post("/password/check", {"password": PASSWORD}).json()
    assert all(r["ok"] for r in good["rules"])


# --- the agency's letter ---------------------------------------------------------------------------


def secure_data(ticket, **changes):
    data = {
        "ticket": ticket,
        "email": "lettre@example.org",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "accept_terms": True,
    }
    data.update(changes)
    return data


def test_activation_with_the_agencys_letter(world):
    credential = provisional(world)
    app = App(world)
    wrong = app.post("/activation/provisional", {"identifier": "P-7K2M-QX4D", "secret": "non"})
    assert wrong.status_code == 422 and "ne sont pas valides" in details(wrong)["identifier"]
    forged = app.post("/activation/provisional/secure", secure_data("faux:ticket"))
    assert forged.status_code == 400 and forged.json()["code"] == "bad_ticket"
    step1 = app.post(
        "/activation/provisional", {"identifier": "p-7k2m-qx4d", "secret": "mot-provisoire-42"}
    )
    assert step1.status_code == 200 and step1.json()["expires_in"] == 15 * 60
    ticket = step1.json()["ticket"]
    # A ticket lives a quarter of an hour.
    later = timezone.now().timestamp() + 16 * 60
    with mock.patch("django.core.signing.time.time", return_value=later):
        stale = app.post("/activation/provisional/secure", secure_data(ticket))
    assert stale.status_code == 400 and stale.json()["code"] == "bad_ticket"
    assert not TenantAccount.objects.exists()
    answer = app.post("/activation/provisional/secure", secure_data(ticket))
    assert answer.status_code == 200 and answer.json()["email"] == "lettre@example.org"
    app.post("/verify", {"token": last_link(world, "/locataire/verifier/")})
    credential.refresh_from_db()
    assert credential.used_at is not None
    assert TenantAccount.objects.get().status == TenantAccount.Status.ACTIVE
    again = app.post("/activation/provisional/secure", secure_data(ticket, email="x@example.org"))
    assert again.status_code == 400 and TenantAccount.objects.count() == 1


# --- login, throttling, recovery -------------------------------------------------------------------


def test_thirty_quick_wrong_passwords_are_throttled_but_recovery_still_works(world):
    activated(world)
    app = App(world)
    answers = [
        app.post("/login", {"identifier": "nom1@example.org", "password": "pas le bon"})
        for _n in range(30)
    ]
    assert answers[0].status_code == 422
    assert details(answers[0])[""] == "Identifiant ou mot de passe incorrect."
    assert answers[-1].status_code == 429 and answers[-1].json()["code"] == "throttled"
    assert "Trop de tentatives" in answers[-1].json()["message"]
    # Even the right password waits now, and no session was opened...
    right = app.post("/login", {"identifier": "nom1@example.org", "password": PASSWORD})
    assert right.status_code == 429 and app.get("/me").status_code == 401
    # ...but the recovery link always works, and lifts the delay.
    assert app.post("/password/forgot", {"identifier": "nom1@example.org"}).status_code == 200
    token = last_link(world, "/locataire/reinitialiser/")
    reset = app.post("/password/reset", {"token": token, "password": NEW, "confirm": NEW})
    assert reset.status_code == 200 and "changé" in reset.json()["message"]
    assert not LoginFailure.objects.filter(key__startswith="tenant:nom1@example.org|").exists()
    logged_in(world, password=NEW)


def test_forgotten_password_and_identifier_answer_the_same_whatever_exists(world):
    activated(world)
    app = App(world)
    before = len(world.inbox.messages)
    known = app.post("/password/forgot", {"identifier": "nom1@example.org"})
    unknown = app.post("/password/forgot", {"identifier": "x@example.org"})
    contract = app.post("/password/forgot", {"identifier": "L99999999"})
    assert known.status_code == unknown.status_code == contract.status_code == 200
    assert known.content == unknown.content == contract.content
    assert len(world.inbox.messages) == before + 1
    assert world.inbox.messages[-1]["To"] == "nom1@example.org"
    reference = world.lease.reference
    found = app.post("/identifier/forgot", {"reference": reference, "surname": "nom1"})
    wrong = app.post("/identifier/forgot", {"reference": reference, "surname": "Personne"})
    assert found.content == wrong.content and found.status_code == 200
    assert len(world.inbox.messages) == before + 2
    assert "nom1@example.org" in body(world.inbox.messages[-1])


def test_a_reset_link_is_single_use_checks_the_rules_and_logs_out_other_devices(world):
    activated(world)
    phone = logged_in(world)
    app = App(world)
    app.post("/password/forgot", {"identifier": "nom1@example.org"})
    token = last_link(world, "/locataire/reinitialiser/")
    weak = app.post(
        "/password/reset", {"token": token, "password": "motdepasse123", "confirm": "motdepasse123"}
    )
    assert weak.status_code == 422 and "password" in details(weak)
    assert (
        app.post("/password/reset", {"token": token, "password": NEW, "confirm": NEW}).status_code
        == 200
    )
    again = app.post("/password/reset", {"token": token, "password": NEW, "confirm": NEW})
    assert again.status_code == 400 and again.json()["code"] == "bad_link"
    assert phone.get("/me").status_code == 401


def test_log_out_of_every_device(world):
    activated(world)
    laptop, phone = logged_in(world), logged_in(world)
    assert phone.post("/logout", {"everywhere": True}).json()["message"] == (
        "Vous êtes déconnecté de tous vos appareils."
    )
    assert laptop.get("/me").status_code == 401


# --- profile -----------------------------------------------------------------------------------------


def test_changing_the_email_verifies_the_new_one_and_tells_the_old(world):
    activated(world)
    app = logged_in(world)
    wrong = app.post("/me/email", {"email": "nouveau@example.org", "password": "faux"})
    assert wrong.status_code == 422 and "mot de passe actuel" in details(wrong)["password"]
    assert TenantAccount.objects.get().pending_email == ""
    assert (
        app.post("/me/email", {"email": "nouveau@example.org", "password": PASSWORD}).status_code
        == 200
    )
    account = TenantAccount.objects.get()
    assert account.email == "nom1@example.org" and account.pending_email == "nouveau@example.org"
    assert world.inbox.messages[-1]["To"] == "nouveau@example.org"
    assert (
        app.post("/verify", {"token": last_link(world, "/locataire/verifier/")}).status_code == 200
    )
    account.refresh_from_db()
    assert account.email == "nouveau@example.org"
    assert world.inbox.messages[-1]["To"] == "nom1@example.org"
    logged_in(world, identifier="nouveau@example.org")


def test_changing_the_password_needs_the_old_one(world):
    activated(world)
    app = logged_in(world)
    wrong = app.post("/me/password", {"old": "faux", "password": NEW, "confirm": NEW})
    assert wrong.status_code == 422 and "mot de passe actuel" in details(wrong)["old"]
    assert TenantAccount.objects.get().user.check_password(PASSWORD)
    assert (
        app.post("/me/password", {"old": PASSWORD, "password": NEW, "confirm": NEW}).status_code
        == 200
    )
    assert app.get("/me").status_code == 200  # this device stays in
    logged_in(world, password=NEW)


def test_a_verified_mobile_becomes_an_identifier(world):
    from messaging.models import Message

    activated(world)
    app = logged_in(world)
    bad = app.post("/me/mobile", {"mobile": "12"})
    assert bad.status_code == 422 and "mobile" in details(bad)
    assert app.post("/me/mobile", {"mobile": "06 39 98 11 22"}).status_code == 200
    code = re.search(r"\b(\d{6})\b", Message.objects.get(to="+33639981122").body).group(1)
    wrong = app.post("/me/mobile/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "pas le bon" in details(wrong)["code"]
    assert TenantAccount.objects.get().mobile == ""
    assert app.post("/me/mobile/confirm", {"code": code}).status_code == 200
    assert app.get("/me").json()["mobile_verified"] is True
    logged_in(world, identifier="06 39 98 11 22")


def test_consents_change_and_messaging_follows(world):
    activated(world)
    app = logged_in(world)
    current = app.get("/me/consents").json()
    assert current["paperless"] and current["general"] and not current["commercial"]
    assert current["paperless_offered"] and len(current["history"]) == 5
    changed = app.put("/me/consents", {"paperless": False, "commercial": True, "general": False})
    assert changed.status_code == 200
    assert changed.json()["commercial"] and not changed.json()["general"]
    assert not OptOut.objects.filter(person=world.person, purpose="commercial").exists()
    assert OptOut.objects.filter(person=world.person, purpose="information").exists()
    m.Lease.objects.filter(pk=world.lease.pk).update(payment_method=m.PaymentMethod.TRANSFER)
    count = Consent.objects.count()
    refused = app.put("/me/consents", {"paperless": True, "commercial": True, "general": False})
    assert refused.status_code == 422 and "prélèvement" in details(refused)["paperless"]
    assert Consent.objects.count() == count


# --- several homes ---------------------------------------------------------------------------------


def second_contract(world):
    """A parking lease at Le Moulin (another sector) in another household of the same name."""
    parking = m.Unit.objects.create(
        entrance=m.Entrance.objects.get(residence=world.estate.moulin), code="P-12", kind="parking"
    )
    second = m.Household.objects.create(organisation=world.organisation, name="Foyer parking")
    m.Lease.objects.create(
        unit=parking,
        household=second,
        reference="10029999",
        module_number="02",
        start_date="2024-01-01",
    )
    m.Person.objects.create(
        household=second, role=m.Person.Role.SIGNATORY, first_name="Prénom1", last_name="Nom1"
    )
    return second


def test_merging_a_second_contract_with_the_wrong_password_changes_nothing(world):
    activated(world)
    second = second_contract(world)
    credential = provisional(
        world, household=second, identifier="P-PARK-0001", secret="secret-parking"
    )
    app = logged_in(world)
    refused = app.post(
        "/me/merge", {"identifier": "P-PARK-0001", "secret": "secret-parking", "password": "faux"}
    )
    assert refused.status_code == 422 and "mot de passe actuel" in details(refused)["password"]
    account = TenantAccount.objects.get()
    assert list(account.households.all()) == [world.lease.household]
    credential.refresh_from_db()
    assert credential.used_at is None
    # Another household's contract, with its own signatory's name: not joined.
    other = m.Lease.objects.filter(residence=world.estate.tilleuls).order_by("pk")[1]
    theirs = app.post(
        "/me/merge",
        {
            "reference": other.reference,
            "module": other.module_number,
            "surname": other.household.people.get().last_name,
            "password": PASSWORD,
        },
    )
    assert theirs.status_code == 422 and "aucun logement" in details(theirs)["reference"]
    assert AccountHome.objects.count() == 1
    joined = app.post(
        "/me/merge", {"identifier": "P-PARK-0001", "secret": "secret-parking", "password": PASSWORD}
    )
    assert joined.status_code == 200 and joined.json()["household_id"] == second.pk
    assert "Foyer parking" in joined.json()["message"]
    homes = app.get("/me/homes").json()
    assert [h["id"] for h in homes] == sorted([world.lease.household_id, second.pk])
    switched = app.post("/me/homes/switch", {"household_id": second.pk})
    assert switched.json()["home"]["contract"] == "10029999"
    stranger = m.Household.objects.exclude(pk__in=[second.pk, world.lease.household_id]).first()
    refused = app.post("/me/homes/switch", {"household_id": stranger.pk})
    assert (
        refused.status_code == 422
        and "ne fait pas partie des vôtres" in details(refused)["household"]
    )
    account.refresh_from_db()
    assert account.current_household == second


# --- requests, documents, insurance, data, help -----------------------------------------------------


def photo():
    from PIL import Image

    data = io.BytesIO()
    Image.new("RGB", (40, 30), "navy").save(data, "JPEG")
    data.seek(0)
    data.name = "fuite.jpg"
    return data


def test_requests_are_made_and_followed_without_the_staff_lines(world, cast):
    from tickets import services as tickets
    from tickets.models import Event, Request

    activated(world)
    app = logged_in(world)
    bad = app.upload("/me/requests", {"category": "nope", "place": "unit", "description": "x"})
    assert bad.status_code == 422 and {"category", "description"} <= set(details(bad))
    assert not Request.objects.exists()
    made = app.upload(
        "/me/requests",
        {
            "category": "leak",
            "place": "unit",
            "description": "Fuite sous l’évier de la cuisine.",
            "photo": photo(),
        },
    )
    assert made.status_code == 201, made.content
    created = Request.objects.get()
    assert created.channel == "portal" and created.household == world.lease.household
    assert made.json()["reference"] == created.reference and created.photos.count() == 1
    tickets.add_note(cast.advisor, created.pk, "Locataire difficile, voir avec le gardien.")
    Event.objects.create(request=created, kind=Event.Kind.STATUS, text="Interne", internal=True)
    listed = app.get("/me/requests").json()
    assert [r["reference"] for r in listed] == [created.reference]
    detail = app.get(f"/me/requests/{created.pk}").json()
    texts = [e["text"] for e in detail["events"]]
    assert texts and not any("difficile" in t or t == "Interne" for t in texts)
    # Another household's request: not found, like one that does not exist.
    neighbour = m.Lease.objects.filter(residence=world.estate.tilleuls).order_by("pk")[1]
    theirs = tickets.create_request(
        None,
        tickets.RequestInput(unit_id=neighbour.unit_id, category="heating", description="Froid"),
        "portal",
        residences=[neighbour.residence_id],
    )
    hidden = app.get(f"/me/requests/{theirs.pk}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert [r["reference"] for r in app.get("/me/requests").json()] == [created.reference]


def test_documents_of_the_household_only(world):
    activated(world)
    app = logged_in(world)
    mine = HouseholdDocument(household=world.lease.household, kind="rent_notice", title="Avis")
    mine.file.save("avis.pdf", ContentFile(PDF), save=True)
    neighbour = m.Lease.objects.filter(residence=world.estate.tilleuls).order_by("pk")[1]
    theirs = HouseholdDocument(household=neighbour.household, kind="receipt", title="Quittance")
    theirs.file.save("quittance.pdf", ContentFile(PDF), save=True)
    assert [d["title"] for d in app.get("/me/documents").json()] == ["Avis"]
    download = app.get(f"/me/documents/{mine.pk}")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert "attachment" in download["Content-Disposition"]
    assert app.get(f"/me/documents/{theirs.pk}").status_code == 404


def test_the_insurance_certificate(world):
    activated(world)
    app = logged_in(world)
    soon = (timezone.localdate() + timedelta(days=200)).isoformat()
    text = app.upload(
        "/me/insurance", {"file": io.BytesIO(b"not a pdf"), "valid_until": soon, "insurer": "X"}
    )
    assert text.status_code == 422 and "PDF, JPEG ou PNG" in details(text)["file"]
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    expired = app.upload("/me/insurance", {"file": ContentFile(PDF, "a.pdf"), "valid_until": past})
    assert expired.status_code == 422 and "expiré" in details(expired)["valid_until"]
    assert not InsuranceCertificate.objects.exists()
    sent = app.upload(
        "/me/insurance",
        {"file": ContentFile(PDF, "attestation.pdf"), "valid_until": soon, "insurer": "MAIF"},
    )
    assert sent.status_code == 201 and sent.json()["insurer"] == "MAIF"
    certificate = InsuranceCertificate.objects.get()
    assert certificate.household == world.lease.household and certificate.file.read() == PDF


def test_the_data_export_and_the_departed_read_only_space(world):
    activated(world)
    app = logged_in(world)
    data = app.get("/me/data")
    assert data.status_code == 200
    exported = data.json()
    assert exported["account"]["email"] == "nom1@example.org"
    assert exported["homes"][0]["contract"] == f"L{world.lease.reference}"
    assert {c["kind"] for c in exported["consents"]} >= {"terms", "privacy", "paperless"}
    assert AuditRecord.objects.filter(action="data_exported").count() == 1
    HouseholdBalance.objects.create(
        household=world.lease.household, amount=Decimal("123.45"), as_of="2026-11-01"
    )
    assert app.get("/me").json()["home"]["balance"] == {"amount": "123.45", "as_of": "2026-11-01"}
    TenantAccount.objects.update(status=TenantAccount.Status.DEPARTED)
    me = app.get("/me").json()
    assert me["read_only"] and me["home"]["contract"] != world.lease.reference
    refused = app.put("/me/consents", {"paperless": False, "commercial": True, "general": True})
    assert refused.status_code == 403 and refused.json()["code"] == "read_only"
    assert "lecture seule" in refused.json()["message"]
    closed = app.upload("/me/requests", {"category": "leak", "description": "Fuite au palier"})
    assert closed.status_code == 403 and closed.json()["code"] == "read_only"


def test_help_reaches_the_agency_without_an_account(world):
    app = App(world)
    empty = app.post("/help", {"name": "", "contact": "", "message": ""})
    assert empty.status_code == 422 and not HelpRequest.objects.exists()
    sent = app.post(
        "/help",
        {
            "name": "Mme Nom1",
            "contact": "06 39 98 00 01",
            "contract_reference": f"L{world.lease.reference}",
            "message": "Je n’arrive pas à activer mon compte.",
        },
    )
    assert sent.status_code == 200 and "conseiller" in sent.json()["message"]
    assert HelpRequest.objects.get().household == world.lease.household


# --- staff and tenants stay apart -------------------------------------------------------------------


def test_staff_tokens_and_sessions_are_refused_here_and_tenants_there(world, cast, token_client):
    for client in (token_client(cast.admin), client_for(cast.admin), client_for(cast.advisor)):
        refused = client.get("/api/tenant/me")
        assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
        assert client.get("/api/tenant/me/documents").status_code == 401
    activated(world)
    tenant = logged_in(world)
    assert tenant.get("/me").status_code == 200
    assert tenant.client.get("/api/estate/residences").status_code == 401
    assert tenant.client.get("/api/me").status_code == 401
    assert tenant.client.get("/api/tickets/requests").status_code == 401
