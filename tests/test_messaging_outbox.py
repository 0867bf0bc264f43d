"""The outbox: rows written with their cause, sent by short jobs at the sender's rate, status
only forward, retries with backoff, and never a blind resend after a crash."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging import outbox, services, timing
from messaging.models import Campaign, CapturedMessage, Message, MessageEvent, SenderRate
from messaging.transports import Sent

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


def test_a_campaign_waits_for_the_allowed_hours(
    estate, tenants, cast, django_capture_on_commit_callbacks
):
    before = timezone.now()
    campaign = campaign_for(
        cast.advisor, estate.tilleuls, urgent=False, capture=django_capture_on_commit_callbacks
    )
    message = campaign.messages.first()
    expected = timing.next_allowed(estate.organisation, before)
    assert abs((message.next_attempt_at - expected).total_seconds()) < 5
    if expected > timezone.now() + timedelta(seconds=5):  # sent at night or on a holiday
        assert message.status == Message.Status.QUEUED
    else:
        assert message.status == Message.Status.SENT


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
    assert outbox.reconcile() == {"found": 1, "review": 0}
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
        sending_at=timezone.now() - timedelta(minutes=5),
    )
    assert outbox.reconcile() == {"found": 0, "review": 1}
    message.refresh_from_db()
    assert message.needs_review and message.status == Message.Status.SENDING
    assert outbox.reconcile() == {"found": 0, "review": 0}  # flagged once, then left to people
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


def test_transports_answer_through_one_small_base():
    from messaging.transports import TRANSPORTS, Transport, transport_for

    for channel, _name in TRANSPORTS:
        assert isinstance(transport_for(channel), Transport)
    assert isinstance(Sent("x", "sent"), Sent)
