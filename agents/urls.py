from django.urls import path

from agents import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/status/", views.set_status, name="dashboard-status"),
    path("team/", views.team, name="team"),
]
