"""Twilio webhooks: signed with X-Twilio-Signature, or refused with nothing changed."""

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from messaging import services
from messaging.models import ChannelBlock, InboundMessage, Message, MessageEvent, OptOut
from messaging.signals import inbound_received
from tests.conftest import TWILIO_TOKEN

BASE = "https://ronde.example.fr"
pytestmark = pytest.mark.usefixtures("messaging_settings")


@pytest.fixture
def signed(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_WEBHOOK_BASE_URL = BASE
    validator = RequestValidator(TWILIO_TOKEN)

    def post(path, data, signature=None):
        sig = validator.compute_signature(BASE + path, data) if signature is None else signature
        return Client().post(path, data, HTTP_X_TWILIO_SIGNATURE=sig)

    return post


@pytest.fixture
def sent(estate, tenants, cast, django_capture_on_commit_callbacks):
    data = services.CampaignInput(
        title="Info",
        purpose="operational",
        audience={"kind": "people", "ids": [tenants[0].pk]},
        texts=services.Texts(sms_body="Bonjour"),
        urgent=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign = services.create_campaign(cast.advisor, data)
    message = campaign.messages.get()
    Message.objects.filter(pk=message.pk).update(provider_id="SM" + "1" * 32)
    message.refresh_from_db()
    return message


def report(message, status, **extra):
    return f"/hooks/twilio/status?m={message.pk}", {
        "MessageSid": message.provider_id,
        "MessageStatus": status,
        **extra,
    }


def test_a_signed_delivery_report_moves_the_message_forward_once(sent, signed):
    path, data = report(sent, "delivered")
    assert signed(path, data).status_code == 200
    sent.refresh_from_db()
    assert sent.status == Message.Status.DELIVERED
    events = sent.events.filter(source=MessageEvent.Source.PROVIDER).count()
    assert signed(path, data).status_code == 200  # Twilio replays: nothing new
    late_path, late = report(sent, "sent")  # a late, out-of-order report
    assert signed(late_path, late).status_code == 200
    sent.refresh_from_db()
    assert sent.status == Message.Status.DELIVERED
    assert sent.events.filter(source=MessageEvent.Source.PROVIDER).count() == events


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_a_missing_or_wrong_signature_is_refused_and_changes_nothing(sent, signed, signature):
    path, data = report(sent, "delivered")
    assert signed(path, data, signature=signature).status_code == 403
    sent.refresh_from_db()
    assert sent.status == Message.Status.SENT


def test_a_tampered_report_is_refused(sent, signed, settings):
    path, data = report(sent, "delivered")
    validator = RequestValidator(TWILIO_TOKEN)
    signature = validator.compute_signature(BASE + path, data)
    tampered = {**data, "MessageStatus": "failed"}
    assert Client().post(path, tampered, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403


def test_the_signature_is_checked_against_the_url_twilio_called(sent, settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_WEBHOOK_BASE_URL = ""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["ronde.example.fr"]
    path, data = report(sent, "delivered")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(BASE + path, data)
    response = Client().post(
        path,
        data,
        HTTP_X_TWILIO_SIGNATURE=signature,
        HTTP_HOST="ronde.example.fr",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert response.status_code == 200


def test_a_report_for_an_unknown_message_is_answered_and_ignored(sent, signed):
    response = signed(
        "/hooks/twilio/status?m=999999",
        {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"},
    )
    assert response.status_code == 404 and response.json()["code"] == "unknown_message"
    # The id in the URL and the provider's id must agree.
    response = signed(
        f"/hooks/twilio/status?m={sent.pk}",
        {"MessageSid": "SM" + "8" * 32, "MessageStatus": "failed"},
    )
    assert response.status_code == 404
    sent.refresh_from_db()
    assert sent.status == Message.Status.SENT


def test_an_undeliverable_landline_is_marked(sent, signed):
    path, data = report(sent, "undelivered", ErrorCode="30006")
    signed(path, data)
    sent.refresh_from_db()
    assert sent.status == Message.Status.UNDELIVERED and sent.error_code == "30006"
    assert ChannelBlock.objects.filter(person=sent.person, address=sent.to, code="30006").exists()


@pytest.mark.parametrize("word", ["STOP", "stop", "Arrêt", "ARRET", "Stop SMS", " stop. "])
def test_stop_opts_out_of_information_and_offers_only(
    estate, tenants, signed, word, django_capture_on_commit_callbacks
):
    from tests.conftest import zone_where

    estate.organisation.time_zone = zone_where(night=True)  # the answer goes even at night
    estate.organisation.save()
    person = tenants[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = signed(
            "/hooks/twilio/inbound",
            {
                "MessageSid": "SM" + "2" * 32,
                "From": person.mobile,
                "To": "+33939000001",
                "Body": word,
            },
        )
    assert response.status_code == 200 and "<Response>" in response.content.decode()
    assert set(OptOut.objects.filter(person=person).values_list("purpose", "channel")) == {
        ("information", "sms"),
        ("commercial", "sms"),
    }
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundMessage.Kind.OPT_OUT and inbound.handled_at
    confirmation = Message.objects.get(person=person, campaign__purpose="operational")
    assert confirmation.body == (
        "Vous ne recevrez plus d'informations générales ni d'offres commerciales par SMS. "
        "Les messages concernant vos demandes et votre logement continuent."
    )
    from messaging.sms import analyse

    assert analyse(confirmation.body).encoding == "GSM-7"  # straight apostrophes: half the price
    assert confirmation.status == Message.Status.SENT  # an answer goes at once, even at night


def test_inbound_messages_are_kept_once_and_announced(estate, tenants, signed):
    person = tenants[0]
    heard = []
    inbound_received.connect(
        lambda sender, message, **kw: heard.append(message.pk), weak=False, dispatch_uid="t"
    )
    try:
        data = {
            "MessageSid": "SM" + "3" * 32,
            "From": person.mobile,
            "Body": "La porte du hall ne ferme plus",
        }
        signed("/hooks/twilio/inbound", data)
        signed("/hooks/twilio/inbound", data)  # Twilio retries
        unknown = {"MessageSid": "SM" + "4" * 32, "From": "+33639989999", "Body": "Bonjour"}
        signed("/hooks/twilio/inbound", unknown)
    finally:
        inbound_received.disconnect(dispatch_uid="t")
    assert InboundMessage.objects.count() == 2
    known = InboundMessage.objects.get(from_number=person.mobile)
    assert known.kind == InboundMessage.Kind.FROM_TENANT and known.person == person
    assert known.residence == estate.tilleuls
    assert (
        InboundMessage.objects.get(from_number="+33639989999").kind == InboundMessage.Kind.UNKNOWN
    )
    assert len(heard) == 2
    assert signed("/hooks/twilio/inbound", {"MessageSid": "", "From": ""}).status_code == 400


def test_an_unknown_number_is_kept_for_the_organisations_advisors(db, signed, messaging_settings):
    from backend.accounts.models import Role
    from backend.estate import models as m
    from tests.conftest import client_for, make_residence, make_user

    organisation = m.Organisation.objects.create(code="ONE", name="Seul bailleur")
    agency = m.Agency.objects.create(organisation=organisation, code="01", name="Agence")
    make_residence(agency, "R01", "Les Tilleuls")
    advisor = make_user("advisor1", Role.ADVISOR, organisation, agencies=[agency])
    signed(
        "/hooks/twilio/inbound",
        {"MessageSid": "SM" + "5" * 32, "From": "+33639989998", "Body": "Allo ?"},
    )
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundMessage.Kind.UNKNOWN and inbound.organisation == organisation
    assert "Allo ?" in client_for(advisor).get("/messages/recus/").content.decode()
