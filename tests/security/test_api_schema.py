"""Schemathesis against the whole API, in-process: every operation in /api/schema/ is fuzzed as a supervisor and as
an agent (about a minute). Any 5xx fails, and so does any answer the schema does not describe (status code, content
type, headers, body) and any schema-valid request refused with 400 (save where noted in CONFIG)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from knox.models import AuthToken

from agents import services
from agents.models import ClientSession
from mayday.signin import SignInRateThrottle, WriteRateThrottle
from telephony.models import Queue
from tests.factories import DidFactory, MembershipFactory, PauseReasonFactory

DID = "0322222222"

ACCEPTED_OR_400 = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240601,
        # DRF refuses NUL in every string (ProhibitNullCharactersValidator), which the schema does not say.
        "generation": {"max-examples": 25, "deterministic": True, "database": "none", "allow-x00": False},
        # DRF reads input leniently (a number where a string is due becomes that string, `?page=` is page 1):
        # no reason to fail. Everything else is checked.
        "checks": {"negative_data_rejection": {"enabled": False}},
        "operations": [
            # Schema-valid, and still refused: wrong credentials; a PBX that does not exist; an unknown pause reason;
            # a report period that ends before it starts, or ids that name no queue or agent; a number no phone can
            # dial, a prefix that overlaps another, a DID closed to outbound use, a trunk on another PBX; a text too
            # long for 10 SMS, provider settings with two ways to sign in.
            {"include-path": path, "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_400}}}
            for path in (
                "/api/auth/token/",
                "/api/queues/",
                "/api/queues/{id}/",
                "/api/agents/{extension}/status/",
                "/api/reports/queues/",
                "/api/reports/agents/",
                "/api/reports/calls/",
                "/api/dids/",
                "/api/dids/{number}/",
                "/api/trunks/",
                "/api/trunks/{id}/",
                "/api/routes/prefixes/",
                "/api/routes/prefixes/{id}/",
                "/api/routes/outbound/",
                "/api/routes/outbound/{id}/",
                "/api/routes/inbound/",
                "/api/routes/inbound/{id}/",
                "/api/calls/",
                "/api/sms/send",
                "/api/sms/config",
                "/api/sms/conversations/{phone}",
            )
        ],
    }
)


# Loaded once, at collection, from the running app (schemathesis's lazy `from_fixture` fails on pytest 9.2).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)


@pytest.fixture(autouse=True)
def _in_process(db, monkeypatch):
    # Requests go through the real WSGI handler inside the test's transaction: like Django's test client, it must
    # not close the connection around each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    # A fast run would hit the write and sign-in limits; they have tests of their own.
    monkeypatch.setattr(WriteRateThrottle, "THROTTLE_RATES", {"write": "100000/min"})
    monkeypatch.setattr(SignInRateThrottle, "THROTTLE_RATES", {"signin": "100000/min"})
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _data(agent):
    """Something to find: the agent in a queue, on a client session, with a token; a DID; a pause reason."""
    MembershipFactory(agent=agent)
    services.session_open(agent=agent, client_type="webrtc")
    AuthToken.objects.create(user=agent.user)
    DidFactory(number=DID)
    PauseReasonFactory(name="Lunch")


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict | None) -> st.SearchStrategy:
    """Half the examples name objects that exist (while they do), so detail routes answer more than 404."""
    if not path_parameters:
        return st.just(path_parameters)
    existing = {
        "extension": "1005",  # the `agent` fixture
        "id": Queue.objects.values_list("pk", flat=True).first(),
        "number": DID,
        "token": ClientSession.objects.filter(closed_at=None).values_list("token", flat=True).first(),
        "token_key": AuthToken.objects.values_list("token_key", flat=True).first(),
    }
    found = {name: value for name, value in existing.items() if name in path_parameters and value is not None}
    return st.sampled_from([path_parameters, {**path_parameters, **found}])


def _routed(url: str) -> bool:
    try:
        resolve(unquote(urlsplit(url).path))
    except Resolver404:
        return False
    return True


def _call(case, user) -> None:
    # A token per example: the run may revoke the one it uses (DELETE /api/auth/tokens/{token_key}/).
    _, key = AuthToken.objects.create(user=user)
    headers = {"Authorization": f"Token {key}"}
    response = case.call(headers=headers)
    if _routed(response.request.url):
        case.validate_response(response, headers=headers, transport_kwargs={"headers": headers})
    else:
        # A path parameter no route accepts (`/api/agents/a%20b/`): Django's own 404 page answers, not the API.
        assert response.status_code == 404


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the fixtures are data every example shares
def test_api_conforms_to_its_schema_for_a_supervisor(case, supervisor):
    _call(case, supervisor)


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the fixtures are data every example shares
def test_api_conforms_to_its_schema_for_an_agent(case, agent):
    _call(case, agent.user)


def test_the_schema_says_blank_names_and_passwords_are_refused():
    # The runs above let these operations answer 400 to schema-valid data (wrong credentials, an unknown PBX), so
    # they cannot tell whether the schema admits blanks the API refuses.
    components = schema.raw_schema["components"]["schemas"]
    for component, fields in {"SignIn": ["username", "password"], "Queue": ["name"], "PatchedQueue": ["name"]}.items():
        for field in fields:
            assert components[component]["properties"][field]["minLength"] == 1, (component, field)
