"""The whole URL map, walked as every role: a new page or API route is checked as soon as it is routed.

The routes are read from the resolver when this module is imported (a ModelAdmin's pages are tied to it through
`admin.site._registry`; DRF router routes, format suffixes included, are there too) and their parameters are
filled with real rows made once by the `world` fixture. Roles: anonymous, an outsider (signed in, no role),
agent 1005, a supervisor and a superuser. Each case (route, method, body, role) is sent once, and this module
guarantees:

a. no admin changelist answers a lookup on a write-only field (`mayday.admin.WRITE_ONLY_FIELDS`), directly or
   across relations: staff get 400 (403 where they may not see the list at all), everyone else a redirect;
b. no route answers 5xx, whatever method it allows (pages: GET and POST; API: what the view routes), with an
   empty body and with a plausible one; and no answer shows a write-only value (a PBX secret, a password hash,
   an API token digest) that the request did not carry. Every request any test here sends is held to this;
c. anonymous callers get 401 from the API and a redirect to a sign-in page elsewhere, except the PUBLIC routes;
d. agents and outsiders never get a 2xx from an admin page;
e. an agent never sees another agent's data (nor an outsider anyone's): those rows are 404 through the API,
   and lists and pages hold only the agent's own;
f. a write by a role without the permission for it is refused (401, 403, or 404 where the row is scoped away;
   the admin sends non-staff to sign in) and changes no row in the database.

A route whose parameter, plausible body or write rule this module does not know fails with a message saying
what to add, so nothing new goes unchecked quietly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, RequestFactory, override_settings
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django.utils.regex_helper import normalize
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.views import APIView

from agents import services
from agents.models import Agent, AgentStatusEvent, PauseReason, StatusSource
from mayday.admin import WRITE_ONLY_FIELDS
from reporting.models import CallAttempt, Cdr, Outcome, QueueCall
from sms.models import DeliveryReport, ProviderSettings
from sms.models import Message as SmsMessage
from telephony.models import CallRequest, InboundRoute, OutboundRoute, PbxServer, PrefixRoute, Queue, Trunk
from tests.factories import (
    PASSWORD,
    AgentFactory,
    DidFactory,
    MembershipFactory,
    PbxServerFactory,
    QueueFactory,
    UserFactory,
)

ROLES = ("anonymous", "outsider", "agent", "supervisor", "superuser")
NEW_PASSWORD = "Sturdy-new-pass-4711"

# Answered to anyone: the health check, the sign-in pages, signing out (its GET asks to confirm), the token
# sign-in, and the API description (drf-spectacular serves the schema and its viewers with AllowAny unless
# SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] says otherwise).
SIGN_IN_PAGES = {"/accounts/login/", "/admin/login/"}
PUBLIC = {
    "/healthz",
    *SIGN_IN_PAGES,
    "/accounts/logout/",
    "/api/auth/token/",
    "/api/schema/",
    "/api/docs/",
    "/api/redoc/",
    "/api/sms/dlr",  # the SMS provider's posts: a token of ours in the URL, no sign-in
    "/api/sms/inbound",
}

# A ModelAdmin's pages answer GET and POST (all a browser sends), but these only GET.
ADMIN_GET_ONLY = {"history", "redirect"}
# Path parameters naming something an agent owns: such API routes are walked with agent 1005's row ("own") and
# with agent 1006's ("other").
OWNED_PARAMS = {"extension", "token", "token_key", "pk"}
# `pk` names a row an agent owns only for these (their queue, a call from their extension); elsewhere it names
# configuration that is nobody's (a trunk, a route).
PK_OWNED = (Queue, CallRequest)


# ---- the route map --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    template: str  # "api/agents/%(extension)s/", as django.utils.regex_helper.normalize spells the pattern
    params: tuple[str, ...]
    name: str  # "admin:agents_agent_change", "agent-detail"; "" when unnamed
    kind: str  # "api" (a DRF view), "admin" or "page"
    methods: tuple[str, ...]
    view: type | None = None  # the DRF view class
    model_admin: admin.ModelAdmin | None = None
    page: str = ""  # a ModelAdmin's: changelist, add, change, delete, history, password_change or redirect
    fixed: tuple[tuple[str, str], ...] = ()  # parameters filled without the database: app_label, format, url

    @property
    def targeted(self) -> bool:
        """Walked with the agent's own rows and with another agent's."""
        owned = OWNED_PARAMS if self.model in PK_OWNED else OWNED_PARAMS - {"pk"}
        return self.kind == "api" and bool(owned & set(self.params) or self.name in BODY_TARGETED)

    @property
    def model(self):
        return getattr(getattr(getattr(self.view, "serializer_class", None), "Meta", None), "model", None)

    def shown(self, variant: str) -> str:
        values = {p: f"<{variant} {p}>" if p in OWNED_PARAMS else f"<{p}>" for p in self.params}
        return "/" + self.template % (values | dict(self.fixed))


def _drf_methods(callback) -> tuple[str, ...]:
    view = callback.cls
    actions = getattr(callback, "actions", None)  # a viewset's routed methods; an APIView's are its handlers
    handlers = set(actions) if actions is not None else set(dir(view))
    verbs = ("get", "post", "put", "patch", "delete")
    return tuple(m.upper() for m in verbs if m in handlers and m in view.http_method_names)


def _page_methods(callback) -> tuple[str, ...]:
    """GET and POST (all a browser sends), less what a class-based view refuses; function views get both."""
    view = getattr(callback, "view_class", None)
    if view is None:
        return ("GET", "POST")
    return tuple(m.upper() for m in ("get", "post") if hasattr(view, m) and m in view.http_method_names)


def _admin_page(name: str, callback) -> tuple[admin.ModelAdmin | None, str]:
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix):
            return model_admin, name.removeprefix(prefix)
    model_admin = getattr(callback, "model_admin", None)  # `<object_id>/`, which redirects to the change page
    return model_admin, "redirect" if model_admin else ""


def _fixed(params: list[str], template: str) -> list[dict[str, str]]:
    """Parameters filled without the database; `app_label` gives one route per admin app."""
    fixed = {}
    if "format" in params:
        fixed["format"] = "json" if ".%(format)s" in template else ".json"  # DRF's suffix holds its dot, or not
    if "url" in params:
        fixed["url"] = "no-such-page/"
    if "app_label" in params:
        labels = sorted({model._meta.app_label for model in admin.site._registry})
        return [fixed | {"app_label": label} for label in labels]
    return [fixed]


def _walk(patterns, prefix: str = "", namespaces: tuple[str, ...] = ()):
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, regex, (*namespaces, *filter(None, [pattern.namespace])))
            continue
        (template, params), *_ = normalize(regex)
        callback = pattern.callback
        name = ":".join((*namespaces, pattern.name)) if pattern.name else ""
        if isinstance(getattr(callback, "cls", None), type) and issubclass(callback.cls, APIView):
            kind, methods, extra = "api", _drf_methods(callback), {"view": callback.cls}
        elif namespaces[:1] == ("admin",):
            model_admin, page = _admin_page(name, callback)
            methods = ("GET",) if page in ADMIN_GET_ONLY else ("GET", "POST")
            kind, extra = "admin", {"model_admin": model_admin, "page": page}
        else:
            kind, methods, extra = "page", _page_methods(callback), {}
        for fixed in _fixed(params, template):
            yield Route(template, tuple(params), name, kind, methods, fixed=tuple(fixed.items()), **extra)


ROUTES = list(_walk(get_resolver().url_patterns))


def _write_only_lookups(model, depth: int = 3, seen: frozenset = frozenset()):
    """Every lookup path from this model to a write-only field, across up to `depth` relations (no model twice)."""
    yield from sorted(WRITE_ONLY_FIELDS.get(model._meta.label_lower, ()))
    if depth:
        for relation in model._meta.get_fields():
            target = relation.related_model if relation.is_relation else None
            if target is not None and target is not model and target not in seen:
                for rest in _write_only_lookups(target, depth - 1, seen | {model}):
                    yield f"{relation.name}__{rest}"


# ---- what this module knows about the application ------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """Who may write through an API route: holders of `permission`, on anyone's rows (None: nobody else), and
    agent 1005 on their own rows when `owner_may`. `body(world, target)` is a plausible request body, when the
    route reads one."""

    permission: str | None
    owner_may: bool
    body: Callable[[SimpleNamespace, SimpleNamespace], dict] | None = None


def _queue_body(world, target) -> dict:
    return {"name": "url-map", "pbx": world.pbx.name, "strategy": "rrmemory", "service_level_seconds": 45}


API_WRITES = {
    "api-token": None,  # the token sign-in: public
    "agent-status": Write("agents.change_agent", True, lambda w, t: {"status": "on_break", "reason": "Lunch"}),
    "legacy-set-agent-status": Write(
        "agents.change_agent",
        True,
        lambda w, t: {"extension": t.agent.extension, "hostname": w.pbx.host, "status": "On Break"},
    ),
    "session-list": Write(None, True, lambda w, t: {"client_type": "webrtc", "fingerprint": "url-map"}),
    "session-detail": Write("agents.change_agent", True),
    "session-heartbeat": Write(None, True),
    "queue-list": Write("telephony.add_queue", False, _queue_body),
    "queue-detail": Write("telephony.change_queue", False, _queue_body),
    "token-detail": Write("agents.change_agent", True),
    "did-list": Write("telephony.add_did", False, lambda w, t: {"did": "0323999998", "outlet": "Url map"}),
    "did-detail": Write("telephony.change_did", False, lambda w, t: {"outlet": "Url map"}),
    "trunk-list": Write("telephony.add_trunk", False, lambda w, t: {"name": "UrlMap", "pbx": w.pbx.name}),
    "trunk-detail": Write("telephony.change_trunk", False, lambda w, t: {"enabled": False}),
    "prefix-route-list": Write(
        "telephony.add_prefixroute", False, lambda w, t: {"pbx": w.pbx.name, "prefix": "48", "did": w.did.number}
    ),
    "prefix-route-detail": Write("telephony.change_prefixroute", False, lambda w, t: {"prefix": "47"}),
    "outbound-route-list": Write(
        "telephony.add_outboundroute",
        False,
        lambda w, t: {"pbx": w.pbx.name, "name": "Url map", "match": "09", "trunk": w.objects["telephony.trunk"].pk},
    ),
    "outbound-route-detail": Write("telephony.change_outboundroute", False, lambda w, t: {"strip": 0}),
    "inbound-route-list": Write(
        "telephony.add_inboundroute",
        False,
        lambda w, t: {"did": w.did.number, "pbx": w.pbx.name, "target": "extension", "extension": "700"},
    ),
    "inbound-route-detail": Write("telephony.change_inboundroute", False, lambda w, t: {"extension": "701"}),
    "sms-send": Write("sms.add_message", True, lambda w, t: {"to": "0700771301", "content": "Url map"}),
    "sms-config": Write(
        "sms.change_providersettings",
        False,
        lambda w, t: {"base_url": "http://127.0.0.1:9/secure", "username": "url", "password": "map"},
    ),
    # No Idempotency-Key: a permitted caller gets 400, and nothing is placed.
    "call-list": Write(
        "telephony.add_callrequest", True, lambda w, t: {"extension": t.agent.extension, "number": "0700771301"}
    ),
}
BODY_TARGETED = {"legacy-set-agent-status"}  # the agent written to is named in the body, not the path

# Plausible queries of API reads, by URL name; such routes are read with and without theirs. The reports are asked
# about agent 1006 and their queue: supervisors get them, agent 1005 and outsiders are refused.
API_QUERIES = {
    "report-queues": lambda w, t: {"period": "today", "queue": [w.own.queue.pk, w.other.queue.pk]},
    "report-agents": lambda w, t: {"agent": w.other.agent.pk},
    "report-calls": lambda w, t: {"agent": w.other.agent.pk, "queue": w.other.queue.pk, "format": "csv"},
}

# Plausible POST bodies and GET queries of pages, by URL name; a ModelAdmin's pages get theirs from `_admin_body`.
PAGE_QUERIES = {
    "admin:autocomplete": lambda w, t: {
        "app_label": "telephony",
        "model_name": "queuemembership",
        "field_name": "agent",
        "term": "100",
    },
}
PAGE_BODIES = {
    "login": lambda w, t: {"username": w.own.agent.user.username, "password": PASSWORD},
    "admin:login": lambda w, t: {"username": w.users["supervisor"].username, "password": PASSWORD},
    "admin:password_change": lambda w, t: {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    },
    "dashboard-status": lambda w, t: {"status": "on_break", "reason": "Lunch"},
}


# What a new row needs in its admin form (the rest is the empty form as the superuser sees it), by model.
ADMIN_ADD_VALUES = {
    "auth.group": lambda w: {"name": "url-map"},
    "auth.user": lambda w: {"username": "url-map", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    "agents.agent": lambda w: {
        "username": "3001",
        "password": NEW_PASSWORD,
        "extension": "3001",
        "display_name": "New Agent",
        "pbx": w.pbx.pk,
    },
    "agents.pausereason": lambda w: {"name": "Url map"},
    "telephony.pbxserver": lambda w: {"name": "url-map", "kind": "asterisk", "host": "127.0.0.1", "username": "u"},
    "telephony.queue": lambda w: {"name": "url-map", "pbx": w.pbx.pk, "strategy": "ringall"},
    "telephony.queuemembership": lambda w: {"agent": w.own.agent.pk, "queue": w.other.queue.pk},
    "telephony.did": lambda w: {"number": "0323999999", "label": "Url map"},
    "telephony.trunk": lambda w: {"name": "UrlMap", "pbx": w.pbx.pk},
    "telephony.prefixroute": lambda w: {"pbx": w.pbx.pk, "prefix": "48", "did": w.did.pk},
    "telephony.outboundroute": lambda w: {
        "pbx": w.pbx.pk,
        "name": "Url map",
        "match": "09",
        "min_length": 3,
        "max_length": 20,
        "strip": 0,
        "trunk": w.objects["telephony.trunk"].pk,
    },
}


# ---- the cases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    route: Route
    method: str
    body: str  # "-" (a GET without query), "query", "empty" or "plausible"
    variant: str  # "own" (agent 1005's rows) or "other" (agent 1006's)
    role: str

    def __str__(self) -> str:
        body = "" if self.body == "-" else f" {self.body}"
        whose = f" for the {self.variant} agent" if self.route.name in BODY_TARGETED else ""
        return f"{self.method} {self.route.shown(self.variant)}{body}{whose} as {self.role}"

    @property
    def writes(self) -> bool:
        """A request that could change rows: an API write, or a plausible POST to a ModelAdmin's page."""
        if self.method == "GET":
            return False
        if self.route.kind == "api":
            return API_WRITES.get(self.route.name, "unknown") is not None
        return self.route.model_admin is not None and self.body == "plausible"


