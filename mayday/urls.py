from django.contrib import admin
from django.urls import include, path

from agents.api import LegacySetAgentStatus
from mayday import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("mayday.api_urls")),
    path("Set-Agent-Status", LegacySetAgentStatus.as_view(), name="legacy-set-agent-status"),
    path("", include("agents.urls")),
    path("", include("reporting.urls")),
    path("sms/", include("sms.urls")),
]
