"""The extranet's back office (/extranet/): households by activation status, scope, reminders,
adoption figures, the advisor's actions at the counter, provisional letters, the consents
export for the ERP, help requests, and the ERP imports of documents and balances.

The cast (conftest): the advisor of agency North sees Les Tilleuls and Le Moulin; manager_b, of
agency South, sees La Source only. Each residence has two households of one person each."""

import csv
import io
import os
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.accounts import backoffice, tenancy
from backend.accounts.models import (
    AccountHome,
    AccountToken,
    AuditRecord,
    Consent,
    HelpRequest,
    HouseholdBalance,
    HouseholdDocument,
    LoginFailure,
    ProvisionalCredential,
    Role,
    TenantAccount,
    User,
)
from backend.core.errors import ServiceError
from backend.estate import models as m
from tests.conftest import client_for

PASSWORD = "Le chat de la voisine dort"


def households_of(residence):
    return [
        lease.household
        for lease in m.Lease.objects.filter(residence=residence)
        .select_related("household")
        .order_by("pk")
    ]


def make_account(household, status=TenantAccount.Status.ACTIVE, email=None, **fields):
    person = household.people.order_by("pk").first()
    email = email if email is not None else f"compte{household.pk}@example.org"
    user = User(
        username=f"tenant-{household.pk}-{status}-{User.objects.count()}",
        role=Role.TENANT,
        organisation=household.organisation,
        email=email,
    )
    user.set_password(PASSWORD)
    user.save()
    if status == TenantAccount.Status.ACTIVE:
        fields.setdefault("activated_at", timezone.now())
    account = TenantAccount.objects.create(
        user=user,
        organisation=household.organisation,
        person=person,
        current_household=household,
        email=email,
        status=status,
        **fields,
    )
    AccountHome.objects.create(account=account, household=household, via="notice")
    return account


@pytest.fixture
def world(estate, cast, tenants):
    """Les Tilleuls: one active household and one awaiting the e-mail; Le Moulin: one not
    started, one that moved out ten days ago; La Source (agency South): one active."""
    t0, t1 = households_of(estate.tilleuls)
    m0, m1 = households_of(estate.moulin)
    s0, s1 = households_of(estate.source)
    m.Lease.objects.filter(household=m1).update(end_date=timezone.localdate() - timedelta(days=10))

    class World:
        pass

    w = World()
    w.estate, w.cast = estate, cast
    w.t0, w.t1, w.m0, w.m1, w.s0, w.s1 = t0, t1, m0, m1, s0, s1
    w.active = make_account(t0)
    w.pending = make_account(t1, TenantAccount.Status.PENDING)
    w.source_active = make_account(s0)
    return w


# --- households by status -------------------------------------------------------------------------


def test_households_are_counted_and_listed_by_activation_status(world):
    client = client_for(world.cast.advisor)
    page = client.get("/extranet/")
    assert page.status_code == 200
    counts = {key: count for key, _label, count in page.context["counts"]}
    assert counts == {"none": 1, "pending": 1, "active": 1, "departed": 1}
    assert page.context["total"] == 4
    listed = {h.pk: h.activation for h in page.context["page"]}
    assert listed == {
        world.t0.pk: "active",
        world.t1.pk: "pending",
        world.m0.pk: "none",
        world.m1.pk: "departed",
    }
    # Each household shows its accounts.
    assert f"compte{world.t1.pk}@example.org" in page.content.decode()
    only_active = client.get("/extranet/?statut=active")
    assert [h.pk for h in only_active.context["page"]] == [world.t0.pk]
    by_residence = client.get(f"/extranet/?residence={world.estate.moulin.pk}")
    assert {h.pk for h in by_residence.context["page"]} == {world.m0.pk, world.m1.pk}
    counts = {key: count for key, _label, count in by_residence.context["counts"]}
    assert counts == {"none": 1, "pending": 0, "active": 0, "departed": 1}
    reference = m.Lease.objects.get(household=world.m0).reference
    by_reference = client.get(f"/extranet/?q=L/{reference}")
    assert [h.pk for h in by_reference.context["page"]] == [world.m0.pk]
    person = world.t1.people.get()
    by_name = client.get(f"/extranet/?q={person.last_name.upper()}")
    assert [h.pk for h in by_name.context["page"]] == [world.t1.pk]