def _has_plausible(route: Route, method: str) -> bool:
    if route.kind == "api" and method == "GET":
        return route.name in API_QUERIES
    if route.kind == "api":
        return getattr(API_WRITES.get(route.name), "body", None) is not None
    if route.page in ("changelist", "add", "change", "delete", "password_change"):
        return method == "POST"
    return route.name in (PAGE_QUERIES if method == "GET" else PAGE_BODIES)


def _all_cases() -> list[Case]:
    cases = []
    for route in ROUTES:
        for method in route.methods:
            if method == "GET":
                bodies = ["query" if _has_plausible(route, method) else "-"]
                bodies = ["-", *bodies] if route.name in API_QUERIES else bodies
            else:
                bodies = ["empty", "plausible"] if _has_plausible(route, method) else ["empty"]
            for body in bodies:
                for variant in ("own", "other") if route.targeted else ("own",):
                    cases.extend(Case(route, method, body, variant, role) for role in ROLES)
    return cases


ALL_CASES = _all_cases()
ANONYMOUS_CASES = [
    c for c in ALL_CASES if c.role == "anonymous" and c.body != "plausible" and c.route.shown("own") not in PUBLIC
]
ADMIN_CASES = [c for c in ALL_CASES if c.role in ("agent", "outsider") and c.route.kind == "admin" and not c.writes]
OWN_DATA_CASES = [
    c for c in ALL_CASES if c.role in ("agent", "outsider") and c.method == "GET" and c.route.kind != "admin"
]
WRITE_CASES = [c for c in ALL_CASES if c.writes]
_RULED = {*ANONYMOUS_CASES, *ADMIN_CASES, *OWN_DATA_CASES, *WRITE_CASES}
OTHER_CASES = [c for c in ALL_CASES if c not in _RULED]

