"""Issue 7's "done when", on the demo data: following only the pages, the newcomer `make run`
prints activates an account, verifies the e-mail (read where the demo captures it), logs in,
joins a second contract with an agency letter and sees their requests; then departure and
anonymisation run on the demo data."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from backend.accounts import lifecycle
from backend.accounts.models import AuditRecord, TenantAccount, User
from messaging.models import CapturedMessage
from tests.test_demo import demo_data, printed_banner  # noqa: F401 - the demo, loaded once

pytestmark = pytest.mark.django_db(transaction=False)

PASSWORD = "Une phrase de passe pour la démo"


def captured_link(path: str) -> str:
    mail = CapturedMessage.objects.filter(channel="email").order_by("-pk").first()
    found = re.search(r"https?://[^\s]+?(" + re.escape(path) + r"[^\s]+/)", mail.body)
    assert found, mail.body
    return found.group(1)


def test_a_newcomer_follows_the_pages_then_leaves(
    demo_data,  # noqa: F811
    django_capture_on_commit_callbacks,
    messaging_settings,
):
    banner = printed_banner()
    newcomer = re.search(r"référence (\d+), module (\S+), nom (\S+)", banner)
    letter = re.search(r"identifiant (P-DEMO-\d+), mot de passe provisoire (\S+)", banner)
    assert newcomer and letter, banner
    reference, module, surname = newcomer.groups()
    client = Client()
    client.get("/locataire/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/locataire/activer/",
            {
                "reference": reference,
                "module": module,
                "surname": surname,
                "email": "nouvelle.venue@example.org",
                "password": PASSWORD,
                "confirm": PASSWORD,
                "paperless": "no",
                "commercial": "no",
                "general": "yes",
                "accept_terms": "on",
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(captured_link("/locataire/verifier/")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        login = client.post(
            "/locataire/connexion/",
            {"identifier": "nouvelle.venue@example.org", "password": PASSWORD},
        )
    assert login["Location"] == "/locataire/espace/"
    account = TenantAccount.objects.get(email="nouvelle.venue@example.org")
    first_home = account.current_household
    joined = client.post(
        "/locataire/espace/fusion/",
        {"identifier": letter.group(1), "secret": letter.group(2), "password": PASSWORD},
    )
    assert joined["Location"] == "/locataire/espace/"
    assert account.households.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/locataire/espace/demandes/nouvelle/",
            {"category": "heating", "place": "unit", "description": "Radiateur froid"},
        )
    assert created.status_code == 302
    space = client.get("/locataire/espace/").content.decode()
    assert "Radiateur froid" not in space  # the list shows references, not descriptions
    reference_shown = re.search(r"(D\d{4}-\d{6}) — Chauffage", space)
    assert reference_shown, space
    client.post("/locataire/espace/logement/", {"household": first_home.pk})

    # Departure and anonymisation, on the demo's departed tenant and on this one.
    departed = TenantAccount.objects.get(status=TenantAccount.Status.DEPARTED)
    email, user_id = departed.email, departed.user_id
    now = timezone.now()
    later = now + timedelta(days=settings.TENANT_DEACTIVATE_DAYS + 1)
    lifecycle.run_accounts(later)
    departed.refresh_from_db()
    assert departed.status == TenantAccount.Status.DEACTIVATED
    assert not User.objects.get(pk=user_id).is_active
    much_later = later + timedelta(days=settings.TENANT_ANONYMISE_DAYS + 1)
    lifecycle.run_accounts(much_later)
    departed.refresh_from_db()
    assert departed.status == TenantAccount.Status.ANONYMISED
    assert not User.objects.filter(email=email).exists()
    assert not TenantAccount.objects.filter(email=email).exists()
    assert not any(
        email in (c.recipients or []) or email in c.body for c in CapturedMessage.objects.all()
    )
    assert AuditRecord.objects.filter(account=departed, action__contains="anonym").exists()
    # Everybody else is untouched: the newcomer's account still works.
    client = Client()
    client.get("/locataire/")
    again = client.post(
        "/locataire/connexion/", {"identifier": "nouvelle.venue@example.org", "password": PASSWORD}
    )
    assert again["Location"] == "/locataire/espace/"
