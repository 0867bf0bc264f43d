"""The French admin: browsing the estate, issuing and revoking API tokens."""

from django.contrib.messages import get_messages

from backend.accounts.models import ApiToken, User
from tests.conftest import client_for


def superuser(cast):
    User.objects.filter(pk=cast.admin.pk).update(is_staff=True, is_superuser=True)
    cast.admin.refresh_from_db()
    return client_for(cast.admin)


def test_the_admin_lists_the_estate_in_french(estate, cast):
    client = superuser(cast)
    html = client.get("/admin/estate/residence/").content.decode()
    assert "Les Tilleuls" in html and "Sélectionnez" in html
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


def test_an_admin_issues_a_token_whose_key_is_shown_once(estate, cast):
    client = superuser(cast)
    response = client.post(
        "/admin/accounts/apitoken/add/", {"user": cast.advisor.pk, "name": "ERP"}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    key = next(m.split(": ")[-1].split("\u00a0: ")[-1].strip() for m in shown if "ronde_" in m)
    key = key[key.index("ronde_") :]
    token = ApiToken.objects.get(name="ERP")
    assert token.user == cast.advisor and token.key_hash == ApiToken.hash_key(key)
    detail = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert key not in detail
    client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
