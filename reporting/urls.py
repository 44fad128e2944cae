from django.urls import path

from reporting import views

urlpatterns = [
    path("reports/", views.reports, name="reports"),
    path("wallboard/", views.wallboard, name="wallboard"),
]