def test_a_household_out_of_scope_does_not_exist(world):
    manager_b = client_for(world.cast.manager_b)
    listed = {h.pk for h in manager_b.get("/extranet/").context["page"]}
    assert listed == {world.s0.pk, world.s1.pk}
    assert manager_b.get(f"/extranet/foyers/{world.t0.pk}/").status_code == 404
    for action in ("close", "restart"):
        refused = manager_b.post(
            f"/extranet/foyers/{world.t1.pk}/",
            {"action": action, "account": world.pending.pk, "reason": "essai"},
        )
        assert refused.status_code == 404
    assert manager_b.post(f"/extranet/foyers/{world.t0.pk}/lettre/").status_code == 404
    assert TenantAccount.objects.filter(pk=world.pending.pk).exists()
    assert not AuditRecord.objects.filter(actor=world.cast.manager_b).exists()
    # An account of another household cannot be reached through a household in scope.
    mine = client_for(world.cast.advisor).post(
        f"/extranet/foyers/{world.t0.pk}/",
        {"action": "close", "account": world.source_active.pk, "reason": "essai"},
    )
    assert mine.status_code == 404
    # Agents and contractors have no back office; another landlord's admin sees only theirs.
    assert client_for(world.cast.agent_a).get("/extranet/").status_code == 403
    assert client_for(world.cast.contractor).get("/extranet/").status_code == 403
    outsider = client_for(world.cast.outsider).get("/extranet/")
    assert {h.organisation_id for h in outsider.context["page"]} == {
        world.estate.other_organisation.pk
    }
    assert (
        client_for(world.cast.outsider).get(f"/extranet/foyers/{world.t0.pk}/").status_code == 404
    )


# --- reminders ------------------------------------------------------------------------------------


def test_reminders_reach_only_the_households_that_have_not_activated(
    world, messaging_settings, django_capture_on_commit_callbacks
):
    from messaging.models import Campaign, Message, OptOut

    client = client_for(world.cast.advisor)
    preview = client.post(
        "/extranet/relances/", {"agence": world.estate.north.pk, "action": "preview"}
    )
    plan = preview.context["plan"]
    assert plan.households == 2 and plan.left_out_active == 1
    assert set(plan.people_ids) == {
        world.t1.people.get().pk,
        world.m0.people.get().pk,
    }
    assert preview.context["preview"].recipients == 2
    # An opt-out of general information on both channels leaves that person out.
    person = world.m0.people.get()
    for channel in ("sms", "email"):
        OptOut.objects.create(person=person, purpose="information", channel=channel, source="staff")
    preview = client.post(
        "/extranet/relances/", {"agence": world.estate.north.pk, "action": "preview"}
    )
    assert preview.context["preview"].recipients == 1
    assert preview.context["preview"].excluded == {"opted_out": 1}
    # A send without the preview of this very selection is refused (the preview again).
    changed = client.post(
        "/extranet/relances/",
        {
            "agence": world.estate.north.pk,
            "action": "send",
            "vu": f"{world.estate.north.pk}:{world.estate.tilleuls.pk}:preferred",
        },
    )
    assert changed.status_code == 200 and changed.context["error"]
    assert not Campaign.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            "/extranet/relances/",
            {
                "agence": world.estate.north.pk,
                "action": "send",
                "vu": preview.context["selection"],
            },
        )
    campaign = Campaign.objects.get()
    assert sent.status_code == 302 and sent["Location"] == f"/messages/envois/{campaign.pk}/"
    assert campaign.purpose == "information" and campaign.template_id is None
    assert "/locataire/activer/" in campaign.sms_body
    assert "/locataire/activer/" in campaign.email_text
    reached = set(Message.objects.values_list("person__household_id", flat=True))
    assert reached == {world.t1.pk}
    record = AuditRecord.objects.get(action="reminder_sent")
    assert record.actor == world.cast.advisor and record.detail["campaign"] == campaign.pk


