from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from agents.api import AgentViewSet, SessionViewSet
from mayday.auth_api import ObtainToken, TokenViewSet
from reporting.api import AgentReport, CallReport, QueueReport
from sms import api as sms
from telephony.api import (
    CallViewSet,
    DidViewSet,
    InboundRouteViewSet,
    OutboundRouteViewSet,
    PrefixRouteViewSet,
    QueueViewSet,
    TrunkViewSet,
)

router = DefaultRouter()
router.include_format_suffixes = False  # `?format=json` or an Accept header choose JSON; no `.json` twins
router.register("agents", AgentViewSet, basename="agent")
router.register("sessions", SessionViewSet, basename="session")
router.register("queues", QueueViewSet, basename="queue")
router.register("dids", DidViewSet, basename="did")
router.register("trunks", TrunkViewSet, basename="trunk")
router.register("routes/prefixes", PrefixRouteViewSet, basename="prefix-route")
router.register("routes/outbound", OutboundRouteViewSet, basename="outbound-route")
router.register("routes/inbound", InboundRouteViewSet, basename="inbound-route")
router.register("calls", CallViewSet, basename="call")
router.register("auth/tokens", TokenViewSet, basename="token")

urlpatterns = [
    path("auth/token/", ObtainToken.as_view(), name="api-token"),
    path("reports/queues/", QueueReport.as_view(), name="report-queues"),
    path("reports/agents/", AgentReport.as_view(), name="report-agents"),
    path("reports/calls/", CallReport.as_view(), name="report-calls"),
    # The path older dashboards read the DID inventory from.
    path("users/inbound_route/dids", DidViewSet.as_view({"get": "list"}), name="inbound-route-dids"),
    # SMS, on the paths the old front-ends use; the provider posts to dlr and inbound (their URL carries our token).
    path("sms/send", sms.SendView.as_view(), name="sms-send"),
    path("sms/balance", sms.BalanceView.as_view(), name="sms-balance"),
    path("sms/providers", sms.ProvidersView.as_view(), name="sms-providers"),
    path("sms/config", sms.ConfigView.as_view(), name="sms-config"),
    path("sms/conversations", sms.ConversationsView.as_view(), name="sms-conversations"),
    path("sms/conversations/<str:phone>", sms.ThreadView.as_view(), name="sms-thread"),
    path("sms/dlr", sms.dlr, name="sms-dlr"),
    path("sms/inbound", sms.inbound, name="sms-inbound"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the Content-Security-Policy allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Redoc styles itself with inline <style> elements and searches in a blob worker: this page alone allows both.
    path(
        "redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema")
        ),
        name="api-redoc",
    ),
    *router.urls,
]
