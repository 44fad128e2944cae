"""Presence tiers (session, SIP contact, endpoint) with the grace period; softphone sessions and their expiry."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from django.utils import timezone

from agents import services
from agents.models import Agent, ClientSession
from agents.selectors import presence_of, status_documents
from telephony import services as telephony_services
from telephony.pbx import events as ev
from telephony.pbx.base import contact_address
from tests.factories import agent_on

NOW = timezone.now()
GRACE = timedelta(seconds=20)


@pytest.fixture(autouse=True)
def _grace(settings):
    settings.MAYDAY_PRESENCE_GRACE_SECONDS = 20
    settings.MAYDAY_SESSION_TTL_SECONDS = 90


def session(**fields) -> ClientSession:
    values = {"client_type": "webrtc", "ip": "10.1.2.3", "last_heartbeat_at": NOW, "expires_at": NOW + GRACE}
    return ClientSession(**{**values, **fields})


def agent(**fields) -> Agent:
    return Agent(extension="1005", **fields)


REACHABLE = {"sip_status": "Reachable", "sip_uri": "sip:1005@192.0.2.7:5062;transport=tcp", "sip_rtt_usec": 1500}


@pytest.mark.parametrize(
    ("fields", "sessions", "expected"),
    [
        ({}, [], ("offline", False, "", "")),
        ({"sip_endpoint": True}, [], ("registered", False, "", "")),
        ({"sip_endpoint": True, **REACHABLE}, [], ("online", False, "", "192.0.2.7")),
        ({"sip_endpoint": True, **REACHABLE}, [session()], ("online", True, "webrtc", "10.1.2.3")),
        ({}, [session()], ("online", True, "webrtc", "10.1.2.3")),
        # a session closed (a page refresh) or expired within the grace period still counts ...
        ({}, [session(closed_at=NOW - GRACE / 2)], ("online", False, "webrtc", "10.1.2.3")),
        ({}, [session(expires_at=NOW - GRACE / 2)], ("online", False, "webrtc", "10.1.2.3")),
        # ... and no longer after it
        ({}, [session(closed_at=NOW - GRACE * 2)], ("offline", False, "", "")),
        ({"sip_endpoint": True}, [session(expires_at=NOW - GRACE * 2)], ("registered", False, "", "")),
        # a contact that just became unreachable: online for the grace period, then registered
        (
            {"sip_endpoint": True, "sip_status": "Unreachable", "sip_seen_at": NOW - GRACE / 2},
            [],
            ("online", False, "", ""),
        ),
        (
            {"sip_endpoint": True, "sip_status": "Unreachable", "sip_seen_at": NOW - GRACE * 2},
            [],
            ("registered", False, "", ""),
        ),
        ({"sip_endpoint": True, "sip_status": "NonQualified"}, [], ("registered", False, "", "")),
    ],
)
def test_presence_tiers(fields, sessions, expected):
    found = presence_of(agent(**fields), sessions, NOW)
    assert (found["presence"], found["session_active"], found["client_type"], found["ip"]) == expected


def test_a_reachable_contact_gives_address_transport_and_rtt():
    found = presence_of(agent(sip_endpoint=True, **REACHABLE), [], NOW)
    assert (found["port"], found["transport"], found["rtt_ms"]) == (5062, "tcp", 1.5)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sip:1005@127.0.0.1:6005", ("127.0.0.1", 6005, "udp")),
        ("sips:1005@[2001:db8::1]:5061", ("2001:db8::1", 5061, "tls")),
        ("sip:1005@10.0.0.9;transport=WS;ob", ("10.0.0.9", None, "ws")),
        ("", ("", None, "")),
    ],
)
def test_contact_address(uri, expected):
    assert contact_address(uri) == expected


def test_contact_events_and_snapshots_drive_presence(ast_pbx, sim):
    a = agent_on(ast_pbx, extension="1005")
    uri = "sip:1005@127.0.0.1:6005"
    telephony_services.pbx_apply_events(pbx_id=ast_pbx.pk, events=[ev.ContactStatus("1005", uri, "Reachable", 900)])
    doc = status_documents(agents=Agent.objects.filter(pk=a.pk))[0]
    assert (doc["presence"], doc["ip"], doc["port"], doc["rtt_ms"]) == ("online", "127.0.0.1", 6005, 0.9)
    telephony_services.pbx_apply_events(pbx_id=ast_pbx.pk, events=[ev.ContactStatus("1005", uri, "Unreachable", None)])
    a.refresh_from_db()
    assert a.sip_status == "Unreachable" and a.sip_seen_at is not None  # grace counts from here
    # a snapshot from the PBX (the simulator knows endpoint 1005 but has no contact for it)
    from telephony.pbx.base import backend_for

    with backend_for(ast_pbx) as backend:
        telephony_services.pbx_apply_snapshot(pbx_id=ast_pbx.pk, snapshot=backend.snapshot())
    a.refresh_from_db()
    assert (a.sip_endpoint, a.sip_status, a.sip_uri) == (True, "Removed", "")


def test_freeswitch_agents_known_to_the_pbx_count_as_registered(fs_pbx, sim):
    a = agent_on(fs_pbx, extension="1005")
    ghost = agent_on(fs_pbx, extension="5555")  # not configured in FreeSWITCH
    from telephony.pbx.base import backend_for

    with backend_for(fs_pbx) as backend:
        telephony_services.pbx_apply_snapshot(pbx_id=fs_pbx.pk, snapshot=backend.snapshot())
    docs = {
        d["extension"]: d["presence"] for d in status_documents(agents=Agent.objects.filter(pk__in=[a.pk, ghost.pk]))
    }
    assert docs == {"1005": "registered", "5555": "offline"}


# ---- sessions over the API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "ip"),
    [
        ([], "203.0.113.5", "127.0.0.1"),  # no trusted proxy: the header is anyone's to forge
        (["127.0.0.1"], "203.0.113.5", "203.0.113.5"),
        (["127.0.0.0/8", "10.0.0.0/8"], "198.51.100.1, 203.0.113.5, 10.1.1.1", "203.0.113.5"),
        (["127.0.0.1"], "not-an-address", None),
    ],
)
def test_behind_trusted_proxies_the_session_records_the_client_address(api_as, agent, settings, proxies, forwarded, ip):
    settings.MAYDAY_TRUSTED_PROXIES = [ipaddress.ip_network(p) for p in proxies]
    response = api_as(agent.user).post(
        "/api/sessions/", {"client_type": "webrtc"}, format="json", HTTP_X_FORWARDED_FOR=forwarded
    )
    assert response.status_code == 201 and response.json()["ip"] == ip


def test_a_softphone_opens_a_session_beats_and_closes_it(api_as, agent):
    api = api_as(agent.user)
    response = api.post(
        "/api/sessions/",
        {"client_type": "electron_softphone", "fingerprint": "fp-1"},
        format="json",
        HTTP_USER_AGENT="Phone/2.1",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    token = body["token"]
    assert len(token) >= 40 and body["heartbeat_seconds"] == 30 and body["ip"] == "127.0.0.1"
    row = ClientSession.objects.get(token=token)
    assert (row.user_agent, row.fingerprint) == ("Phone/2.1", "fp-1")
    doc = api.get("/api/agents/1005/status/").json()
    assert (doc["presence"], doc["session_active"], doc["client_type"]) == ("online", True, "electron_softphone")

    beat = api.post(f"/api/sessions/{token}/heartbeat/")
    assert beat.status_code == 200 and beat.json()["expires_at"] >= body["expires_at"]
    assert [s["token"] for s in api.get("/api/sessions/").json()] == [token]
    assert api.delete(f"/api/sessions/{token}/").status_code == 204
    assert api.get("/api/sessions/").json() == []
    assert api.post(f"/api/sessions/{token}/heartbeat/").status_code == 410


def test_session_bad_input_and_permissions(api_as, agent, supervisor, outsider):
    assert api_as(agent.user).post("/api/sessions/", {"client_type": "fax"}, format="json").status_code == 400
    assert api_as(outsider).post("/api/sessions/", {"client_type": "webrtc"}, format="json").status_code == 403
    assert api_as(None).post("/api/sessions/", {"client_type": "webrtc"}, format="json").status_code == 401
    token = api_as(agent.user).post("/api/sessions/", {"client_type": "webrtc"}, format="json").json()["token"]
    assert api_as(outsider).post(f"/api/sessions/{token}/heartbeat/").status_code == 404
    assert api_as(supervisor).post(f"/api/sessions/{token}/heartbeat/").status_code == 403
    assert [s["extension"] for s in api_as(supervisor).get("/api/sessions/").json()] == ["1005"]
    assert api_as(supervisor).delete(f"/api/sessions/{token}/").status_code == 204  # a supervisor may end it


def test_a_session_without_heartbeats_expires_and_the_sweep_closes_it(api_as, agent, settings):
    token = api_as(agent.user).post("/api/sessions/", {"client_type": "webrtc"}, format="json").json()["token"]
    later = timezone.now() + timedelta(seconds=settings.MAYDAY_SESSION_TTL_SECONDS + 1)
    ClientSession.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_as(agent.user).get("/api/sessions/").json() == []  # ignored on read before the sweep
    assert api_as(agent.user).post(f"/api/sessions/{token}/heartbeat/").status_code == 410
    assert services.presence_sweep(now=later) == {agent.pk}
    row = ClientSession.objects.get(token=token)
    assert row.closed_at == row.expires_at


def test_the_sweep_announces_agents_whose_grace_just_ran_out(agent, settings):
    now = timezone.now()
    grace = timedelta(seconds=settings.MAYDAY_PRESENCE_GRACE_SECONDS)
    ClientSession.objects.create(
        agent=agent, token="t1", client_type="webrtc", expires_at=now, closed_at=now - grace - timedelta(seconds=1)
    )
    other = agent_on(agent.pbx, extension="1006")
    Agent.objects.filter(pk=other.pk).update(sip_status="Unreachable", sip_seen_at=now - grace - timedelta(seconds=2))
    long_gone = agent_on(agent.pbx, extension="1007")
    Agent.objects.filter(pk=long_gone.pk).update(sip_status="Unreachable", sip_seen_at=now - timedelta(hours=1))
    assert services.presence_sweep(now=now) == {agent.pk, other.pk}


def test_admin_shows_an_agents_active_sessions(client, admin_user, agent):
    services.session_open(agent=agent, client_type="chrome_softphone", ip="198.51.100.4")
    ClientSession.objects.create(
        agent=agent,
        token="old",
        client_type="webrtc",
        ip="198.51.100.99",
        expires_at=timezone.now(),
        closed_at=timezone.now(),
    )
    client.force_login(admin_user)
    page = client.get(f"/admin/agents/agent/{agent.pk}/change/").content.decode()
    assert "198.51.100.4" in page and "198.51.100.99" not in page
    listing = client.get("/admin/agents/agent/").content.decode()
    assert "Online (chrome_softphone)" in listing