LOOKUP_CASES = [
    pytest.param(model_admin, lookup, role, id=f"{model._meta.label_lower}?{lookup}__startswith as {role}")
    for model, model_admin in admin.site._registry.items()
    for lookup in _write_only_lookups(model)
    for role in ROLES
]


def _cases(cases: list[Case]):
    return pytest.mark.parametrize("case", cases, ids=str)


# ---- the world ------------------------------------------------------------------------------------------------


def _build_world(gateway) -> SimpleNamespace:
    """The roles of tests/conftest.py (agent 1005, `sup`, `root`, `nobody`) and agent 1006 on the same PBX; each
    agent with a queue, a membership, a client session, an API token, a text message and a click-to-call; DIDs,
    routes, a status change, sign-in records, SMS provider settings (`gateway`, the fake provider): a row for every
    model the admin registers."""
    pbx = PbxServerFactory()
    users = {
        "anonymous": None,
        "outsider": UserFactory(username="nobody"),
        "agent": AgentFactory(extension="1005", pbx=pbx).user,
        "supervisor": UserFactory(username="sup", is_staff=True, groups=["Supervisors"]),
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    other = AgentFactory(extension="1006", pbx=pbx, display_name="Zora Elsewhere", user__username="zora-elsewhere")
    sides = {}
    for side, agent in (("own", users["agent"].agent), ("other", other)):
        queue = QueueFactory(name=f"{agent.extension}-queue", pbx=pbx)
        sides[side] = SimpleNamespace(
            agent=agent,
            queue=queue,
            membership=MembershipFactory(agent=agent, queue=queue),
            session=services.session_open(agent=agent, client_type="webrtc", ip="192.0.2.7"),
            api_token=AuthToken.objects.create(user=agent.user)[0],
            sms=SmsMessage.objects.create(
                direction="outbound",
                customer=f"+25670077{agent.extension}",
                content=f"Texted by {agent.display_name}",
                status="sent",
                agent=agent,
            ),
            call=CallRequest.objects.create(
                pbx=pbx,
                agent=agent,
                extension=agent.extension,
                number="0700771301",
                idempotency_key=f"url-map-{agent.extension}",
                requested_by=agent.user,
            ),
        )
    for side in sides.values():  # a call each agent answered today, in their queue: something to report
        call = QueueCall.objects.create(
            pbx=pbx,
            queue=side.queue,
            queue_name=side.queue.name,
            call_id=f"url-map-{side.agent.extension}",
            entered_at=timezone.now(),
            outcome=Outcome.ANSWERED,
            wait_seconds=4,
            agent=side.agent,
            agent_extension=side.agent.extension,
            talk_seconds=30,
        )
        CallAttempt.objects.create(
            call=call, agent=side.agent, agent_extension=side.agent.extension, offered_at=call.entered_at
        )
    access = {"user_agent": "url-map", "ip_address": "192.0.2.7", "username": "zora-elsewhere", "http_accept": "*/*"}
    objects = {
        "auth.user": other.user,
        "auth.group": Group.objects.get(name="Agents"),
        "agents.agent": other,
        "agents.pausereason": PauseReason.objects.get(name="Lunch"),
        "agents.clientsession": sides["other"].session,
        "agents.agentstatusevent": AgentStatusEvent.objects.create(
            agent=other, from_availability="logged_out", to_availability="available", source=StatusSource.SUPERVISOR
        ),
        "knox.authtoken": sides["other"].api_token,
        "telephony.pbxserver": pbx,
        "telephony.queue": sides["other"].queue,
        "telephony.queuemembership": sides["other"].membership,
        "telephony.did": (did := DidFactory()),
        "telephony.trunk": (trunk := Trunk.objects.create(pbx=pbx, name="UrlMapTrunk")),
        "telephony.prefixroute": PrefixRoute.objects.create(pbx=pbx, prefix="45", did=did),
        "telephony.outboundroute": OutboundRoute.objects.create(pbx=pbx, name="Url map", match="0", trunk=trunk),
        "telephony.inboundroute": InboundRoute.objects.create(
            did=DidFactory(), pbx=pbx, target="queue", queue=sides["other"].queue
        ),
        "telephony.callrequest": sides["other"].call,
        "sms.message": sides["other"].sms,
        "sms.deliveryreport": DeliveryReport.objects.create(
            provider_id="url-map", level=2, message_status="DELIVRD", fields={}, message=sides["other"].sms
        ),
        "sms.providersettings": ProviderSettings.objects.create(  # the fake gateway: balance checks answer
            base_url=gateway.config().base_url, username=gateway.username, password=gateway.password
        ),
        "reporting.queuecall": QueueCall.objects.get(call_id="url-map-1006"),
        "reporting.cdr": Cdr.objects.create(
            pbx=pbx, call_id="url-map-1006", start=timezone.now(), disposition="ANSWERED", source="0700000001"
        ),
        "axes.accessattempt": AccessAttempt.objects.create(
            **access, path_info="/accounts/login/", get_data="", post_data="", failures_since_start=1
        ),
        "axes.accesslog": AccessLog.objects.create(**access, path_info="/accounts/login/"),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**access, path_info="/accounts/login/"),
    }
    # Loading the middleware takes WhiteNoise a walk through every static file (tens of ms): the test clients
    # share one loaded handler of each kind (`_client`).
    handlers = {}
    for kind in (Client, APIClient):
        handler = kind().handler
        handler.load_middleware()
        handlers[type(handler)] = handler
    sessions = {}  # each role signs in once (force_login); every test's client gets that session's cookie
    for role, user in users.items():
        if user is not None:
            browser = Client()
            browser.force_login(user)
            sessions[role] = browser.cookies[settings.SESSION_COOKIE_NAME].value
    return SimpleNamespace(
        users=users,
        handlers=handlers,
        sessions=sessions,
        own=sides["own"],
        other=sides["other"],
        pbx=pbx,
        did=objects["telephony.did"],
        objects=objects,
        forms={},  # admin forms as the superuser sees them, by URL (`_admin_body`)
    )


