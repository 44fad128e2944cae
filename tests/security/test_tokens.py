"""API tokens have a lifetime, are listed and revoked by their owner and by supervisors, and end with a
password change or a sign-out."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import PASSWORD


def issue(api_as, username: str) -> dict:
    response = api_as(None).post("/api/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def works(api_as, key: str) -> bool:
    return api_as(None).get("/api/agents/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_a_token_has_a_lifetime_and_dies_with_it(api_as, agent):
    body = issue(api_as, "1005")
    expiry = AuthToken.objects.get(token_key=body["token_key"]).expiry
    lifetime = expiry - timezone.now()
    assert (
        timedelta(hours=settings.MAYDAY_TOKEN_TTL_HOURS - 1)
        < lifetime
        <= timedelta(hours=settings.MAYDAY_TOKEN_TTL_HOURS)
    )
    assert works(api_as, body["token"])
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert not works(api_as, body["token"])


def test_using_a_token_keeps_it_alive_but_never_past_its_maximum(api_as, agent):
    body = issue(api_as, "1005")
    AuthToken.objects.update(expiry=timezone.now() + timedelta(minutes=5))
    assert works(api_as, body["token"])
    assert AuthToken.objects.get().expiry > timezone.now() + timedelta(hours=settings.MAYDAY_TOKEN_TTL_HOURS - 1)
    AuthToken.objects.update(
        created=timezone.now() - timedelta(days=settings.MAYDAY_TOKEN_MAX_DAYS, minutes=-1),
        expiry=timezone.now() + timedelta(minutes=5),
    )
    assert works(api_as, body["token"])
    assert AuthToken.objects.get().expiry < timezone.now() + timedelta(minutes=6)  # not renewed past the maximum


def test_the_whole_token_is_shown_once_and_only_a_digest_is_stored(api_as, agent):
    body = issue(api_as, "1005")
    assert body["token"].startswith(body["token_key"]) and len(body["token"]) > len(body["token_key"])
    stored = AuthToken.objects.get()
    assert body["token"] not in (stored.digest, stored.token_key)
    listed = api_as(agent.user).get("/api/auth/tokens/").json()
    assert body["token"] not in str(listed) and body["token_key"] in str(listed)


def test_owners_list_and_revoke_their_own_tokens_only(api_as, agent, supervisor):
    mine, boss = issue(api_as, "1005"), issue(api_as, "sup")
    api = api_as(None)
    api.credentials(HTTP_AUTHORIZATION=f"Token {mine['token']}")
    assert [t["token_key"] for t in api.get("/api/auth/tokens/").json()] == [mine["token_key"]]
    assert api.delete(f"/api/auth/tokens/{boss['token_key']}/").status_code == 404
    assert works(api_as, boss["token"])
    assert api.delete(f"/api/auth/tokens/{mine['token_key']}/").status_code == 204
    assert not works(api_as, mine["token"])


def test_supervisors_revoke_the_tokens_of_the_users_they_manage_not_of_administrators(
    api_as, agent, supervisor, admin_user
):
    agents_token, admins_token = issue(api_as, "1005"), issue(api_as, "root")
    api = api_as(supervisor)
    keys = {t["token_key"] for t in api.get("/api/auth/tokens/").json()}
    assert agents_token["token_key"] in keys and admins_token["token_key"] not in keys
    assert api.delete(f"/api/auth/tokens/{admins_token['token_key']}/").status_code == 404
    assert api.delete(f"/api/auth/tokens/{agents_token['token_key']}/").status_code == 204
    assert not works(api_as, agents_token["token"]) and works(api_as, admins_token["token"])


def test_supervisors_revoke_tokens_in_the_admin(client, agent, supervisor, api_as):
    body = issue(api_as, "1005")
    client.force_login(supervisor)
    page = client.get("/admin/knox/authtoken/").content.decode()
    assert body["token_key"] in page and AuthToken.objects.get().digest not in page  # the digest is write-only
    url = f"/admin/knox/authtoken/{body['token_key']}/revoke/"
    assert "Revoke the API token" in client.get(url).content.decode() and works(api_as, body["token"])
    assert client.post(url).status_code == 302 and not works(api_as, body["token"])


def test_a_password_change_revokes_every_token(api_as, agent):
    first, second = issue(api_as, "1005"), issue(api_as, "1005")
    agent.user.set_password("an-entirely-new-one-77")
    agent.user.save()
    assert not works(api_as, first["token"]) and not works(api_as, second["token"])


def test_saving_a_user_without_a_new_password_keeps_the_tokens(api_as, agent):
    body = issue(api_as, "1005")
    agent.user.first_name = "Renamed"
    agent.user.save()
    assert works(api_as, body["token"])


def test_signing_out_revokes_the_users_tokens(client, api_as, agent):
    body = issue(api_as, "1005")
    client.post("/accounts/login/", {"username": "1005", "password": PASSWORD})
    client.post("/accounts/logout/")
    assert not works(api_as, body["token"])


def test_supervisors_cannot_revoke_an_administrators_token_in_the_admin(client, supervisor, admin_user, api_as):
    body = issue(api_as, "root")
    client.force_login(supervisor)
    assert body["token_key"] not in client.get("/admin/knox/authtoken/").content.decode()
    assert client.post(f"/admin/knox/authtoken/{body['token_key']}/revoke/").status_code == 403
    assert works(api_as, body["token"])


def test_a_password_hash_upgraded_at_sign_in_is_no_password_change(api_as, agent, settings):
    body = issue(api_as, "1005")
    settings.PASSWORD_HASHERS = [  # a stronger hasher first: the next sign-in re-hashes the stored password
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = type(agent.user).objects.get(pk=agent.user_id).password
    issue(api_as, "1005")
    assert type(agent.user).objects.get(pk=agent.user_id).password != before  # upgraded
    assert works(api_as, body["token"])
