"""Uploaded files are served only through a view that applies the data's scope."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from backend.core.files import protected_url
from backend.estate.models import EstateDocument
from tests.conftest import client_for


@pytest.fixture
def document(estate, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    doc = EstateDocument(residence=estate.tilleuls, title="Plan", kind="plan")
    doc.file.save("plan.pdf", ContentFile(b"%PDF-1.4 plan"), save=True)
    return doc


def test_someone_in_scope_downloads_the_file(document, cast):
    response = client_for(cast.agent_a).get(protected_url(document, "file"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 plan"
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"].startswith("private")


@pytest.mark.parametrize("who", ["manager_b", "contractor", "outsider"])
def test_a_guessed_url_outside_the_scope_is_a_404(document, cast, who):
    response = client_for(getattr(cast, who)).get(protected_url(document, "file"))
    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(document):
    response = Client().get(protected_url(document, "file"))
    assert response.status_code == 302 and "/connexion/" in response["Location"]


def test_the_storage_path_is_not_a_public_url(document, cast):
    client = client_for(cast.admin)
    assert client.get("/fichiers/" + document.file.name).status_code == 404
    assert client.get("/media/" + document.file.name).status_code == 404


def test_unregistered_fields_are_not_served(document, cast):
    url = f"/fichiers/estate/estatedocument/title/{document.pk}/"
    assert client_for(cast.admin).get(url).status_code == 404


def test_nginx_sends_the_bytes_when_configured(document, cast, settings):
    settings.FILES_ACCEL = "nginx"
    response = client_for(cast.agent_a).get(protected_url(document, "file"))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-media/" + document.file.name
    assert response.content == b""


def test_html_uploads_are_downloads_never_pages(estate, cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    doc = EstateDocument(residence=estate.tilleuls, title="Piège", kind="other")
    doc.file.save("piege.html", ContentFile(b"<script>alert(1)</script>"), save=True)
    response = client_for(cast.agent_a).get(protected_url(doc, "file"))
    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]
