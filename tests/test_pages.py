"""Staff pages: login with throttling, navigation by role, accessibility statement, captured
messages, language switch, charts."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts import throttle
from backend.accounts.models import LoginFailure
from messaging.capture import capture_sms
from tests.conftest import PASSWORD, client_for


def login(client, username, password, address="10.0.0.1"):
    return client.post(
        "/connexion/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_staff_log_in_and_out(cast):
    client = Client()
    response = login(client, "advisor", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "Bonjour Advisor" in home.content.decode()
    response = client.post("/deconnexion/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_gets_a_french_message(cast):
    response = login(Client(), "advisor", "wrong")
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in response.content.decode()


def test_after_five_failures_attempts_wait_a_growing_delay(cast):
    client = Client()
    for _ in range(5):
        login(client, "advisor", "wrong")
    # Even the right password waits now: the delay is what slows a guesser down.
    response = login(client, "advisor", PASSWORD)
    assert response.status_code == 200
    assert "Trop de tentatives" in response.content.decode()
    key = throttle.throttle_key("advisor", "10.0.0.1")
    assert throttle.check(key).retry_after > timedelta(seconds=30)
    # Once the delay has passed, the right password works and clears the failures.
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert login(client, "advisor", PASSWORD).status_code == 302
    assert not LoginFailure.objects.filter(key=key).exists()


def test_the_delay_doubles_and_caps_and_the_day_limit_holds(settings):
    settings.LOGIN_FREE_FAILURES = 5
    assert throttle.delay_after(4) == timedelta(0)
    assert throttle.delay_after(5) == timedelta(minutes=1)
    assert throttle.delay_after(6) == timedelta(minutes=2)
    assert throttle.delay_after(20) == timedelta(hours=1)


def test_twenty_five_failures_a_day_stop_attempts_until_they_age(db):
    key = throttle.throttle_key("advisor", "10.0.0.9")
    old = timezone.now() - timedelta(hours=23)
    LoginFailure.objects.bulk_create([LoginFailure(key=key, created_at=old) for _ in range(25)])
    verdict = throttle.check(key)
    assert not verdict.allowed and timedelta(minutes=59) < verdict.retry_after <= timedelta(hours=1)
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert throttle.check(key).allowed


def test_a_stranger_elsewhere_cannot_lock_someone_out(cast):
    attacker = Client()
    for _ in range(10):
        login(attacker, "advisor", "wrong", address="203.0.113.7")
    assert login(Client(), "advisor", PASSWORD, address="10.0.0.1").status_code == 302


def test_users_without_a_role_cannot_use_the_staff_pages(db):
    from backend.accounts.models import User

    user = User.objects.create_user("norole", password=PASSWORD)
    response = login(Client(), "norole", PASSWORD)
    assert response.status_code == 200
    assert "Ce compte n’a pas accès aux pages réservées au personnel." in response.content.decode()
    assert user.is_active


@pytest.mark.parametrize(
    ("who", "present", "absent"),
    [
        (
            "agent_a",
            ["Tableau de bord", "Rechercher", "Patrimoine"],
            ["Administration", "Messages capturés"],
        ),
        ("contractor", ["Tableau de bord", "Patrimoine"], ["Rechercher", "Administration"]),
        ("manager_b", ["Rechercher"], ["Administration", "Messages capturés"]),
        ("admin", ["Administration"], ["Messages capturés"]),
    ],
)
def test_navigation_depends_on_the_role(cast, who, present, absent):
    html = client_for(getattr(cast, who)).get("/").content.decode()
    nav = html[html.index('<nav aria-label="Menu principal">') : html.index("</nav>")]
    for label in present:
        assert label in nav, label
    for label in absent:
        assert label not in nav, label


def test_the_home_page_draws_charts_with_a_text_alternative(cast):
    html = client_for(cast.advisor).get("/").content.decode()
    assert '<svg viewBox="0 0 320' in html and 'role="img"' in html
    assert "<table>" in html and "Les Tilleuls" in html


def test_the_accessibility_statement_is_public_and_linked_from_every_page(db):
    html = Client().get("/connexion/").content.decode()
    assert 'href="/accessibilite/"' in html and "Accessibilité : non conforme" in html
    page = Client().get("/accessibilite/").content.decode()
    assert "Déclaration d’accessibilité" in page and "Défenseur des droits" in page


def test_captured_messages_of_no_organisation_are_for_superusers_only(cast, settings):
    from backend.accounts.models import User

    settings.DEMO_MODE = True
    capture_sms("+33639981234", "Bonjour, l’ascenseur est réparé.")
    root = User.objects.create_superuser("root", password="x" * 20)
    html = client_for(root).get(reverse("captured-messages")).content.decode()
    assert "l’ascenseur est réparé" in html and "+33639981234" in html
    admin_page = client_for(cast.admin).get(reverse("captured-messages"))
    assert admin_page.status_code == 200 and "l’ascenseur" not in admin_page.content.decode()
    assert client_for(cast.agent_a).get(reverse("captured-messages")).status_code == 403
    settings.DEMO_MODE = False
    assert client_for(root).get(reverse("captured-messages")).status_code == 403


def test_email_is_captured_not_sent(db):
    from django.core import mail

    from messaging.models import CapturedMessage

    sent = mail.EmailMultiAlternatives("Sujet", "Texte", to=["a@example.org"])
    sent.attach_alternative("<p>Texte</p>", "text/html")
    # pytest-django swaps in the locmem backend; use the project's capture backend explicitly.
    from messaging.capture import CaptureEmailBackend

    assert CaptureEmailBackend().send_messages([sent]) == 1
    row = CapturedMessage.objects.get(channel="email")
    assert row.recipients == ["a@example.org"] and row.html == "<p>Texte</p>"


def test_the_interface_switches_to_english(cast):
    client = client_for(cast.advisor)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert "Dashboard" in html and 'lang="en"' in html
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert "Tableau de bord" in client.get("/").content.decode()


def test_pages_send_a_strict_content_security_policy(db):
    response = Client().get("/connexion/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"


def test_the_residence_pages_list_and_search_in_scope(cast, estate):
    client = client_for(cast.advisor)
    html = client.get("/patrimoine/", {"q": "tilleuls"}).content.decode()
    assert "Les Tilleuls" in html and "Le Moulin" not in html
    detail = client.get(f"/patrimoine/{estate.tilleuls.pk}/").content.decode()
    assert "Bâtiment A" in detail and "Ascenseur Les Tilleuls" in detail


def test_unknown_pages_get_a_french_404(db):
    response = Client().get("/nulle-part/")
    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()


def test_parallel_guessing_from_many_addresses_is_slowed_too(cast, settings):
    settings.LOGIN_FREE_FAILURES_PER_IDENTIFIER = 20
    for n in range(20):
        login(Client(), "advisor", "wrong", address=f"198.51.100.{n}")
    response = login(Client(), "advisor", PASSWORD, address="10.9.9.9")
    assert response.status_code == 200 and "Trop de tentatives" in response.content.decode()
    key = throttle.identifier_key("advisor")
    assert throttle.check_identifier(key).retry_after <= timedelta(minutes=15)


def test_an_attempt_counts_before_its_password_is_checked(cast):
    # Written first, judged on what came before: a burst of parallel attempts counts in full.
    attempt = throttle.Attempt("advisor", "10.0.0.7")
    assert attempt.begin().allowed
    assert (
        LoginFailure.objects.filter(key=throttle.throttle_key("advisor", "10.0.0.7")).count() == 1
    )
    for _ in range(4):
        assert throttle.Attempt("advisor", "10.0.0.7").begin().allowed
    refused = throttle.Attempt("advisor", "10.0.0.7").begin()  # the sixth, right after five
    assert not refused.allowed
    # A refused attempt leaves no row: hammering does not extend the wait.
    assert (
        LoginFailure.objects.filter(key=throttle.throttle_key("advisor", "10.0.0.7")).count() == 5
    )


def test_dates_are_shown_in_the_organisation_time_zone(cast, estate):
    from django.utils import timezone

    estate.organisation.time_zone = "Indian/Reunion"
    estate.organisation.save()
    client = client_for(cast.advisor)
    response = client.get("/")
    assert response.status_code == 200
    assert response.wsgi_request is not None
    from backend.core.middleware import OrganisationTimezoneMiddleware

    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone_name()
        from django.http import HttpResponse

        return HttpResponse()

    request = client.get("/").wsgi_request
    OrganisationTimezoneMiddleware(view)(request)
    assert seen["zone"] == "Indian/Reunion"


def test_the_login_form_explains_required_fields_and_announces_errors(db):
    html = login(Client(), "nobody", "wrong").content.decode()
    assert "<title>Erreur : Se connecter — Ronde</title>" in html
    assert "astérisque" in html


def test_a_session_loads_its_user_and_organisation_in_one_query(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(cast.agent_a)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/sync/session").json()["authenticated"]
    tables = [q["sql"].split(" FROM ", 1)[1].split()[0] for q in captured if " FROM " in q["sql"]]
    assert '"estate_organisation"' not in tables, tables  # joined to the user's query