def test_the_organisations_reminder_template_is_used(world, messaging_settings):
    from messaging.models import Template, TemplateVariant

    template = Template.objects.create(
        organisation=world.estate.organisation,
        key="relance-activation",
        name="Relance",
        purpose="information",
        channels="sms",
    )
    TemplateVariant.objects.create(
        template=template, language="fr", sms_body="Bonjour {{ prenom }}, activez votre espace."
    )
    plan = backoffice.reminder_plan(world.cast.advisor, residence_id=world.estate.tilleuls.pk)
    data = backoffice.reminder_input(world.cast.advisor, plan)
    assert data.template_id == template.pk and data.texts.sms_body.startswith("Bonjour")
    campaign = backoffice.send_reminder(world.cast.advisor, plan)
    assert campaign.template_id == template.pk and campaign.purpose == "information"


# --- adoption figures -----------------------------------------------------------------------------


def test_adoption_counts_accounts_per_week_and_month_and_the_rates(world):
    now = timezone.now()
    TenantAccount.objects.filter(pk=world.active.pk).update(
        created_at=now - timedelta(days=8), activated_at=now - timedelta(days=7)
    )
    TenantAccount.objects.filter(pk=world.pending.pk).update(created_at=now - timedelta(days=7))
    old = make_account(world.m0, TenantAccount.Status.DEACTIVATED, email="vieux@example.org")
    TenantAccount.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=400))
    figures = backoffice.adoption(world.cast.advisor)

    def week_of(moment):
        day = timezone.localtime(moment).date()
        return day - timedelta(days=day.weekday())

    created = {p.start: p.created for p in figures.weeks if p.created}
    expected = {}
    for moment in (now - timedelta(days=8), now - timedelta(days=7)):
        expected[week_of(moment)] = expected.get(week_of(moment), 0) + 1
    assert created == expected
    assert {p.start: p.activated for p in figures.weeks if p.activated} == {
        week_of(now - timedelta(days=7)): 1
    }
    assert len(figures.weeks) == 52 and figures.weeks[-1].start == week_of(now)
    assert len(figures.months) == 12 and sum(p.created for p in figures.months) == 2
    # The account of La Source (agency South) is not the advisor's.
    assert sum(p.created for p in figures.weeks) == 2
    rates = {r.label: (r.households, r.active, r.rate) for r in figures.residences}
    assert rates == {"Le Moulin": (1, 0, 0.0), "Les Tilleuls": (2, 1, 50.0)}
    assert [(r.label, r.households, r.active) for r in figures.agencies] == [("Agence Nord", 3, 1)]
    assert (figures.total.households, figures.total.active) == (3, 1)
    client = client_for(world.cast.advisor)
    page = client.get("/extranet/adoption/")
    assert page.status_code == 200 and page.content.decode().count("<svg") == 4
    exported = client.get("/extranet/adoption.csv?donnees=residences")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1:] == [
        ["Le Moulin", "Agence Nord", "1", "0", "0,0"],
        ["Les Tilleuls", "Agence Nord", "2", "1", "50,0"],
    ]
    weeks = client.get("/extranet/adoption.csv?donnees=semaines").content.decode("utf-8-sig")
    assert len(weeks.strip().splitlines()) == 53
    assert client_for(world.cast.agent_a).get("/extranet/adoption/").status_code == 403


# --- the advisor's actions ------------------------------------------------------------------------


def act(world, household, action, reason, account=None, user=None):
    data = {"action": action, "reason": reason}
    if account is not None:
        data["account"] = account.pk
    return client_for(user or world.cast.advisor).post(f"/extranet/foyers/{household.pk}/", data)


