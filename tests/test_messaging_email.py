"""E-mail through a real SMTP server (aiosmtpd): both parts, the unsubscribe link and header
for non-operational messages, refused recipients marked."""

import re

import pytest
from django.test import Client

from messaging import services
from messaging.models import ChannelBlock, Message, OptOut


@pytest.fixture
def fast(settings):
    from decimal import Decimal

    settings.SMS_TRANSPORT = "capture"
    settings.EMAIL_RATE_PER_SECOND = Decimal(100000)
    settings.SMS_RATE_PER_SECOND = Decimal(100000)
    settings.SITE_URL = "http://testserver"


def send_email(user, place, capture, purpose="information"):
    data = services.CampaignInput(
        title="Fête des voisins",
        purpose=purpose,
        audience={"kind": "residence", "ids": [place.pk]},
        texts=services.Texts(
            email_subject="Fête des voisins à {{ residence }}",
            email_text="Bonjour {{ prenom }},\n\nRendez-vous vendredi à 18 h.",
        ),
        urgent=True,
    )
    with capture(execute=True):
        return services.create_campaign(user, data)


def test_emails_reach_a_real_smtp_server_with_both_parts(
    estate, tenants, cast, smtp_server, fast, django_capture_on_commit_callbacks
):
    campaign = send_email(
        cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks, purpose="operational"
    )
    assert len(smtp_server.messages) == 2
    received = smtp_server.messages[0]
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(received["Subject"]))) == "Fête des voisins à Les Tilleuls"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in received.walk()
        if not part.is_multipart()
    }
    assert "Bonjour Prénom1" in parts["text/plain"] and "<p>" in parts["text/html"]
    assert "List-Unsubscribe" not in received  # operational: no unsubscribe
    message = campaign.messages.get(to=received["To"])
    assert message.status == Message.Status.SENT and message.provider_id == received["Message-ID"]


def test_information_emails_carry_a_working_unsubscribe_link(
    estate, tenants, cast, smtp_server, fast, django_capture_on_commit_callbacks
):
    send_email(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    received = smtp_server.messages[0]
    link = re.search(
        r"<(http://testserver/desinscription/[^>]+)>", received["List-Unsubscribe"]
    ).group(1)
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    person = next(t for t in tenants if t.email == received["To"])
    path = link.replace("http://testserver", "")
    page = Client().get(path)
    assert page.status_code == 200 and "Se désinscrire" in page.content.decode()
    assert not OptOut.objects.exists()  # a GET (a mail scanner) changes nothing
    # A mail client's one-click unsubscribe (RFC 8058): a POST from outside, no CSRF token.
    one_click = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert OptOut.objects.filter(person=person, purpose="information", channel="email").exists()
    smtp_server.messages.clear()
    send_email(cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks)
    assert [m["To"] for m in smtp_server.messages] == [t.email for t in tenants[:2] if t != person]
    smtp_server.messages.clear()
    send_email(
        cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks, purpose="operational"
    )
    assert person.email in [m["To"] for m in smtp_server.messages]  # operational still reaches


def test_a_forged_unsubscribe_link_is_refused(db):
    response = Client().get("/desinscription/pas-un-jeton/")
    assert response.status_code == 400
    assert "n’est pas valide" in response.content.decode()


def test_a_refused_recipient_is_marked_and_not_retried(
    estate, tenants, cast, smtp_server, fast, django_capture_on_commit_callbacks
):
    smtp_server.refuse.add(tenants[0].email)
    campaign = send_email(
        cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks, purpose="operational"
    )
    refused = campaign.messages.get(to=tenants[0].email)
    assert refused.status == Message.Status.FAILED and refused.error_code == "550"
    assert ChannelBlock.objects.filter(person=tenants[0], channel="email").exists()
    assert campaign.messages.get(to=tenants[1].email).status == Message.Status.SENT


def test_an_unreachable_smtp_server_is_a_temporary_error(
    estate, tenants, cast, settings, fast, django_capture_on_commit_callbacks
):
    from tests.twilio_mock import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    campaign = send_email(
        cast.advisor, estate.tilleuls, django_capture_on_commit_callbacks, purpose="operational"
    )
    message = campaign.messages.first()
    assert message.status == Message.Status.QUEUED and message.error_code == "connect"
    assert not ChannelBlock.objects.exists()
