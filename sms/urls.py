from django.urls import path

from sms import views

urlpatterns = [
    path("", views.inbox, name="sms"),
    path("<str:phone>/", views.conversation, name="sms-conversation"),
]