def test_closing_an_account_needs_a_reason_and_stops_its_logins(world):
    org = world.estate.organisation
    assert tenancy.authenticate(org, world.active.email, PASSWORD) == world.active
    refused = act(world, world.t0, "close", "  ", world.active)
    assert refused.status_code == 200 and refused.context["errors"]
    assert 'aria-invalid="true"' in refused.content.decode()
    world.active.refresh_from_db()
    assert world.active.status == TenantAccount.Status.ACTIVE
    email = world.active.email
    done = act(world, world.t0, "close", "Demande de désinscription au guichet", world.active)
    assert done.status_code == 302
    world.active.refresh_from_db()
    assert world.active.status == TenantAccount.Status.DEACTIVATED
    assert world.active.deactivated_at and world.active.email == ""
    assert not User.objects.get(pk=world.active.user_id).is_active
    record = AuditRecord.objects.get(action="account_closed")
    assert record.actor == world.cast.advisor and record.account == world.active
    assert record.reason == "Demande de désinscription au guichet"
    with pytest.raises(ValidationError):
        tenancy.authenticate(org, email, PASSWORD)
    reference = m.Lease.objects.get(household=world.t0).reference
    # By the contract reference, the right password learns the account is closed (only the
    # one who knows it: a wrong password gets the usual answer).
    with pytest.raises(ServiceError) as closed:
        tenancy.authenticate(org, reference, PASSWORD)
    assert "fermé" in closed.value.message
    with pytest.raises(ValidationError):
        tenancy.authenticate(org, reference, "pas le bon mot de passe")
    page = client_for(world.cast.advisor).get(f"/extranet/foyers/{world.t0.pk}/")
    assert "Demande de désinscription au guichet" in page.content.decode()
    assert next(h["reason"] for h in page.context["history"]) == record.reason
    # The address is free again: the household may activate later with it.
    again = act(world, world.t0, "close", "encore", world.active)
    assert (
        again.status_code == 302
        and AuditRecord.objects.filter(action="account_closed").count() == 1
    )


def test_back_to_paper_records_the_advisors_no(world, settings):
    Consent.objects.create(
        account=world.active,
        household=world.t0,
        person=world.active.person,
        kind="paperless",
        granted=True,
        version="2025-01",
        source="activation",
        at=timezone.now() - timedelta(days=30),
    )
    done = act(world, world.t0, "paper", "Préfère le courrier papier")
    assert done.status_code == 302
    latest = tenancy.current_consents(world.t0.pk)["paperless"]
    assert not latest.granted and latest.source == "advisor"
    assert latest.version == settings.TENANT_CONSENT_VERSION
    assert Consent.objects.filter(household=world.t0, kind="paperless").count() == 2
    record = AuditRecord.objects.get(action="paper_restored")
    assert record.actor == world.cast.advisor and record.household == world.t0
    assert record.reason == "Préfère le courrier papier"


def test_restarting_an_activation_removes_the_pending_account_and_its_links(world):
    tenancy.issue_token(world.pending, AccountToken.Purpose.VERIFY_EMAIL, timedelta(hours=1))
    assert AccountToken.objects.filter(account=world.pending).exists()
    refused = act(world, world.t0, "restart", "faute de frappe", world.active)
    assert refused.status_code == 302  # an active account is not restarted
    assert TenantAccount.objects.filter(pk=world.active.pk).exists()
    done = act(world, world.t1, "restart", "Adresse e-mail mal saisie", world.pending)
    assert done.status_code == 302
    assert not TenantAccount.objects.filter(pk=world.pending.pk).exists()
    assert not User.objects.filter(pk=world.pending.user_id).exists()
    assert not AccountToken.objects.exists()
    record = AuditRecord.objects.get(action="activation_restarted")
    assert record.household == world.t1 and record.actor == world.cast.advisor
    assert record.reason == "Adresse e-mail mal saisie"
    page = client_for(world.cast.advisor).get(f"/extranet/foyers/{world.t1.pk}/")
    assert page.context["status"] == "none"
    assert "Adresse e-mail mal saisie" in page.content.decode()