@pytest.fixture(scope="module")
def _world(django_db_setup, django_db_blocker, _jasmin_server):
    """Built once, in a transaction each test's own nests in and rolls back to; undone after the last test.
    Five users and many sign-ins: passwords are hashed cheaply."""
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=hashers), transaction.atomic():
        yield _build_world(_jasmin_server)
        transaction.set_rollback(True)


@pytest.fixture
def world(_world, db):
    return _world


def _client(client, world, role: str):
    """This test client (a page's or the API's), signed in as the role, on the shared handler."""
    client.handler = world.handlers[type(client.handler)]
    if role in world.sessions and not isinstance(client, APIClient):
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return client


def _row(world, model):
    row = world.objects.get(model._meta.label_lower) or model._default_manager.order_by("pk").last()
    if row is None:
        pytest.fail(f"No {model._meta.label} row for its admin pages: add one to `_build_world`.")
    return row


def _param(world, route: Route, variant: str, param: str) -> str:
    if param in dict(route.fixed):
        return dict(route.fixed)[param]
    target = getattr(world, variant)
    model = getattr(getattr(getattr(route.view, "serializer_class", None), "Meta", None), "model", None)
    values = {
        "extension": lambda: target.agent.extension,
        "token": lambda: target.session.token,
        "token_key": lambda: target.api_token.token_key,
        "number": lambda: world.did.number,
        "phone": lambda: world.other.sms.customer,
        "pk": lambda: (
            target.queue.pk
            if model is Queue
            else target.call.pk
            if model is CallRequest
            else getattr(world.objects.get(model._meta.label_lower if model else ""), "pk", None)
        ),
        "content_type_id": lambda: ContentType.objects.get_for_model(Agent).pk,
    }
    if route.model_admin is not None:  # `object_id` of its pages, `id` of the user's password page
        values["object_id"] = values["id"] = lambda: quote(_row(world, route.model_admin.model).pk)
    elif route.name == "admin:view_on_site":
        values["object_id"] = lambda: world.own.agent.pk
    value = values[param]() if param in values else None
    if value is None:
        pytest.fail(f"{route.shown(variant)}: no value for <{param}>: teach `_param` which row it names.")
    return str(value)


