"""SMS through the real twilio SDK against a double built from Twilio's own API description."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from messaging import outbox, services
from messaging.models import ChannelBlock, Message
from messaging.transports import twilio_sms

pytestmark = pytest.mark.usefixtures("messaging_settings")


def send(user, place, capture, purpose="operational"):
    data = services.CampaignInput(
        title="Ascenseur",
        purpose=purpose,
        audience={"kind": "residence", "ids": [place.pk]},
        texts=services.Texts(sms_body="L'ascenseur de {{ entree }} est réparé."),
        urgent=True,
    )
    with capture(execute=True):
        return services.create_campaign(user, data)


def test_an_sms_goes_through_the_sdk_with_its_status_callback(
    estate, tenants, cast, twilio, django_capture_on_commit_callbacks
):
    campaign = send(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    message = campaign.messages.order_by("pk").first()
    assert message.status == Message.Status.SENT
    assert message.provider_id.startswith("SM")
    request = next(r for r in twilio.requests if r["method"] == "POST")
    assert request["data"]["To"] == message.to
    assert request["data"]["Body"] == "L'ascenseur de Entrée 1 est réparé."
    assert (
        request["data"]["StatusCallback"]
        == f"https://ronde.example.fr/hooks/twilio/status?m={message.pk}"
    )
    assert request["data"]["From"] == "RONDE"  # a notice: the one-way sender is fine


def test_messages_that_expect_a_reply_leave_from_the_two_way_sender(
    estate, tenants, cast, twilio, django_capture_on_commit_callbacks
):
    from tests.conftest import zone_where

    estate.organisation.time_zone = zone_where(night=False)  # information waits for the day
    estate.organisation.save()
    send(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks, purpose="information")
    request = next(r for r in twilio.requests if r["method"] == "POST")
    assert request["data"]["From"] == "+33939000001"


@pytest.mark.parametrize("prefer", ["code=429", "code=500"])
def test_temporary_errors_are_retried_with_backoff_then_fail(
    estate, tenants, cast, twilio, settings, prefer, django_capture_on_commit_callbacks
):
    settings.MESSAGING_MAX_ATTEMPTS = 2
    twilio.set(prefer)
    campaign = send(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    message = campaign.messages.order_by("pk").first()
    assert message.status == Message.Status.QUEUED and message.attempts == 1
    assert message.error_code in ("20429", "20500")
    assert 25 < (message.next_attempt_at - timezone.now()).total_seconds() <= 30
    Message.objects.update(next_attempt_at=timezone.now())
    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and message.attempts == 2
    assert not ChannelBlock.objects.exists()  # a temporary error never blocks an address


@pytest.mark.parametrize(
    ("example", "code"), [("invalid_number", "21211"), ("unsubscribed", "21610")]
)
def test_permanent_errors_mark_the_address_and_are_not_retried(
    estate, tenants, cast, twilio, example, code, django_capture_on_commit_callbacks
):
    twilio.set(f"code=400, example={example}")
    campaign = send(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    message = campaign.messages.order_by("pk").first()
    assert message.status == Message.Status.FAILED and message.error_code == code
    block = ChannelBlock.objects.get(person=message.person)
    assert block.address == message.to and block.code == code
    posts = len([r for r in twilio.requests if r["method"] == "POST"])
    Message.objects.update(next_attempt_at=timezone.now())
    outbox.dispatch()
    assert len([r for r in twilio.requests if r["method"] == "POST"]) == posts


def test_an_error_about_our_account_never_blocks_the_recipients(
    estate, tenants, cast, twilio, django_capture_on_commit_callbacks
):
    twilio.set("code=401")
    campaign = send(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    assert set(campaign.messages.values_list("status", flat=True)) == {Message.Status.QUEUED}
    assert not ChannelBlock.objects.exists()
    message = campaign.messages.first()
    assert message.error_code == "20003" and "identifiants" in message.error_reason


def test_a_stuck_message_is_looked_up_in_twilios_list_before_anything(
    estate, tenants, cast, twilio, django_capture_on_commit_callbacks
):
    campaign = send(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    message = campaign.messages.first()
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        provider_id="",
        sending_at=timezone.now() - timedelta(minutes=5),
    )
    twilio.requests.clear()
    outbox.reconcile()
    lookup = next(r for r in twilio.requests if r["method"] == "GET")
    assert lookup["params"]["To"] == message.to
    message.refresh_from_db()
    # Not in Twilio's list yet: it may still be queued there, so it is asked again later...
    assert not message.needs_review and message.status == Message.Status.SENDING
    Message.objects.filter(pk=message.pk).update(sending_at=timezone.now() - timedelta(minutes=20))
    outbox.reconcile()
    message.refresh_from_db()
    # ...and after a while an advisor decides. Never resent by the outbox.
    assert message.needs_review and message.status == Message.Status.SENDING


def test_a_lookup_adopts_the_single_matching_message():
    class Found:
        sid, status, body, to = "SM123", "delivered", "Bonjour", "+33639980001"

    class Client:
        class messages:
            @staticmethod
            def list(**kwargs):
                return [
                    Found(),
                    type(
                        "Other",
                        (),
                        {"sid": "SM9", "status": "sent", "body": "Autre", "to": Found.to},
                    )(),
                ]

    transport = twilio_sms.TwilioSms()
    transport._client = Client()
    message = Message(to="+33639980001", body="Bonjour", sending_at=timezone.now())
    found = transport.lookup(message)
    assert found.provider_id == "SM123" and found.status == Message.Status.DELIVERED


@pytest.mark.parametrize(
    ("config", "ok"),
    [
        ({"TWILIO_FROM": "RONDE", "TWILIO_TWO_WAY_FROM": "+33939000001"}, True),
        ({"TWILIO_FROM": "36180"}, True),  # a short code is two-way
        ({"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}, True),
        ({"TWILIO_FROM": "RONDE"}, False),  # one-way only: STOP could not be received
        ({"TWILIO_FROM": "+33612345678"}, False),  # 06 numbers are for people
        ({"TWILIO_FROM": "RONDE", "TWILIO_TWO_WAY_FROM": "+33712345678"}, False),
        ({"TWILIO_FROM": "BAILLEUR-DEUX-RIVES"}, False),  # longer than 11 characters
        ({"TWILIO_ACCOUNT_SID": "", "TWILIO_FROM": "36180"}, False),
    ],
)
def test_the_sender_configuration_is_checked_at_start_up(settings, config, ok):
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_FROM = ""
    settings.TWILIO_TWO_WAY_FROM = ""
    for name, value in config.items():
        setattr(settings, name, value)
    if ok:
        twilio_sms.check_configuration()
    else:
        with pytest.raises(ImproperlyConfigured):
            twilio_sms.check_configuration()


def test_a_process_refuses_to_start_with_a_bad_twilio_configuration(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SMS_TRANSPORT": "twilio",
        "TWILIO_FROM": "+33612345678",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "x",
        "RONDE_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent),
    )
    assert result.returncode != 0 and "06 and 07" in result.stderr