def test_lifting_the_throttle_lets_the_tenant_log_in_again(world):
    org = world.estate.organisation
    TenantAccount.objects.filter(pk=world.active.pk).update(
        mobile="+33639981122", mobile_verified_at=timezone.now()
    )
    reference = m.Lease.objects.get(household=world.t0).reference
    for identifier in (world.active.email, "06 39 98 11 22", f"L/{reference}"):
        for _n in range(30):
            try:
                tenancy.authenticate(org, identifier, "pas le bon", "10.0.0.1")
            except tenancy.Throttled:
                break
            except ValidationError:
                continue
        with pytest.raises(tenancy.Throttled):
            tenancy.authenticate(org, identifier, PASSWORD, "10.0.0.1")
    other = LoginFailure.objects.create(key="tenant:quelquun@example.org|10.0.0.9")
    page = client_for(world.cast.advisor).get(f"/extranet/foyers/{world.t0.pk}/")
    assert page.context["failures"] == LoginFailure.objects.count() - 1
    refused = act(world, world.t0, "throttle", "")
    assert refused.status_code == 200 and LoginFailure.objects.count() > 1
    done = act(world, world.t0, "throttle", "Bloquée après des essais, appel au guichet")
    assert done.status_code == 302
    assert list(LoginFailure.objects.all()) == [other]
    for identifier in (world.active.email, "0639981122", reference):
        assert tenancy.authenticate(org, identifier, PASSWORD, "10.0.0.1") == world.active
    record = AuditRecord.objects.get(action="throttle_lifted")
    assert record.detail["failures"] > 0 and record.actor == world.cast.advisor


# --- provisional credentials ----------------------------------------------------------------------

CODES = re.compile(r"<code>(P-[A-Z0-9]{4}-[A-Z0-9]{4})</code>.*?<code>([a-z0-9]{12})</code>", re.S)


def test_letters_are_made_once_and_their_secrets_never_stored(world, monkeypatch):
    client = client_for(world.cast.advisor)
    TenantAccount.objects.all().delete()
    response = client.post("/extranet/lettres/", {"residence": world.estate.tilleuls.pk})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    codes = CODES.findall(html)
    assert len(codes) == 2 and html.count('class="letter"') == 2
    assert "/locataire/activer/lettre/" in html
    assert world.estate.organisation.name in html
    credentials = ProvisionalCredential.objects.all()
    assert {c.household_id for c in credentials} == {world.t0.pk, world.t1.pk}
    for identifier, secret in codes:
        row = credentials.get(identifier=identifier)
        assert row.secret_hash.startswith("argon2") and secret not in row.secret_hash
        assert row.created_by == world.cast.advisor
        days = (row.expires_at - row.created_at).days
        assert days == 90
    stored = "".join(
        str(v)
        for v in ProvisionalCredential.objects.values_list("identifier", "secret_hash", "batch")
    ) + "".join(str(a.detail) for a in AuditRecord.objects.all())
    assert not any(secret in stored for _i, secret in codes)
    record = AuditRecord.objects.get(action="provisional_issued")
    assert sorted(record.detail["households"]) == sorted([world.t0.pk, world.t1.pk])
    # The next batch finds nobody: both letters are still valid.
    again = client.post("/extranet/lettres/", {"residence": world.estate.tilleuls.pk})
    assert again.status_code == 200 and again.context["error"]
    assert ProvisionalCredential.objects.count() == 2
    # A letter works through the tenant's activation, once.
    org = world.estate.organisation
    identifier, secret = next(
        (i, s) for i, s in codes if credentials.get(identifier=i).household_id == world.t0.pk
    )
    credential = tenancy.check_provisional(org, identifier.lower(), secret)
    assert credential.household == world.t0
    result = tenancy.activate_from_provisional(
        credential,
        email="lettre@example.org",
        password=PASSWORD,
        confirm=PASSWORD,
        choices=tenancy.Choices(accept_terms=True),
    )
    # The link the e-mail job would build (the secret is rebuilt from the nonce, not stored).
    from backend.accounts.models import AccountToken

    row = AccountToken.objects.filter(account_id=result.account_id).latest("created_at")
    tenancy.verify_email(tenancy._secret(row, row.nonce))
    with pytest.raises(ValidationError):
        tenancy.check_provisional(org, identifier, secret)


