"""The app's URLs plus `bench/floor`: a view that does nothing but answer as the SMS webhook does (the floor a
webhook's figure is printed beside). Served only with bench/floor_settings.py."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mayday.urls import urlpatterns as app_urls


@csrf_exempt
@require_POST
def floor(request) -> HttpResponse:
    return HttpResponse("ACK/Jasmin", content_type="text/plain")


urlpatterns = [path("bench/floor", floor), *app_urls]
