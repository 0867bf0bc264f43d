"""The outbox: rows written with their cause, sent by short jobs at the sender's rate, status
only forward, retries with backoff, and never a blind resend after a crash."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging import outbox, services
from messaging.models import Campaign, CapturedMessage, Message, MessageEvent, SenderRate
from tests.conftest import client_for

pytestmark = pytest.mark.usefixtures("messaging_settings")


def campaign_for(
    user,
    place,
    *,
    urgent=True,
    purpose="operational",
    sms="Bonjour {{ prenom }}, coupure d'eau demain.",
    email="",
    capture=None,
):
    data = services.CampaignInput(
        title="Coupure d'eau",
        purpose=purpose,
        audience={"kind": "residence", "ids": [place.pk]},
        texts=services.Texts(
            sms_body=sms, email_subject="Coupure d'eau" if email else "", email_text=email
        ),
        urgent=urgent,
    )
    with capture(execute=True):
        return services.create_campaign(user, data)


def test_an_urgent_send_is_prepared_then_sent_through_the_captured_transport(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, capture=django_capture_on_commit_callbacks
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.READY
    messages = list(campaign.messages.order_by("pk"))
    assert [m.status for m in messages] == [Message.Status.SENT, Message.Status.SENT]
    assert messages[0].body == f"Bonjour {tenants[0].first_name}, coupure d'eau demain."
    assert messages[0].segments == 1 and messages[0].provider_id.startswith("CAP")
    captured = CapturedMessage.objects.filter(channel="sms")
    assert captured.count() == 2
    assert set(captured.values_list("residence_id", flat=True)) == {estate.tilleuls.pk}
    events = list(messages[0].events.values_list("status", "source"))
    assert events == [("sending", "outbox"), ("sent", "outbox")]


def test_a_campaign_written_at_night_waits_for_the_morning(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    from tests.conftest import zone_where

    estate.organisation.time_zone = zone_where(night=True)
    estate.organisation.save()
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, urgent=False, capture=django_capture_on_commit_callbacks
    )
    message = campaign.messages.first()
    assert message.status == Message.Status.QUEUED
    local = timezone.localtime(message.next_attempt_at, estate.organisation.zone)
    assert (local.hour, local.minute) == (8, 0) and message.next_attempt_at > timezone.now()
    assert outbox.dispatch() == 0


def test_quiet_hours_are_checked_again_when_sending(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    """A retry, a backlog or a resend that falls at night waits for the morning too."""
    from tests.conftest import zone_where

    campaign = campaign_for(
        cast.advisor,
        estate.tilleuls,
        urgent=False,
        purpose="information",
        capture=django_capture_on_commit_callbacks,
    )
    estate.organisation.time_zone = zone_where(night=True)
    estate.organisation.save()
    # Back in the queue as a retry would be (whether or not it left when the campaign was
    # made, which depends on the hour in Paris when the suite runs).
    Message.objects.filter(campaign=campaign).update(
        status=Message.Status.QUEUED,
        next_attempt_at=timezone.now(),
        provider_id="",
        claim=None,
        claimed_at=None,
    )
    assert outbox.dispatch() == 0
    message = campaign.messages.first()
    assert message.status == Message.Status.QUEUED and message.next_attempt_at > timezone.now()
    assert message.claim is None


def test_an_opt_out_received_meanwhile_cancels_the_waiting_message(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    from messaging.models import OptOut
    from tests.conftest import zone_where

    estate.organisation.time_zone = zone_where(night=True)
    estate.organisation.save()
    campaign = campaign_for(
        cast.advisor,
        estate.tilleuls,
        purpose="information",
        capture=django_capture_on_commit_callbacks,
    )
    held = campaign.messages.order_by("pk").first()
    OptOut.objects.create(
        person=held.person, purpose="information", channel="sms", source="sms_keyword"
    )
    estate.organisation.time_zone = zone_where(night=False)
    estate.organisation.save()
    Message.objects.filter(campaign=campaign).update(next_attempt_at=timezone.now())
    outbox.dispatch()
    held.refresh_from_db()
    assert held.status == Message.Status.CANCELLED
    assert held.events.filter(status="cancelled").exists()
    assert campaign.messages.exclude(pk=held.pk).get().status == Message.Status.SENT


def test_status_only_moves_forward(estate, tenants, cast, django_capture_on_commit_callbacks):
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, capture=django_capture_on_commit_callbacks
    )
    message = campaign.messages.first()
    assert outbox.advance(message, Message.Status.DELIVERED, MessageEvent.Source.PROVIDER)
    assert not outbox.advance(message, Message.Status.SENT, MessageEvent.Source.PROVIDER)
    assert not outbox.advance(message, Message.Status.FAILED, MessageEvent.Source.PROVIDER)
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED and message.delivered_at


def test_a_crash_after_the_provider_call_never_sends_twice(
    estate, tenants, cast, monkeypatch, django_capture_on_commit_callbacks
):
    def crash(*args, **kwargs):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(outbox, "record_result", crash)
    campaign_for(cast.advisor, estate.tilleuls, capture=django_capture_on_commit_callbacks)
    monkeypatch.undo()
    stuck = Message.objects.get(status=Message.Status.SENDING)
    waiting = Message.objects.get(status=Message.Status.QUEUED)  # claimed by the dead worker
    assert CapturedMessage.objects.count() == 1  # the first one did leave
    assert outbox.dispatch() == 0  # nothing is sent again while the claim is fresh
    Message.objects.filter(pk=stuck.pk).update(sending_at=timezone.now() - timedelta(minutes=5))
    Message.objects.filter(pk=waiting.pk).update(claimed_at=timezone.now() - timedelta(minutes=5))
    assert outbox.reconcile() == {"found": 1, "review": 0, "waiting": 0}
    stuck.refresh_from_db()
    assert stuck.status == Message.Status.SENT and stuck.provider_id.startswith("CAP")
    assert stuck.events.filter(source="reconciliation").exists()
    assert outbox.dispatch() == 1  # the one never sent goes now, once
    assert CapturedMessage.objects.filter(body=stuck.body).count() == 1
    assert CapturedMessage.objects.count() == 2


def test_a_stuck_message_the_provider_does_not_know_waits_for_an_advisor(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, capture=django_capture_on_commit_callbacks
    )
    message = campaign.messages.first()
    CapturedMessage.objects.all().delete()
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        provider_id="",
        sending_at=timezone.now() - timedelta(minutes=20),
    )
    assert outbox.reconcile() == {"found": 0, "review": 1, "waiting": 0}
    message.refresh_from_db()
    assert message.needs_review and message.status == Message.Status.SENDING
    assert outbox.reconcile() == {
        "found": 0,
        "review": 0,
        "waiting": 0,
    }  # flagged once, then left to people
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_review(cast.advisor, message, "resend")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and not message.needs_review
    assert message.events.filter(source="staff").exists()


def test_the_rate_is_shared_by_every_worker(db):
    first = outbox.reserve("sms:test", 10, 10.0)
    second = outbox.reserve("sms:test", 5, 10.0)
    assert (second - first).total_seconds() == pytest.approx(1.0, abs=0.01)
    assert SenderRate.objects.get(sender="sms:test").next_free_at == second + timedelta(seconds=0.5)


def test_the_fan_out_resumes_without_duplicates(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, urgent=False, capture=django_capture_on_commit_callbacks
    )
    count = campaign.messages.count()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.PREPARING, prepared_up_to=0
    )
    services.prepare_campaign(campaign.pk)  # a rerun after a crash
    assert campaign.messages.count() == count


def test_the_fan_out_costs_the_same_queries_for_two_or_forty_recipients(
    estate, cast, django_capture_on_commit_callbacks
):
    from backend.estate import models as m
    from tests.conftest import make_residence

    big = make_residence(estate.north, "R07", "La Grande Barre", units=40, lease_prefix="50")
    cast.advisor.agencies.add(estate.north)
    for n, lease in enumerate(
        m.Lease.objects.filter(residence__in=[big, estate.tilleuls]), start=1
    ):
        m.Person.objects.create(
            household=lease.household,
            first_name="P",
            last_name=f"N{n}",
            mobile=f"+336399810{n:02d}",
        )

    def queries(place):
        campaign = campaign_for(
            cast.advisor, place, urgent=False, capture=django_capture_on_commit_callbacks
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.Status.PREPARING, prepared_up_to=0
        )
        campaign.messages.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            services.prepare_campaign(campaign.pk)
        return len(ctx.captured_queries), campaign.messages.count()

    small, n_small = queries(estate.tilleuls)
    large, n_large = queries(big)
    assert (n_small, n_large) == (2, 40)
    assert large == small


def test_failed_messages_go_again_on_the_other_channel(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    campaign = campaign_for(
        cast.advisor,
        estate.tilleuls,
        email="Bonjour {{ prenom }}",
        capture=django_capture_on_commit_callbacks,
    )
    failed = campaign.messages.filter(channel="sms").first()
    Message.objects.filter(pk=failed.pk).update(status=Message.Status.FAILED, error_code="30003")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.resend_failed(cast.advisor, campaign) == 1
    email = campaign.messages.get(channel="email", person=failed.person)
    assert email.status == Message.Status.SENT and email.to == failed.person.email
    with django_capture_on_commit_callbacks(execute=True):
        assert services.resend_failed(cast.advisor, campaign) == 0  # never twice


def test_captured_sms_are_reported_delivered_a_moment_later(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    from backend import jobs
    from backend.core.models import Job

    campaign = campaign_for(
        cast.advisor, estate.tilleuls, capture=django_capture_on_commit_callbacks
    )
    Job.objects.filter(name__endswith="simulate_delivery").update(due_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        jobs.dispatch_due_jobs()
    assert set(campaign.messages.values_list("status", flat=True)) == {Message.Status.DELIVERED}


def test_each_channel_has_its_transport_chosen_by_the_settings(settings):
    from messaging.transports import transport_for
    from messaging.transports.capture import CaptureSms
    from messaging.transports.email import EmailTransport
    from messaging.transports.twilio_sms import TwilioSms

    assert isinstance(transport_for("sms"), CaptureSms)
    assert isinstance(transport_for("email"), EmailTransport)
    settings.SMS_TRANSPORT = "twilio"
    assert isinstance(transport_for("sms"), TwilioSms)


def test_a_crash_in_the_middle_of_a_fan_out_resumes_without_duplicates(
    estate, tenants, cast, monkeypatch, django_capture_on_commit_callbacks
):
    from messaging import audiences

    monkeypatch.setattr(audiences, "CHUNK", 1)  # one recipient per committed chunk
    calls = {"n": 0}
    real = services.build_messages

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the worker died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "build_messages", crash_on_second)
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, urgent=False, capture=django_capture_on_commit_callbacks
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PREPARING and campaign.messages.count() == 1
    monkeypatch.setattr(services, "build_messages", real)
    services.prepare_campaign(campaign.pk)  # the retry
    assert sorted(campaign.messages.values_list("person_id", flat=True)) == sorted(
        t.pk for t in tenants[:2]
    )


def test_a_campaign_whose_author_lost_access_fails_with_the_reason(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    data = services.CampaignInput(
        title="Info",
        purpose="operational",
        audience={"kind": "residence", "ids": [estate.tilleuls.pk]},
        texts=services.Texts(sms_body="Bonjour"),
    )
    campaign = services.create_campaign(cast.advisor, data)  # the job has not run yet
    cast.advisor.agencies.clear()
    services.prepare_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED and "accès" in campaign.failure
    # The reason is told where the campaign is followed: its page and the API.
    admin = client_for(cast.admin)
    page = admin.get(f"/messages/envois/{campaign.pk}/").content.decode()
    assert campaign.failure in page
    api = admin.get(f"/api/messaging/campaigns/{campaign.pk}").json()
    assert api["status"] == "failed" and api["failure"] == campaign.failure


def test_recipients_get_the_template_in_their_language(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    from messaging.models import Template, TemplateVariant

    template = Template.objects.create(
        organisation=estate.organisation, key="info", name="Info", channels="sms"
    )
    TemplateVariant.objects.create(
        template=template, language="fr", sms_body="Bonjour {{ prenom }}"
    )
    TemplateVariant.objects.create(template=template, language="en", sms_body="Hello {{ prenom }}")
    tenants[1].language = "en"
    tenants[1].save()
    data = services.CampaignInput(
        title="Info",
        purpose="operational",
        audience={"kind": "residence", "ids": [estate.tilleuls.pk]},
        texts=services.template_texts(template),
        template_id=template.pk,
        personalised=False,
        urgent=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign = services.create_campaign(cast.advisor, data)
    bodies = dict(campaign.messages.values_list("person_id", "body"))
    assert bodies == {
        tenants[0].pk: f"Bonjour {tenants[0].first_name}",
        tenants[1].pk: f"Hello {tenants[1].first_name}",
    }