def test_a_new_letter_for_a_household_replaces_its_unused_one(world):
    client = client_for(world.cast.advisor)
    first = CODES.findall(client.post(f"/extranet/foyers/{world.m0.pk}/lettre/").content.decode())
    second = CODES.findall(
        client.post(
            f"/extranet/foyers/{world.m0.pk}/lettre/", {"reason": "Courrier perdu"}
        ).content.decode()
    )
    org = world.estate.organisation
    with pytest.raises(ValidationError):
        tenancy.check_provisional(org, *first[0])
    assert tenancy.check_provisional(org, *second[0]).household == world.m0
    assert AuditRecord.objects.filter(action="provisional_issued", household=world.m0).count() == 2
    # A household with an active account gets no letter.
    refused = client.post(f"/extranet/foyers/{world.t0.pk}/lettre/")
    assert refused.status_code == 302
    assert not ProvisionalCredential.objects.filter(household=world.t0).exists()


# --- consents export ------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))


def test_the_consents_export_lists_every_household_in_scope(world, token_client, settings):
    at = timezone.make_aware(datetime.combine(date(2026, 3, 2), time(10, 0)))
    for kind, granted in (("paperless", True), ("commercial", False), ("general", True)):
        Consent.objects.create(
            household=world.t0, kind=kind, granted=granted, version="2026-01", source="x", at=at
        )
    Consent.objects.create(
        household=world.t0,
        kind="paperless",
        granted=False,
        version="2026-02",
        source="advisor",
        at=at + timedelta(days=1),
    )
    rows = read_csv(client_for(world.cast.advisor).get("/extranet/consentements.csv"))
    by_reference = {r["reference_contrat"]: r for r in rows}
    references = {
        lease.reference: lease.household_id
        for lease in m.Lease.objects.filter(household__in=[world.t0, world.t1, world.m0, world.m1])
    }
    assert set(by_reference) == set(references)
    mine = next(r for ref, r in by_reference.items() if references[ref] == world.t0.pk)
    assert mine["dematerialisation"] == "non" and mine["dematerialisation_version"] == "2026-02"
    assert mine["dematerialisation_date"] == "03/03/2026"
    assert mine["info_commerciales"] == "non" and mine["info_generales"] == "oui"
    assert mine["code_residence"] == "R01"
    never = next(r for ref, r in by_reference.items() if references[ref] == world.m0.pk)
    assert never["dematerialisation"] == "" and never["dematerialisation_date"] == ""
    departed = next(r for ref, r in by_reference.items() if references[ref] == world.m1.pk)
    assert departed["date_sortie"]
    # The API, with a staff token: the same rows, JSON or CSV, in the token's scope.
    api = token_client(world.cast.advisor)
    answer = api.get("/api/extranet/consents").json()
    assert answer["count"] == 4
    item = next(i for i in answer["items"] if i["household_id"] == world.t0.pk)
    assert item["paperless"]["granted"] is False and item["paperless"]["version"] == "2026-02"
    assert item["general"]["granted"] is True
    other = next(i for i in answer["items"] if i["household_id"] == world.m0.pk)
    assert other["paperless"] == {"granted": None, "version": "", "at": None}
    assert read_csv(api.get("/api/extranet/consents.csv")) == rows
    south = token_client(world.cast.manager_b).get("/api/extranet/consents").json()
    assert {i["household_id"] for i in south["items"]} == {world.s0.pk, world.s1.pk}
    assert token_client(world.cast.contractor).get("/api/extranet/consents").status_code == 403
    assert token_client(world.cast.agent_a).get("/api/extranet/consents.csv").status_code == 403


# --- help requests --------------------------------------------------------------------------------


