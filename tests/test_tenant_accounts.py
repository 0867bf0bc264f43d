"""Tenant accounts end to end through the pages, with the e-mails caught by a real SMTP server
(aiosmtpd) and their links followed: activation, verification, login, recovery, profile,
consents, merges, and the bad input the issue lists."""

import re
from datetime import timedelta
from email.header import decode_header, make_header
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from backend.accounts.models import (
    AccountToken,
    Consent,
    ProvisionalCredential,
    TenantAccount,
)
from backend.estate import models as m
from messaging.models import OptOut

PASSWORD = "Le chat de la voisine dort"


@pytest.fixture
def extranet(estate, tenants, smtp_server, settings, django_capture_on_commit_callbacks):
    """The signatory of the first lease at Les Tilleuls, on direct debit, and a way to run a
    page's on-commit work (the e-mail job) as a real request would."""
    settings.SITE_URL = "http://testserver"
    settings.SMS_TRANSPORT = "capture"
    from decimal import Decimal

    settings.EMAIL_RATE_PER_SECOND = Decimal(100000)
    lease = m.Lease.objects.filter(residence=estate.tilleuls).order_by("pk").first()
    lease.payment_method = m.PaymentMethod.DIRECT_DEBIT
    lease.save()
    person = lease.household.people.get()
    m.Organisation.objects.filter(pk=estate.other_organisation.pk).delete() if False else None

    class World:
        pass

    world = World()
    world.lease, world.person, world.inbox = lease, person, smtp_server
    world.organisation = estate.organisation

    def post(client, url, data, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, **kwargs)

    world.post = post
    return world


def subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def body(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def link_in(message, path: str) -> str:
    found = re.search(r"http://testserver(" + re.escape(path) + r"[^\s]+/)", body(message))
    assert found, body(message)
    return found.group(1)


def client_for_org(world) -> Client:
    client = Client()
    client.get(f"/locataire/?client={world.organisation.code}")
    return client


def activation(world, **changes):
    data = {
        "reference": f"L/{world.lease.reference}",
        "module": world.lease.module_number,
        "surname": world.person.last_name.upper(),
        "email": "nom1@example.org",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "paperless": "yes",
        "commercial": "no",
        "general": "yes",
        "accept_terms": "on",
    }
    data.update(changes)
    return data


def activate(world, client=None, **changes):
    client = client or client_for_org(world)
    response = world.post(client, "/locataire/activer/", activation(world, **changes))
    return client, response


def activated(world) -> Client:
    client, response = activate(world)
    assert response.status_code == 302 and response["Location"] == "/locataire/activer/envoye/"
    verify = link_in(world.inbox.messages[-1], "/locataire/verifier/")
    with_commit = world.post  # the verification sends the welcome message
    page = client.get(verify)
    assert page.status_code == 200
    del with_commit
    return client


def log_in(world, identifier="nom1@example.org", password=PASSWORD, client=None):
    client = client or client_for_org(world)
    return client, world.post(
        client, "/locataire/connexion/", {"identifier": identifier, "password": password}
    )


# --- activation ---------------------------------------------------------------------------------


def test_a_newcomer_activates_verifies_and_logs_in(extranet, django_capture_on_commit_callbacks):
    client, response = activate(extranet)
    assert response.status_code == 302
    sent = client.get("/locataire/activer/envoye/").content.decode()
    assert "nom1@example.org" in sent
    account = TenantAccount.objects.get()
    assert account.status == TenantAccount.Status.PENDING and account.person == extranet.person
    # Not active before the link is followed.
    _client, refused = log_in(extranet)
    assert "pas encore vérifiée" in refused.content.decode()
    mail = extranet.inbox.messages[-1]
    assert mail["To"] == "nom1@example.org" and "Confirmez" in subject(mail)
    link = link_in(mail, "/locataire/verifier/")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(link).status_code == 200
    account.refresh_from_db()
    assert account.status == TenantAccount.Status.ACTIVE and account.activated_at
    assert any("Bienvenue" in subject(m) for m in extranet.inbox.messages)
    # The link is single-use.
    reused = client.get(link)
    assert reused.status_code == 400 and "déjà été utilisé" in reused.content.decode()
    # Consents recorded with their version; paperless granted (direct debit).
    latest = {c.kind: c for c in Consent.objects.filter(household=extranet.lease.household)}
    assert latest["paperless"].granted and latest["general"].granted
    assert not latest["commercial"].granted and latest["terms"].version
    assert OptOut.objects.filter(person=extranet.person, purpose="commercial").exists()
    # Login by e-mail, then by the contract reference with its "L".
    client, response = log_in(extranet)
    assert response.status_code == 302 and response["Location"] == "/locataire/espace/"
    space = client.get("/locataire/espace/").content.decode()
    assert extranet.lease.reference in space
    _c, by_reference = log_in(extranet, identifier=f"L{extranet.lease.reference}")
    assert by_reference.status_code == 302


@pytest.mark.parametrize(
    "change",
    [
        {"module": "99"},  # wrong module number
        {"surname": "Inconnu"},  # another household's contract
        {"reference": "99999999"},  # no such contract
    ],
)
def test_wrong_details_get_the_same_clear_answer_and_create_nothing(extranet, change):
    _client, response = activate(extranet, **change)
    assert response.status_code == 200
    assert "ne correspondent à aucun logement" in response.content.decode()
    assert not TenantAccount.objects.exists() and not Consent.objects.exists()
    assert not extranet.inbox.messages


def test_a_household_with_an_account_gets_the_same_screen_and_an_email(extranet):
    activated(extranet)
    before = len(extranet.inbox.messages)
    _client, response = activate(extranet, email="autre@example.org")
    assert response.status_code == 302 and response["Location"] == "/locataire/activer/envoye/"
    assert TenantAccount.objects.count() == 1
    told = extranet.inbox.messages[before:]
    assert [m["To"] for m in told] == ["nom1@example.org"]
    assert "déjà un compte" in subject(told[0])


def test_a_co_signatory_gets_a_login_of_their_own(extranet):
    activated(extranet)
    co = m.Person.objects.create(
        household=extranet.lease.household,
        role=m.Person.Role.CO_SIGNATORY,
        first_name="Bruno",
        last_name="Martinez",
    )
    _client, response = activate(extranet, surname="martinez", email="bruno@example.org")
    assert response.status_code == 302
    assert TenantAccount.objects.filter(person=co).exists()
    assert TenantAccount.objects.filter(person=extranet.person).exists()


def test_resend_and_restart_fix_a_mistyped_address(extranet):
    client, _response = activate(extranet, email="nom1@exmaple.org")
    world = extranet
    world.post(client, "/locataire/activer/envoye/", {"action": "resend"})
    assert [m["To"] for m in world.inbox.messages] == ["nom1@exmaple.org"] * 2
    first, second = (link_in(m, "/locataire/verifier/") for m in world.inbox.messages)
    assert client.get(first).status_code == 400  # the resend replaced it
    world.post(client, "/locataire/activer/envoye/", {"action": "restart"})
    assert not TenantAccount.objects.exists()
    assert client.get(second).status_code == 400
    activate(extranet, client=client)
    assert TenantAccount.objects.get().email == "nom1@example.org"


def test_an_expired_verification_link_is_refused(extranet):
    client, _response = activate(extranet)
    AccountToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    page = client.get(link_in(extranet.inbox.messages[-1], "/locataire/verifier/"))
    assert page.status_code == 400 and "expiré" in page.content.decode()
    assert TenantAccount.objects.get().status == TenantAccount.Status.PENDING


WEAK = [
    "azertyuiop123",
    "motdepasse123",
    "1234567890ab",
    "Password1234",
    "qwertyuiop12",
    "soleil2024!!",
    "Marseille2013",
    "aaaaaaaaaaaaaaa",
    "Dupont-Marie-2024!",
    "court",
]


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passwords_are_refused_with_the_rules_they_break(extranet, weak):
    _client, response = activate(extranet, password=weak, confirm=weak)
    assert response.status_code == 200
    assert "ne respecte pas ces règles" in response.content.decode()
    assert not TenantAccount.objects.exists()


@pytest.mark.parametrize(
    "personal", ["nom1@example.org!!", "Nom1 est mon nom de famille", "nom1exampleorg2026"]
)
def test_a_password_with_the_email_or_the_name_is_refused(extranet, personal):
    _client, response = activate(extranet, password=personal, confirm=personal)
    assert "Ni votre e-mail ni votre nom" in response.content.decode()
    assert not TenantAccount.objects.exists()


def test_the_live_checklist_uses_the_servers_rules(extranet):
    client = client_for_org(extranet)
    client.get("/locataire/activer/")
    answer = client.post(
        "/locataire/mot-de-passe/verifier/",
        {"password": "azertyuiop123", "email": "a@b.fr"},
    ).json()
    rules = {r["key"]: r["ok"] for r in answer["rules"]}
    assert rules == {"length": True, "personal": True, "common": True, "strength": False}
    good = client.post("/locataire/mot-de-passe/verifier/", {"password": PASSWORD}).json()
    assert all(r["ok"] for r in good["rules"])


# --- provisional credentials ---------------------------------------------------------------------


def provisional(world, household=None, identifier="P-7K2M-QX4D", secret="mot-provisoire-42"):  # noqa: S107
    from django.contrib.auth.hashers import make_password

    return ProvisionalCredential.objects.create(
        household=household or world.lease.household,
        identifier=identifier,
        secret_hash=make_password(secret),
        expires_at=timezone.now() + timedelta(days=30),
    )


def test_activation_with_the_agencys_letter(extranet):
    credential = provisional(extranet)
    client = client_for_org(extranet)
    wrong = extranet.post(
        client, "/locataire/activer/lettre/", {"identifier": "P-7K2M-QX4D", "secret": "non"}
    )
    assert "ne sont pas valides" in wrong.content.decode()
    extranet.post(
        client,
        "/locataire/activer/lettre/",
        {"identifier": "p-7k2m-qx4d", "secret": "mot-provisoire-42"},
    )
    form = client.get("/locataire/activer/lettre/securiser/")
    assert form.status_code == 200
    response = extranet.post(
        client,
        "/locataire/activer/lettre/securiser/",
        {
            "email": "lettre@example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "paperless": "no",
            "commercial": "no",
            "general": "no",
            "accept_terms": "on",
        },
    )
    assert response.status_code == 302
    client.get(link_in(extranet.inbox.messages[-1], "/locataire/verifier/"))
    credential.refresh_from_db()
    assert credential.used_at is not None
    assert TenantAccount.objects.get().status == TenantAccount.Status.ACTIVE


# --- login and throttling -------------------------------------------------------------------------


def test_thirty_quick_wrong_passwords_are_throttled_but_recovery_still_works(extranet):
    activated(extranet)
    client = client_for_org(extranet)
    answers = []
    for _n in range(30):
        _c, response = log_in(extranet, password="pas le bon", client=client)
        answers.append(response.content.decode())
    assert "Identifiant ou mot de passe incorrect" in answers[0]
    assert "Trop de tentatives" in answers[-1]
    # Even the right password waits now...
    _c, response = log_in(extranet, client=client)
    assert response.status_code == 200 and "Trop de tentatives" in response.content.decode()
    # ...but the recovery link always works, and lifts the delay.
    extranet.post(client, "/locataire/mot-de-passe-oublie/", {"identifier": "nom1@example.org"})
    reset = link_in(extranet.inbox.messages[-1], "/locataire/reinitialiser/")
    new = "Une autre phrase de passe solide"
    extranet.post(client, reset, {"password": new, "confirm": new})
    _c, response = log_in(extranet, password=new)
    assert response.status_code == 302


def test_an_unknown_identifier_costs_the_same_hash_work(extranet):
    from django.contrib.auth.hashers import get_hasher

    activated(extranet)
    hasher = type(get_hasher())
    calls = []
    original = hasher.verify

    def spy(self, password, encoded):
        calls.append(1)
        return original(self, password, encoded)

    with mock.patch.object(hasher, "verify", spy):
        log_in(extranet, identifier="personne@example.org", password="pas le bon")
        unknown = len(calls)
        calls.clear()
        log_in(extranet, password="pas le bon")
        known = len(calls)
    assert unknown == known == 1


def test_forgotten_password_and_identifier_answer_the_same_whatever_exists(extranet):
    activated(extranet)
    client = client_for_org(extranet)
    before = len(extranet.inbox.messages)
    known = extranet.post(
        client, "/locataire/mot-de-passe-oublie/", {"identifier": "nom1@example.org"}
    )
    unknown = extranet.post(
        client, "/locataire/mot-de-passe-oublie/", {"identifier": "x@example.org"}
    )

    def main(response):
        html = response.content.decode().split("<main")[1]
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert main(known) == main(unknown)
    assert len(extranet.inbox.messages) == before + 1
    extranet.post(
        client,
        "/locataire/identifiant-oublie/",
        {"reference": extranet.lease.reference, "surname": extranet.person.last_name},
    )
    assert "nom1@example.org" in body(extranet.inbox.messages[-1])


def test_a_reset_link_is_single_use_and_logs_out_other_devices(extranet):
    activated(extranet)
    phone, _r = log_in(extranet)
    assert phone.get("/locataire/espace/").status_code == 200
    client = client_for_org(extranet)
    extranet.post(client, "/locataire/mot-de-passe-oublie/", {"identifier": "nom1@example.org"})
    reset = link_in(extranet.inbox.messages[-1], "/locataire/reinitialiser/")
    new = "Une autre phrase de passe solide"
    extranet.post(client, reset, {"password": new, "confirm": new})
    again = extranet.post(client, reset, {"password": new, "confirm": new})
    assert again.status_code == 400
    assert phone.get("/locataire/espace/")["Location"] == "/locataire/connexion/"


# --- profile ----------------------------------------------------------------------------------------


def test_changing_the_email_verifies_the_new_one_and_tells_the_old(
    extranet, django_capture_on_commit_callbacks
):
    activated(extranet)
    client, _r = log_in(extranet)
    extranet.post(
        client,
        "/locataire/espace/profil/",
        {"action": "email", "em-email": "nouveau@example.org", "em-password": PASSWORD},
    )
    account = TenantAccount.objects.get()
    assert account.email == "nom1@example.org" and account.pending_email == "nouveau@example.org"
    mail = extranet.inbox.messages[-1]
    assert mail["To"] == "nouveau@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        client.get(link_in(mail, "/locataire/verifier/"))
    account.refresh_from_db()
    assert account.email == "nouveau@example.org"
    assert extranet.inbox.messages[-1]["To"] == "nom1@example.org"
    _c, response = log_in(extranet, identifier="nouveau@example.org")
    assert response.status_code == 302


def test_changing_the_password_needs_the_old_one(extranet):
    activated(extranet)
    client, _r = log_in(extranet)
    new = "Une autre phrase de passe solide"
    wrong = extranet.post(
        client,
        "/locataire/espace/profil/",
        {"action": "password", "pw-old": "faux", "pw-password": new, "pw-confirm": new},
    )
    assert "mot de passe actuel" in wrong.content.decode()
    extranet.post(
        client,
        "/locataire/espace/profil/",
        {"action": "password", "pw-old": PASSWORD, "pw-password": new, "pw-confirm": new},
    )
    assert client.get("/locataire/espace/").status_code == 200  # this device stays in
    _c, response = log_in(extranet, password=new)
    assert response.status_code == 302


def test_a_verified_mobile_becomes_an_identifier(extranet):
    from messaging.models import Message

    activated(extranet)
    client, _r = log_in(extranet)
    extranet.post(
        client, "/locataire/espace/profil/", {"action": "mobile", "mo-mobile": "06 39 98 11 22"}
    )
    sms = Message.objects.filter(to="+33639981122").get()
    code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    wrong = extranet.post(
        client, "/locataire/espace/profil/", {"action": "code", "co-code": "000000"}
    )
    assert "pas le bon" in wrong.content.decode()
    extranet.post(client, "/locataire/espace/profil/", {"action": "code", "co-code": code})
    _c, response = log_in(extranet, identifier="06 39 98 11 22")
    assert response.status_code == 302


def test_log_out_of_every_device(extranet):
    activated(extranet)
    laptop, _r = log_in(extranet)
    phone, _r = log_in(extranet)
    phone.post("/locataire/deconnexion/", {"everywhere": "1"})
    assert laptop.get("/locataire/espace/")["Location"] == "/locataire/connexion/"


def test_consents_change_from_the_profile_and_messaging_follows(extranet):
    activated(extranet)
    client, _r = log_in(extranet)
    extranet.post(
        client,
        "/locataire/espace/consentements/",
        {"paperless": "no", "commercial": "yes", "general": "no"},
    )
    assert not OptOut.objects.filter(person=extranet.person, purpose="commercial").exists()
    assert OptOut.objects.filter(
        person=extranet.person, purpose="information", channel="email"
    ).exists()
    latest = {}
    for c in Consent.objects.filter(household=extranet.lease.household).order_by("at", "id"):
        latest[c.kind] = c.granted
    assert latest["commercial"] and not latest["general"] and not latest["paperless"]
    # Paperless is for direct debit only.
    m.Lease.objects.filter(pk=extranet.lease.pk).update(payment_method=m.PaymentMethod.TRANSFER)
    refused = extranet.post(
        client,
        "/locataire/espace/consentements/",
        {"paperless": "yes", "commercial": "yes", "general": "no"},
    )
    assert "prélèvement" in refused.content.decode()


# --- several homes -------------------------------------------------------------------------------


def test_merging_a_second_contract_with_the_wrong_password_changes_nothing(extranet, estate):
    activated(extranet)
    parking = m.Unit.objects.create(
        entrance=m.Entrance.objects.get(residence=estate.moulin), code="P-12", kind="parking"
    )
    second = m.Household.objects.create(organisation=estate.organisation, name="Foyer parking")
    m.Lease.objects.create(
        unit=parking,
        household=second,
        reference="10029999",
        module_number="02",
        start_date="2024-01-01",
    )
    provisional(extranet, household=second, identifier="P-PARK-0001", secret="secret-parking")
    client, _r = log_in(extranet)
    refused = extranet.post(
        client,
        "/locataire/espace/fusion/",
        {"identifier": "P-PARK-0001", "secret": "secret-parking", "password": "faux"},
    )
    assert "mot de passe actuel" in refused.content.decode()
    account = TenantAccount.objects.get()
    assert list(account.households.all()) == [extranet.lease.household]
    extranet.post(
        client,
        "/locataire/espace/fusion/",
        {"identifier": "P-PARK-0001", "secret": "secret-parking", "password": PASSWORD},
    )
    assert set(account.households.all()) == {extranet.lease.household, second}
    client.post("/locataire/espace/logement/", {"household": second.pk})
    assert "10029999" in client.get("/locataire/espace/").content.decode()
    other = m.Household.objects.exclude(pk__in=[second.pk, extranet.lease.household_id]).first()
    client.post("/locataire/espace/logement/", {"household": other.pk})
    account.refresh_from_db()
    assert account.current_household == second


def test_staff_pages_and_api_refuse_a_tenant(extranet):
    activated(extranet)
    client, _r = log_in(extranet)
    assert client.get("/")["Location"] == "/locataire/espace/"
    assert client.get("/api/estate/residences").status_code == 401
    assert client.get("/demandes/").status_code == 403


def test_the_welcome_message_is_the_agencys_own_when_it_wrote_one(
    extranet, estate, django_capture_on_commit_callbacks
):
    from messaging.models import Template, TemplateVariant

    template = Template.objects.create(
        organisation=estate.organisation,
        agency=estate.north,
        key="bienvenue-extranet",
        name="Bienvenue (Nord)",
        channels="email",
    )
    TemplateVariant.objects.create(
        template=template,
        language="fr",
        email_subject="Bienvenue chez vous, {{ prenom }}",
        email_text="L'agence Nord vous souhaite la bienvenue. {{ agence }}",
    )
    client, _response = activate(extranet)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(link_in(extranet.inbox.messages[-1], "/locataire/verifier/"))
    welcome = extranet.inbox.messages[-1]
    assert subject(welcome) == f"Bienvenue chez vous, {extranet.person.first_name}"
    assert "L'agence Nord vous souhaite la bienvenue. Agence Nord" in body(welcome)


def test_an_address_already_used_by_another_household_says_the_same_and_tells_it(extranet):
    activated(extranet)
    other_lease = (
        m.Lease.objects.filter(residence=extranet.lease.residence)
        .exclude(pk=extranet.lease.pk)
        .first()
    )
    other = other_lease.household.people.get()
    before = len(extranet.inbox.messages)
    _client, response = activate(
        extranet,
        reference=other_lease.reference,
        module=other_lease.module_number,
        surname=other.last_name,
        email="nom1@example.org",
    )
    assert response.status_code == 302 and response["Location"] == "/locataire/activer/envoye/"
    assert TenantAccount.objects.count() == 1 and not TenantAccount.objects.filter(person=other)
    told = extranet.inbox.messages[before:]
    assert [m["To"] for m in told] == ["nom1@example.org"] and "déjà un compte" in subject(told[0])


def test_no_usable_link_is_stored_in_the_job_rows(extranet):
    from backend.core.models import Job

    activated(extranet)
    client = client_for_org(extranet)
    extranet.post(client, "/locataire/mot-de-passe-oublie/", {"identifier": "nom1@example.org"})
    reset = link_in(extranet.inbox.messages[-1], "/locataire/reinitialiser/")
    token = reset.rstrip("/").rsplit("/", 1)[1]
    stored = " ".join(str(row.args) + str(row.kwargs) for row in Job.objects.all())
    assert token not in stored and "reinitialiser" not in stored


def test_respelling_the_contract_reference_does_not_escape_the_throttle(extranet):
    activated(extranet)
    reference = extranet.lease.reference
    spellings = [reference, f"L{reference}", f"l/{reference}", f" {reference} ", f"L {reference}"]
    client = client_for_org(extranet)
    answers = []
    for n in range(12):
        _c, response = log_in(
            extranet, identifier=spellings[n % len(spellings)], password="faux", client=client
        )
        answers.append(response.content.decode())
    assert "Trop de tentatives" in answers[-1]


def test_the_current_password_asked_again_is_throttled(extranet):
    activated(extranet)
    client, _r = log_in(extranet)
    for _n in range(8):
        response = extranet.post(
            client,
            "/locataire/espace/profil/",
            {"action": "email", "em-email": "autre@example.org", "em-password": "faux"},
        )
    assert "Trop de tentatives" in response.content.decode()
    assert TenantAccount.objects.get().pending_email == ""


def test_saying_yes_keeps_an_unsubscribe_made_by_link(extranet):
    activated(extranet)
    OptOut.objects.filter(person=extranet.person).delete()
    OptOut.objects.create(
        person=extranet.person, purpose="information", channel="email", source="email_link"
    )
    client, _r = log_in(extranet)
    extranet.post(
        client,
        "/locataire/espace/consentements/",
        {"paperless": "no", "commercial": "no", "general": "yes"},
    )
    assert OptOut.objects.filter(
        person=extranet.person, purpose="information", source="email_link"
    ).exists()
