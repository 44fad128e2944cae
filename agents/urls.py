from django.urls import path

from agents import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]