def test_help_requests_are_listed_and_marked_handled_in_scope(world):
    mine = HelpRequest.objects.create(
        organisation=world.estate.organisation,
        name="Mme Nom2",
        contact="nom2@example.org",
        contract_reference=m.Lease.objects.get(household=world.t1).reference,
        message="Je ne reçois pas l'e-mail.",
        household=world.t1,
        residence=world.estate.tilleuls,
    )
    theirs = HelpRequest.objects.create(
        organisation=world.estate.organisation,
        name="M. Sud",
        contact="0639980099",
        message="Aide",
        residence=world.estate.source,
    )
    advisor = client_for(world.cast.advisor)
    page = advisor.get("/extranet/aide/")
    assert [h.pk for h in page.context["page"]] == [mine.pk]
    assert f"/extranet/foyers/{world.t1.pk}/" in page.content.decode()
    assert advisor.post(f"/extranet/aide/{theirs.pk}/traitee/").status_code == 404
    assert advisor.post(f"/extranet/aide/{mine.pk}/traitee/").status_code == 302
    mine.refresh_from_db()
    assert mine.handled_at and mine.handled_by == world.cast.advisor
    assert list(advisor.get("/extranet/aide/").context["page"]) == []
    assert [h.pk for h in advisor.get("/extranet/aide/?traitees=1").context["page"]] == [mine.pk]


def test_the_navigation_offers_the_back_office_to_advisors_only(world):
    page = client_for(world.cast.advisor).get("/")
    assert any(i["url"] == "/extranet/" for i in page.context["navigation"])
    page = client_for(world.cast.agent_a).get("/")
    assert not any(i["url"] == "/extranet/" for i in page.context["navigation"])


# --- imports from the ERP -------------------------------------------------------------------------


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_documents_are_imported_replacing_the_same_period_and_kind(
    world, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    ref_t0 = m.Lease.objects.get(household=world.t0).reference
    ref_t1 = m.Lease.objects.get(household=world.t1).reference
    ref_m0 = m.Lease.objects.get(household=world.m0).reference
    from django.core.files.base import ContentFile

    old = HouseholdDocument(
        household=world.t0, kind="rent_notice", title="Ancien", period=date(2026, 1, 1)
    )
    old.file.save("ancien.pdf", ContentFile(PDF), save=True)
    old_path = old.file.path
    kept = HouseholdDocument(
        household=world.t1, kind="receipt", title="Garde", period=date(2026, 1, 1)
    )
    kept.file.save("garde.pdf", ContentFile(PDF), save=True)
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder, "avis-t0.pdf", PDF)
    write(folder, "quittance-t1.pdf", PDF)
    write(folder, "attestation-m0.pdf", PDF)
    write(folder, "pas-un-pdf.pdf", b"<html>")
    lines = [
        "reference_contrat;type;titre;periode;fichier",
        f"L{ref_t0};avis;Avis d'échéance janvier 2026;2026-01;avis-t0.pdf",  # 2: replaces
        f"{ref_t1};quittance;Quittance janvier 2026;2026-01;quittance-t1.pdf",  # 3: group ok...
        f"{ref_t1};quittance;Quittance bis;2026-01;manquant.pdf",  # 4: ...but this one is wrong
        f"{ref_m0};attestation;Attestation;2026-13;attestation-m0.pdf",  # 5: bad period
        "99999999;avis;Avis;2026-01;avis-t0.pdf",  # 6: unknown contract
        f"{ref_m0};facture;Facture;2026-01;attestation-m0.pdf",  # 7: unknown kind
        f"{ref_m0};avis;Avis;2026-02;pas-un-pdf.pdf",  # 8: not a PDF
        f"{ref_m0};attestation;Attestation de loyer;2026-02;attestation-m0.pdf",  # 9: ok
        "trop;de;colonnes;ici;x;y",  # 10
    ]
    csv_file = write(folder, "documents.csv", "\n".join(lines).encode())
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failed, django_capture_on_commit_callbacks(execute=True):
        call_command(
            "import_tenant_documents",
            str(csv_file),
            organisation="TST",
            stdout=out,
            stderr=err,
        )
    assert failed.value.returncode == 1
    from backend.accounts.erp_import import import_documents

    # The report, line by line (the command printed the same lines).
    report = import_documents(
        csv_file.read_bytes(), world.estate.organisation, folder, dry_run=True
    )
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 7, 8, 10]
    assert len(err.getvalue().strip().splitlines()) == 7
    documents = HouseholdDocument.objects.order_by("household_id", "period")
    t0_docs = list(documents.filter(household=world.t0))
    assert [(d.kind, d.title, d.period) for d in t0_docs] == [
        ("rent_notice", "Avis d'échéance janvier 2026", date(2026, 1, 1))
    ]
    assert t0_docs[0].file.read() == PDF
    assert not os.path.exists(old_path)  # the replaced file is gone
    # The group of line 3 and 4 is not imported: the old receipt stays.
    assert [d.title for d in documents.filter(household=world.t1)] == ["Garde"]
    assert [(d.kind, d.period) for d in documents.filter(household=world.m0)] == [
        ("certificate", date(2026, 2, 1))
    ]
    # A run again changes nothing but replaces the same documents.
    again = import_documents(csv_file.read_bytes(), world.estate.organisation, folder)
    assert again.imported == 2 and again.replaced == 2
    assert HouseholdDocument.objects.count() == 3


