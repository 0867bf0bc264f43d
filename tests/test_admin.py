"""The French admin: scoped to the organisation of its administrator, tokens issued once."""

import re

from backend.accounts.models import ApiToken, User
from backend.estate import models as m
from tests.conftest import client_for


def test_an_organisation_admin_browses_its_estate_and_only_it(estate, cast):
    client = client_for(cast.admin)
    assert cast.admin.is_staff and not cast.admin.is_superuser
    html = client.get("/admin/estate/residence/").content.decode()
    assert "Les Tilleuls" in html and "La Source" in html and "Ailleurs" not in html
    for url in [
        "/admin/estate/unit/",
        "/admin/estate/lease/",
        "/admin/estate/person/",
        "/admin/estate/providercontract/",
        "/admin/estate/equipment/",
        "/admin/accounts/user/",
        f"/admin/estate/residence/{estate.tilleuls.pk}/change/",
        f"/admin/estate/providercontract/{estate.cleaning_contract.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get(f"/admin/estate/residence/{estate.elsewhere.pk}/change/").status_code in (
        302,
        404,
    )
    outsider_unit = m.Unit.objects.filter(residence=estate.elsewhere).first()
    assert client.get(f"/admin/estate/unit/{outsider_unit.pk}/change/").status_code in (302, 404)


def test_admin_choices_hold_only_the_scope(estate, cast):
    client = client_for(cast.admin)
    found = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "estate",
            "model_name": "building",
            "field_name": "residence",
            "term": "",
        },
    ).json()
    names = {item["text"] for item in found["results"]}
    assert names == {"Les Tilleuls", "Le Moulin", "La Source"}
    html = client.get("/admin/estate/sector/add/").content.decode()
    assert "Agence Nord" in html and "Agence Ailleurs" not in html
    # A new staff member can only join the administrator's own organisation.
    html = client.get(f"/admin/accounts/user/{cast.agent_a.pk}/change/").content.decode()
    assert estate.organisation.name in html
    assert estate.other_organisation.name not in html


def test_an_organisation_admin_cannot_make_anyone_superuser(estate, cast):
    client = client_for(cast.admin)
    client.post(
        f"/admin/accounts/user/{cast.advisor.pk}/change/",
        {
            "username": "advisor",
            "is_superuser": "on",
            "is_staff": "on",
            "role": "advisor",
            "organisation": estate.organisation.pk,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    cast.advisor.refresh_from_db()
    assert not cast.advisor.is_superuser
    assert client.get(f"/admin/accounts/user/{cast.outsider.pk}/change/").status_code in (302, 404)


def test_other_roles_have_no_admin(estate, cast):
    response = client_for(cast.manager_b).get("/admin/estate/residence/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_token_key_is_shown_once_on_the_page_and_never_in_a_cookie(estate, cast):
    client = client_for(cast.admin)
    response = client.post(
        "/admin/accounts/apitoken/add/", {"user": cast.advisor.pk, "name": "ERP"}
    )
    assert response.status_code == 200
    key = re.search(r'value="(ronde_[^"]+)"', response.content.decode()).group(1)
    assert "no-store" in response["Cache-Control"]
    assert all("ronde_" not in morsel.value for morsel in response.cookies.values())
    token = ApiToken.objects.get(name="ERP")
    assert token.user == cast.advisor and token.key_hash == ApiToken.hash_key(key)
    assert key not in client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_tokens_cannot_be_issued_for_superusers_or_other_organisations(estate, cast):
    root = User.objects.create_superuser("root", password="x" * 20)
    client = client_for(cast.admin)
    for target in (root, cast.outsider):
        response = client.post("/admin/accounts/apitoken/add/", {"user": target.pk, "name": "X"})
        assert response.status_code == 200 and b"ronde_" not in response.content
    assert not ApiToken.objects.exists()


def test_an_organisation_admin_revokes_a_lost_phone_of_its_own_only(estate, cast):
    import uuid

    from backend.sync.models import Device

    ours = Device.objects.create(id=uuid.uuid4(), user=cast.agent_a, label="Téléphone perdu")
    theirs = Device.objects.create(id=uuid.uuid4(), user=cast.outsider, label="Ailleurs")
    client = client_for(cast.admin)
    listing = client.get("/admin/sync/device/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Téléphone perdu" in html and "Ailleurs" not in html
    response = client.post(
        "/admin/sync/device/",
        {"action": "revoke", "_selected_action": [str(ours.pk), str(theirs.pk)]},
    )
    assert response.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.revoked_at is not None and theirs.revoked_at is None
