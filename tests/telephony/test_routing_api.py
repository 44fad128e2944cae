"""Trunks, routes and DIDs over the API: supervisors configure, agents read what they may present, bad input is
refused with the field and the rule, and nothing reaches a PBX."""

from __future__ import annotations

import pytest

from telephony.models import Did, OutboundRoute, PrefixRoute, Trunk
from tests.factories import DidFactory, PbxServerFactory


@pytest.fixture
def routing(ast_pbx):
    trunk = Trunk.objects.create(pbx=ast_pbx, name="Hugamara_Trunk")
    DidFactory(number="0323300245", label="LaCueva")
    DidFactory(number="0323300246", label="Mama Oliech", allow_outbound=False)
    return trunk


def test_supervisors_build_routing_through_the_api(
    sim, routing, supervisor, api_as, django_capture_on_commit_callbacks
):
    client = api_as(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            client.post("/api/routes/prefixes/", {"pbx": "ast", "prefix": "45", "did": "0323300245"}).status_code == 201
        )
        route = {"pbx": "ast", "name": "Uganda", "match": "07", "min_length": 10, "max_length": 10, "strip": 1}
        response = client.post("/api/routes/outbound/", {**route, "prepend": "256", "trunk": routing.pk}, format="json")
        assert response.status_code == 201, response.content
        response = client.post(
            "/api/dids/", {"did": "+256323300247", "outlet": "Java Junction", "allow_inbound": True}, format="json"
        )
        assert response.status_code == 201 and response.json()["did"] == "0323300247"
    assert sim.sim.ami.astdb["/mayday/prefix/45"] == "0323300245"
    assert sim.sim.ami.astdb["/mayday/route/07"] == "Hugamara_Trunk|1|256||10|10"
    assert client.get("/api/routes/outbound/").json()["results"][0]["match"] == "07"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/routes/outbound/{response.json().get('id', OutboundRoute.objects.get().pk)}/")
    assert "/mayday/route/07" not in sim.sim.ami.astdb


@pytest.mark.parametrize(
    "url, body, field, words",
    [
        ("/api/routes/prefixes/", {"prefix": "4"}, "prefix", "overlaps prefix 45"),
        ("/api/routes/prefixes/", {"prefix": "4 6"}, "prefix", "1-4 digits"),
        ("/api/routes/prefixes/", {"prefix": "46\r\n"}, "prefix", "1-4 digits"),
        ("/api/routes/prefixes/", {"prefix": "46", "did": "0323300246"}, "did", "does not allow outbound"),
        ("/api/routes/outbound/", {"match": "0 7"}, "match", "digits"),
        ("/api/routes/outbound/", {"match": "07", "did": "0323300246"}, "did", "does not allow outbound"),
        ("/api/routes/outbound/", {"match": "07", "trunk": "other"}, "trunk", "another PBX"),
        ("/api/routes/outbound/", {"match": "07", "min_length": 12, "max_length": 10}, "min_length", "longer"),
        ("/api/trunks/", {"name": "Bad Trunk"}, "name", "no spaces"),
        ("/api/trunks/", {"name": "Bad\nTrunk"}, "name", "no spaces"),
        ("/api/dids/", {"did": "0323 300247", "outlet": "x"}, "did", "no spaces"),
        ("/api/dids/", {"did": "+256323300245", "outlet": "twin"}, "did", "already exists"),
    ],
)
def test_bad_input_is_refused_and_nothing_reaches_the_pbx(
    sim, ast_pbx, routing, supervisor, api_as, url, body, field, words, django_capture_on_commit_callbacks
):
    PrefixRoute.objects.create(pbx=ast_pbx, prefix="45", did=Did.objects.get(number="0323300245"))
    other = Trunk.objects.create(pbx=PbxServerFactory(name="elsewhere"), name="Other")
    defaults = {
        "/api/routes/prefixes/": {"pbx": "ast", "did": "0323300245"},
        "/api/routes/outbound/": {"pbx": "ast", "name": "x", "trunk": routing.pk},
        "/api/trunks/": {"pbx": "ast"},
        "/api/dids/": {},
    }[url]
    body = {**defaults, **body}
    if body.get("trunk") == "other":
        body["trunk"] = other.pk
    sim.sim.ami.actions.clear()
    before = (PrefixRoute.objects.count(), OutboundRoute.objects.count(), Trunk.objects.count(), Did.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(supervisor).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert words in str(response.json()[field])
    after = (PrefixRoute.objects.count(), OutboundRoute.objects.count(), Trunk.objects.count(), Did.objects.count())
    assert after == before
    assert not [a for a in sim.sim.ami.actions if a["action"].lower().startswith("db")]


def test_agents_read_the_dids_they_may_present_and_nothing_of_routing(routing, agent, supervisor, api_as):
    client = api_as(agent.user)
    assert client.get("/api/dids/").json() == [
        {
            "did": "0323300245",
            "label": "LaCueva (0323300245)",
            "outlet": "LaCueva",
            "allow_inbound": True,
            "allow_outbound": True,
        }
    ]
    assert client.get("/api/users/inbound_route/dids").json() == client.get("/api/dids/").json()
    for url in ("/api/trunks/", "/api/routes/prefixes/", "/api/routes/outbound/", "/api/routes/inbound/"):
        assert client.get(url).status_code == 403
    assert client.post("/api/dids/", {"did": "0323300249", "outlet": "x"}, format="json").status_code == 403
    old_shape = api_as(supervisor).get("/api/users/inbound_route/dids").json()
    assert [(d["did"], d["label"]) for d in old_shape] == [
        ("0323300245", "LaCueva (0323300245)"),
        ("0323300246", "Mama Oliech (0323300246)"),
    ]


def test_what_is_still_in_use_is_not_deleted(routing, ast_pbx, supervisor, api_as):
    PrefixRoute.objects.create(pbx=ast_pbx, prefix="45", did=Did.objects.get(number="0323300245"))
    OutboundRoute.objects.create(pbx=ast_pbx, name="Uganda", match="0", trunk=routing)
    client = api_as(supervisor)
    response = client.delete("/api/dids/0323300245/")
    assert response.status_code == 409 and "Still in use by 45" in response.json()["detail"]
    response = client.delete(f"/api/trunks/{routing.pk}/")
    assert response.status_code == 409 and "Uganda" in response.json()["detail"]
    assert Did.objects.filter(number="0323300245").exists() and Trunk.objects.filter(pk=routing.pk).exists()