def test_a_file_level_problem_imports_nothing(world, tmp_path):
    csv_file = write(tmp_path, "documents.csv", b"reference_contrat,type,titre\n1,2,3\n")
    with pytest.raises(CommandError):
        call_command("import_tenant_documents", str(csv_file), organisation="TST")
    with pytest.raises(CommandError):
        call_command("import_balances", str(csv_file), organisation="TST")
    with pytest.raises(CommandError):
        call_command("import_balances", str(csv_file), organisation="NOPE")
    assert not HouseholdDocument.objects.exists() and not HouseholdBalance.objects.exists()


def test_balances_are_imported_with_french_amounts(world, tmp_path):
    ref_t0 = m.Lease.objects.get(household=world.t0).reference
    ref_t1 = m.Lease.objects.get(household=world.t1).reference
    ref_m0 = m.Lease.objects.get(household=world.m0).reference
    ref_m1 = m.Lease.objects.get(household=world.m1).reference
    HouseholdBalance.objects.create(household=world.m1, amount=Decimal("5"), as_of=date(2026, 3, 1))
    lines = [
        "Référence contrat;Montant;Date",
        f"L{ref_t0};1 234,56 €;31/01/2026",  # 2
        f"{ref_t1};-12,5;2026-01-31",  # 3
        f"{ref_t0};10,00;31/01/2026",  # 4: the same household twice
        f"{ref_m0};douze;31/01/2026",  # 5: not an amount
        f"{ref_m0};12,00;32/01/2026",  # 6: not a date
        f"{ref_m1};7,00;01/02/2026",  # 7: older than the one already there
        "123;1,00;31/01/2026",  # 8: not a contract reference of the organisation
    ]
    csv_file = write(tmp_path, "soldes.csv", "\n".join(lines).encode("cp1252"))
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "import_balances", str(csv_file), organisation="TST", stderr=err, stdout=io.StringIO()
        )
    assert failed.value.returncode == 1
    assert len(err.getvalue().strip().splitlines()) == 5
    from backend.accounts.erp_import import import_balances

    report = import_balances(csv_file.read_bytes(), world.estate.organisation, dry_run=True)
    assert [e.line for e in report.errors] == [4, 5, 6, 7, 8]
    assert report.unchanged == 2
    balances = {b.household_id: (b.amount, b.as_of) for b in HouseholdBalance.objects.all()}
    assert balances == {
        world.t0.pk: (Decimal("1234.56"), date(2026, 1, 31)),
        world.t1.pk: (Decimal("-12.50"), date(2026, 1, 31)),
        world.m1.pk: (Decimal("5.00"), date(2026, 3, 1)),
    }
