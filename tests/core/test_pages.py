"""Sign-in lands each role where it works; agents never reach the admin."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_login_page_renders_with_local_assets(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html
    assert "/static/css/mayday.css" in html
    assert "http" not in html.split("<body>")[0].replace('name="viewport"', "")


def test_agent_signs_in_and_lands_on_the_dashboard(client, agent, password):
    response = client.post("/accounts/login/", {"username": "1005", "password": password})
    assert response.status_code == 302 and response.url == "/dashboard/"
    page = client.get("/dashboard/").content.decode()
    assert agent.display_name in page
    assert "1005" in page and agent.pbx.name in page


def test_supervisor_signs_in_and_lands_on_the_team_board(client, supervisor, password):
    response = client.post("/accounts/login/", {"username": "sup", "password": password})
    assert response.status_code == 302 and response.url == "/team/"


def test_wrong_password_shows_an_error_and_signs_nobody_in(client, agent):
    response = client.post("/accounts/login/", {"username": "1005", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert client.get("/dashboard/").status_code == 302


def test_agent_is_sent_from_the_admin_to_the_dashboard(client, agent):
    client.force_login(agent.user)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/"


def test_sign_out_ends_the_session(client, agent):
    client.force_login(agent.user)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/dashboard/").url.startswith("/accounts/login/")


def test_root_redirects_by_role(client, agent, supervisor):
    assert client.get("/").url == "/accounts/login/"
    client.force_login(agent.user)
    assert client.get("/").url == "/dashboard/"
    client.force_login(supervisor)
    assert client.get("/").url == "/team/"


def test_dead_ends_say_what_to_do(client, agent, supervisor):
    client.force_login(agent.user)
    board = client.get("/team/")
    assert board.status_code == 403
    assert "for supervisors" in board.content.decode() and 'href="/dashboard/"' in board.content.decode()
    client.force_login(supervisor)
    page = client.get("/dashboard/")
    assert page.status_code == 403 and 'href="/team/"' in page.content.decode()


def test_signing_out_by_link_asks_first(client, agent):
    client.force_login(agent.user)
    page = client.get("/accounts/logout/")
    assert page.status_code == 200 and "logged out of your queues" in page.content.decode()
    assert client.get("/dashboard/").status_code == 200  # still signed in


def test_supervisors_reach_the_board_from_the_admin(client, supervisor):
    client.force_login(supervisor)
    html = client.get("/admin/").content.decode()
    assert html.count('href="/team/"') >= 2  # the header and the index


def test_every_page_names_the_favicon(client, agent):
    assert "favicon.svg" in client.get("/admin/login/").content.decode()
    client.force_login(agent.user)
    for path in ("/accounts/logout/", "/dashboard/"):
        assert "favicon.svg" in client.get(path).content.decode(), path
    assert client.get("/static/favicon.svg").status_code == 200
