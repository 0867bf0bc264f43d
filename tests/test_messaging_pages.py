"""The advisor's screens and the API: compose with recipients, parts and cost; supervision."""

import json

import pytest

from messaging.models import Campaign, CapturedMessage, InboundMessage, Message
from tests.conftest import client_for

pytestmark = pytest.mark.usefixtures("messaging_settings")

SMS = "Bonjour {{ prenom }}, l’ascenseur de l’{{ entree }} est réparé."


def compose_data(estate, **extra):
    entrance = estate.tilleuls.entrances.get()
    return {
        "title": "Ascenseur réparé",
        "target": f"entrance:{entrance.pk}",
        "purpose": "operational",
        "delivery": "preferred",
        "sms_body": SMS,
        "email_subject": "Ascenseur réparé",
        "email_text": "Bonjour {{ prenom }},\n\nL’ascenseur est réparé.",
        "urgent": "on",
        **extra,
    }


def test_an_advisor_sees_recipients_parts_and_cost_then_sends(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    tenants[1].preferred_channel = "email"
    tenants[1].save()
    client = client_for(cast.advisor)
    assert client.get("/messages/nouveau/").status_code == 200
    page = client.post("/messages/nouveau/", {**compose_data(estate), "action": "preview"})
    html = page.content.decode()
    assert page.status_code == 200 and "Avant l’envoi" in html
    assert '<span class="stat">2</span> destinataires' in html
    assert (
        '<span class="stat">1</span> SMS' in html and '<span class="stat">1</span> e-mails' in html
    )
    assert "UCS-2" in html and "<code>’</code>" in html  # the typographic apostrophe costs
    assert f"Bonjour {tenants[0].first_name}, l’ascenseur de l’Entrée 1 est réparé." in html
    assert not Campaign.objects.exists()  # a preview writes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/messages/nouveau/", {**compose_data(estate), "action": "send"})
    campaign = Campaign.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/messages/envois/{campaign.pk}/"
    )
    detail = client.get(response["Location"]).content.decode()
    assert "Ascenseur réparé" in detail and "Envoyé" in detail
    assert sorted(campaign.messages.values_list("channel", flat=True)) == ["email", "sms"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sms_body": "Bonjour {{ locataire }}"}, "sms_body", "locataire"),
        ({"sms_body": "x" * 1601}, "sms_body", "1600"),
        ({"sms_body": "", "email_subject": ""}, "sms_body", "Écrivez un SMS"),
    ],
)
def test_bad_texts_are_refused_in_french_before_anything_is_written(
    estate, tenants, cast, change, field, message
):
    response = client_for(cast.advisor).post(
        "/messages/nouveau/", {**compose_data(estate, **change), "action": "send"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]).replace("\u202f", "")
    assert not Campaign.objects.exists()


def test_contractors_cannot_send(estate, cast):
    assert client_for(cast.contractor).get("/messages/nouveau/").status_code == 403
    assert client_for(cast.contractor).get("/messages/").status_code == 403