def _url(world, case: Case) -> str:
    return "/" + case.route.template % {p: _param(world, case.route, case.variant, p) for p in case.route.params}


# ---- plausible bodies -----------------------------------------------------------------------------------------


class _FormFields(HTMLParser):
    """What a browser submits from the admin's change form (`<form id="…_form">`) as the page shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.inside = False
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "form":
            self.inside = (attrs.get("id") or "").endswith("_form")
        if not self.inside:
            return
        name, kind = attrs.get("name"), attrs.get("type", "text")
        if tag == "input" and name and kind not in ("submit", "button", "file", "image", "reset"):
            if kind not in ("checkbox", "radio"):
                self.add(name, attrs.get("value") or "")
            elif "checked" in attrs:
                self.add(name, attrs.get("value") or "on")
        elif tag == "select" and name:
            self.select, self.options = name, []
        elif tag == "option" and self.select:
            self.options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_data(self, data) -> None:
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            chosen = [value for value, selected in self.options if selected] or [v for v, _ in self.options[:1]]
            for value in chosen:
                self.add(self.select, value)
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.add(self.textarea, self.text.removeprefix("\n"))
            self.textarea = None


def _admin_body(world, case: Case, url: str) -> dict:
    """A plausible POST to a ModelAdmin's page: its form as the superuser sees it, or the deletion it offers."""
    row = _row(world, case.route.model_admin.model)
    page = case.route.page
    if page == "changelist":
        return {"action": "delete_selected", "_selected_action": [str(row.pk)], "index": "0", "post": "yes"}
    if page == "delete":
        return {"post": "yes"}
    if page == "password_change":
        return {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    if url not in world.forms:  # the rows outlive the test: so does their form
        parser = _FormFields()
        parser.feed(_client(Client(), world, "superuser").get(url).content.decode())
        world.forms[url] = parser.data
    filled = ADMIN_ADD_VALUES.get(row._meta.label_lower, lambda w: {})(world) if page == "add" else {}
    return world.forms[url] | {name: [str(value)] for name, value in filled.items()}


def _body(world, case: Case, url: str) -> dict:
    if case.body in ("-", "empty"):
        return {}
    target = getattr(world, case.variant)
    if case.route.kind == "api" and case.method == "GET":
        return API_QUERIES[case.route.name](world, target)
    if case.route.kind == "api":
        return API_WRITES[case.route.name].body(world, target)
    if case.route.model_admin is not None:
        return _admin_body(world, case, url)
    return (PAGE_QUERIES if case.method == "GET" else PAGE_BODIES)[case.route.name](world, target)


# ---- sending --------------------------------------------------------------------------------------------------


@dataclass
class Sent:
    case: Case
    url: str
    body: dict
    response: object

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def location(self) -> str:
        return urlsplit(self.response.get("Location", "")).path

    @cached_property
    def text(self) -> str:
        content = b"".join(self.response.streaming_content) if self.response.streaming else self.response.content
        return content.decode(errors="replace")

    def __str__(self) -> str:
        return f"{self.case}: {self.status} {self.location or self.text[:300]}"


def _prepare(world, case: Case, client, api_as) -> Callable[[], Sent]:
    """Sign in as the case's role and build its request; calling the result sends it (rule b holds for it)."""
    url = _url(world, case)
    body = _body(world, case, url)
    if case.route.kind == "api":
        caller = _client(api_as(world.users[case.role]), world, case.role)
        if case.method == "GET":
            send = lambda: caller.get(url, body)  # noqa: E731
        else:
            send = lambda: getattr(caller, case.method.lower())(url, body, format="json")  # noqa: E731
    else:
        caller = _client(client, world, case.role)
        send = lambda: (caller.get if case.method == "GET" else caller.post)(url, body)  # noqa: E731

    def checked() -> Sent:
        secrets = _secrets()
        sent = Sent(case, url, body, send())
        assert sent.status < 500, str(sent)
        asked = url + json.dumps(body)
        shown = sorted(secret for secret in secrets if secret in sent.text and secret not in asked)
        assert not shown, f"{case}: the answer shows write-only values {shown}"
        return sent

    return checked


def _send(world, case: Case, client, api_as) -> Sent:
    return _prepare(world, case, client, api_as)()


def _secrets() -> set[str]:
    """Every write-only value stored: PBX secrets, password hashes (and their hash part), API token digests."""
    values = set(PbxServer.objects.values_list("secret", flat=True))
    for hashed in get_user_model().objects.values_list("password", flat=True):
        values |= {hashed, hashed.rsplit("$", 1)[-1]}
    values |= set(AuthToken.objects.values_list("digest", flat=True))
    return {value for value in values if len(value) >= 8}


# Tables no request writes (content types and permissions are made by migrations), or may write for any role
# (a request may touch its own sign-in session).
UNFINGERPRINTED = {"contenttypes.ContentType", "auth.Permission", "sessions.Session"}


def _fingerprint() -> dict[str, list]:
    """Every row of every other table, many-to-many links included. Cheap at this size."""
    models = apps.get_models(include_auto_created=True)
    return {
        m._meta.label: list(m._base_manager.order_by("pk").values_list())
        for m in models
        if m._meta.label not in UNFINGERPRINTED
    }


def _request_as(user):
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    return request


# ---- a. write-only lookups ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model_admin", "lookup", "role"), LOOKUP_CASES)
def test_changelists_refuse_lookups_on_write_only_fields(client, world, model_admin, lookup, role):
    user = world.users[role]
    opts = model_admin.model._meta
    response = _client(client, world, role).get(
        f"/admin/{opts.app_label}/{opts.model_name}/", {f"{lookup}__startswith": "a"}
    )
    if user is not None and user.is_staff:
        sees_list = model_admin.has_view_or_change_permission(_request_as(user))
        assert response.status_code == (400 if sees_list else 403), response.content[:300]
    else:
        assert response.status_code == 302, response.content[:300]
        assert urlsplit(response["Location"]).path in ("/admin/login/", "/dashboard/")


# ---- b. no server error, no secret ----------------------------------------------------------------------------


@_cases(OTHER_CASES)
def test_no_server_error_and_no_secret_in_the_answer(client, api_as, world, case):
    """The cases no rule below sends (those hold the requests they send to this rule too)."""
    _send(world, case, client, api_as)


# ---- c. anonymous callers sign in first -----------------------------------------------------------------------


@_cases(ANONYMOUS_CASES)
def test_anonymous_callers_must_sign_in(client, api_as, world, case):
    sent = _send(world, case, client, api_as)
    if case.route.kind == "api":
        assert sent.status == 401, str(sent)
        return
    assert sent.status == 302, str(sent)
    if sent.location not in SIGN_IN_PAGES:  # the admin's sign-out sends to the admin's index, which asks
        hop = client.get(sent.location)
        assert hop.status_code == 302 and urlsplit(hop["Location"]).path in SIGN_IN_PAGES, str(sent)


# ---- d. the admin is for staff --------------------------------------------------------------------------------


@_cases(ADMIN_CASES)
def test_agents_and_outsiders_never_get_an_admin_page(client, api_as, world, case):
    sent = _send(world, case, client, api_as)
    assert sent.status == 302, str(sent)
    assert sent.location in ("/admin/login/", "/admin/", "/dashboard/"), str(sent)


# ---- e. an agent sees only their own --------------------------------------------------------------------------


def _extensions(data) -> set[str]:
    if isinstance(data, dict):
        found = {data["extension"]} if isinstance(data.get("extension"), str) else set()
        return found.union(*(_extensions(value) for value in data.values()))
    if isinstance(data, list):
        return set().union(*(_extensions(value) for value in data))
    return set()


@_cases(OWN_DATA_CASES)
def test_agents_and_outsiders_never_see_another_agents_data(client, api_as, world, case):
    """Nor does an outsider, who has no agent: everyone's rows are another agent's to them."""
    sent = _send(world, case, client, api_as)
    others = [world.other] if case.role == "agent" else [world.own, world.other]
    markers = [m for o in others for m in (o.agent.display_name, o.agent.user.username, o.queue.name, o.sms.content)]
    markers += [m for o in others for m in (o.session.token, o.api_token.token_key)]
    assert not [marker for marker in markers if marker in sent.text], str(sent)
    own = {world.own.agent.extension} if case.role == "agent" else set()
    if sent.response.get("Content-Type", "").startswith("application/json"):
        assert _extensions(sent.response.json()) <= own, str(sent)
    if case.route.targeted:  # and the agent's own row is there: the 404 means "not yours", not "broken"
        assert sent.status == (200 if case.role == "agent" and case.variant == "own" else 404), str(sent)


# ---- f. writes need the permission ----------------------------------------------------------------------------


def _may_write(world, case: Case) -> bool:
    user = world.users[case.role]
    if user is None:
        return False
    if case.route.kind == "api":
        rule = API_WRITES[case.route.name]
        if rule.owner_may and case.role == "agent" and case.variant == "own":
            return True
        return rule.permission is not None and user.has_perm(rule.permission)
    if not user.is_staff:
        return False
    model_admin, request = case.route.model_admin, _request_as(user)
    row = _row(world, model_admin.model)
    return {
        "changelist": lambda: model_admin.has_delete_permission(request),  # the plausible POST deletes
        "add": lambda: model_admin.has_add_permission(request),
        "change": lambda: model_admin.has_change_permission(request, row),
        "delete": lambda: model_admin.has_delete_permission(request, row),
        "password_change": lambda: model_admin.has_change_permission(request, row),
    }[case.route.page]()


@_cases(WRITE_CASES)
def test_writes_without_permission_are_refused_and_change_nothing(client, api_as, world, case):
    if case.route.kind == "api" and case.route.name not in API_WRITES:
        pytest.fail(f"{case}: who may write here? Add {case.route.name!r} to API_WRITES.")
    send = _prepare(world, case, client, api_as)
    if _may_write(world, case):
        send()
        return
    before = _fingerprint()
    sent = send()
    user = world.users[case.role]
    if case.route.kind == "api":
        # An empty body may be refused as invalid before anything is looked up (the legacy route names its
        # agent in the body).
        refusals = {401} if user is None else {403, 404} | ({400} if case.body == "empty" else set())
        assert sent.status in refusals, str(sent)
    elif user is None or not user.is_staff:
        assert sent.status == 302 and sent.location in ("/admin/login/", "/dashboard/"), str(sent)
    elif case.route.page == "changelist":
        # Staff: an action they may not run is not offered; the list comes back (or they may not see it).
        assert sent.status in (200, 302, 403), str(sent)
    else:
        assert sent.status == 403, str(sent)
    assert _fingerprint() == before, f"{sent}, and the database changed"
