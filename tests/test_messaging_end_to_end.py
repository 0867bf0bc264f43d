"""A campaign end to end on both job backends: real worker processes prepare the outbox and
send it (django-q2 on the ORM broker; Celery on a real Redis)."""

import os
import subprocess
import sys

import pytest

from messaging import services
from messaging.models import Campaign, CapturedMessage, Message
from tests.test_jobs import ROOT, stop, wait_for, worker_env

FAST = {
    "SMS_TRANSPORT": "capture",
    "EMAIL_TRANSPORT": "capture",
    "SMS_RATE_PER_SECOND": "1000",
    "EMAIL_RATE_PER_SECOND": "1000",
}


def create(user, place):
    data = services.CampaignInput(
        title="Coupure d'eau",
        purpose="operational",
        audience={"kind": "residence", "ids": [place.pk]},
        texts=services.Texts(
            sms_body="Bonjour {{ prenom }}, coupure d'eau demain 9 h.",
            email_subject="Coupure d'eau",
            email_text="Bonjour {{ prenom }}",
        ),
        urgent=True,
        delivery="both",
    )
    return services.create_campaign(user, data)


def all_sent(campaign):
    statuses = set(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    return (
        Campaign.objects.get(pk=campaign.pk).status == "ready"
        and statuses <= {"sent", "delivered"}
        and statuses
    )


@pytest.mark.django_db(transaction=True)
def test_a_django_q2_cluster_sends_a_campaign(
    estate, tenants, cast, monkeypatch, settings, tmp_path
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    settings.EMAIL_BACKEND = "messaging.capture.CaptureEmailBackend"
    log = tmp_path / "qcluster.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=worker_env(**FAST),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        campaign = create(cast.advisor, estate.tilleuls)
        assert wait_for(lambda: all_sent(campaign), 90, process, log), log.read_text()[-3000:]
        assert Message.objects.filter(campaign=campaign).count() == 4  # 2 people × both channels
        assert CapturedMessage.objects.filter(channel="sms").count() == 2
        assert CapturedMessage.objects.filter(channel="email").count() == 2
    finally:
        stop(process)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_celery_workers_on_redis_send_a_campaign(estate, tenants, cast, settings, tmp_path):
    broker = os.environ.get("REDIS_URL")
    assert broker, "REDIS_URL is not set: run the suite through scripts/with-services.sh"
    settings.JOBS_BACKEND = "celery"
    log = tmp_path / "celery.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backend",
            "worker",
            "--pool=solo",
            "-c",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--logfile",
            str(log),
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=worker_env(JOBS_BACKEND="celery", CELERY_BROKER_URL=broker, **FAST),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        campaign = create(cast.advisor, estate.tilleuls)
        assert wait_for(lambda: all_sent(campaign), 90, process, log), (
            log.read_text()[-3000:] if log.exists() else ""
        )
        assert CapturedMessage.objects.filter(channel="sms").count() == 2
    finally:
        stop(process)