def test_supervision_filters_and_scopes_every_send(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    client = client_for(cast.advisor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/messages/nouveau/", {**compose_data(estate), "action": "send"})
    campaign = Campaign.objects.get()
    html = client.get("/messages/").content.decode()
    assert "Ascenseur réparé" in html and "Par canal" in html
    assert (
        "Ascenseur réparé"
        not in client.get("/messages/", {"canal": "email", "statut": "failed"}).content.decode()
    )
    mine = client.get("/messages/", {"auteur": cast.advisor.pk}).content.decode()
    assert "Ascenseur réparé" in mine and f'<option value="{cast.advisor.pk}" selected>' in mine
    assert (
        "Ascenseur réparé"
        not in client.get("/messages/", {"auteur": cast.admin.pk}).content.decode()
    )
    other = client_for(cast.manager_b)
    assert "Ascenseur réparé" not in other.get("/messages/").content.decode()
    assert other.get(f"/messages/envois/{campaign.pk}/").status_code == 404
    assert other.get(f"/api/messaging/campaigns/{campaign.pk}").status_code == 404


def test_the_api_analyses_previews_sends_and_reports(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    client = client_for(cast.advisor)
    analysis = client.post(
        "/api/messaging/sms/analyse", {"text": "L’été « chaud »"}, content_type="application/json"
    ).json()
    assert analysis["encoding"] == "UCS-2" and analysis["replaced_text"] == 'L\'été " chaud "'
    assert {f["char"] for f in analysis["forcing"]} == {"’", "«", "»", "\u00a0"} or {
        f["char"] for f in analysis["forcing"]
    } >= {"’", "«", "»"}
    body = {
        "title": "Info",
        "purpose": "operational",
        "urgent": True,
        "audience": {"kind": "residence", "ids": [estate.tilleuls.pk]},
        "texts": {"sms_body": "Bonjour {{ prenom }}"},
    }
    preview = client.post(
        "/api/messaging/campaigns/preview", body, content_type="application/json"
    ).json()
    assert (
        preview["recipients"] == 2
        and preview["sms"] == 2
        and preview["example"]["sms"].startswith("Bonjour ")
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/messaging/campaigns", body, content_type="application/json")
    assert created.status_code == 201
    campaign_id = created.json()["id"]
    listed = client.get("/api/messaging/campaigns").json()
    assert listed["items"][0]["id"] == campaign_id and listed["items"][0]["counts"]["total"] == 2
    messages = client.get(
        "/api/messaging/messages", {"campaign_id": campaign_id, "channel": "sms"}
    ).json()
    assert messages["count"] == 2 and {m["status"] for m in messages["items"]} == {"sent"}


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"texts": {"sms_body": "{{ nope }}"}}, 422, "invalid_input"),
        ({"audience": {"kind": "residence", "ids": []}}, 422, "invalid_input"),
        ({"audience": {"kind": "residence", "ids": [999999]}}, 404, "not_found"),
        ({"purpose": "spam"}, 422, "invalid_input"),
    ],
)
def test_the_api_refuses_bad_sends_with_a_reason(estate, tenants, cast, payload, status, code):
    body = {
        "title": "Info",
        "purpose": "operational",
        "audience": {"kind": "residence", "ids": [estate.tilleuls.pk]},
        "texts": {"sms_body": "Bonjour"},
    }
    body.update(payload)
    response = client_for(cast.advisor).post(
        "/api/messaging/campaigns", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == status and response.json()["code"] == code
    assert not Campaign.objects.exists()


def test_captured_messages_are_shown_within_scope(
    estate, tenants, cast, settings, django_capture_on_commit_callbacks
):
    settings.DEMO_MODE = True
    with django_capture_on_commit_callbacks(execute=True):
        client_for(cast.advisor).post(
            "/messages/nouveau/", {**compose_data(estate), "action": "send"}
        )
    assert CapturedMessage.objects.count() == 2
    assert "l’ascenseur" in client_for(cast.admin).get("/messages-captures/").content.decode()
    assert (
        "l’ascenseur" not in client_for(cast.manager_b).get("/messages-captures/").content.decode()
    )
    outsider = client_for(cast.outsider).get("/messages-captures/").content.decode()
    assert "l’ascenseur" not in outsider


def test_inbound_messages_are_listed_for_advisors_and_marked_handled(estate, tenants, cast):
    inbound = InboundMessage.objects.create(
        provider_id="SM1",
        from_number=tenants[0].mobile,
        body="Fuite dans la cave",
        kind="from_tenant",
        person=tenants[0],
        residence=estate.tilleuls,
        organisation=estate.organisation,
    )
    client = client_for(cast.advisor)
    assert "Fuite dans la cave" in client.get("/messages/recus/").content.decode()
    assert (
        "Fuite dans la cave"
        not in client_for(cast.manager_b).get("/messages/recus/").content.decode()
    )
    client.post(f"/messages/recus/{inbound.pk}/traite/")
    inbound.refresh_from_db()
    assert inbound.handled_by == cast.advisor


def test_a_decision_on_a_stuck_message_through_the_api(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    client = client_for(cast.advisor)
    body = {
        "title": "Info",
        "purpose": "operational",
        "urgent": True,
        "audience": {"kind": "people", "ids": [tenants[0].pk]},
        "texts": {"sms_body": "Bonjour"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/messaging/campaigns", body, content_type="application/json")
    message = Message.objects.get()
    answer = client.post(
        f"/api/messaging/messages/{message.pk}/decision",
        {"decision": "sent"},
        content_type="application/json",
    )
    assert answer.status_code == 409  # nothing to decide
    Message.objects.filter(pk=message.pk).update(status="sending", needs_review=True)
    answer = client.post(
        f"/api/messaging/messages/{message.pk}/decision",
        {"decision": "sent"},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["status"] == "sent"


def test_a_send_to_a_list_is_supervised_by_the_staff_of_its_recipients(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    body = {
        "title": "Amicale",
        "purpose": "operational",
        "urgent": True,
        "audience": {"kind": "people", "ids": [tenants[0].pk]},
        "texts": {"sms_body": "Bonjour"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = client_for(cast.advisor).post(
            "/api/messaging/campaigns", body, content_type="application/json"
        )
    campaign_id = created.json()["id"]
    assert Campaign.objects.get(pk=campaign_id).residence is None
    assert client_for(cast.admin).get(f"/api/messaging/campaigns/{campaign_id}").status_code == 200
    assert (
        client_for(cast.agent_a).get(f"/api/messaging/campaigns/{campaign_id}").status_code == 200
    )  # Les Tilleuls
    assert (
        client_for(cast.manager_b).get(f"/api/messaging/campaigns/{campaign_id}").status_code == 404
    )


def test_a_template_sent_as_written_through_the_api(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    from messaging.models import Template, TemplateVariant

    template = Template.objects.create(
        organisation=estate.organisation, key="t", name="T", channels="sms"
    )
    TemplateVariant.objects.create(
        template=template, language="fr", sms_body="Bonjour {{ prenom }}"
    )
    body = {
        "title": "T",
        "purpose": "operational",
        "urgent": True,
        "template_id": template.pk,
        "audience": {"kind": "people", "ids": [tenants[0].pk]},
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = client_for(cast.advisor).post(
            "/api/messaging/campaigns", body, content_type="application/json"
        )
    assert created.status_code == 201, created.content
    assert Message.objects.get().body == f"Bonjour {tenants[0].first_name}"
