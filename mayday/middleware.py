"""Headers every response of Mayday's own carries."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers


def no_store(get_response):
    """Pages and API answers hold personal data (who is on break, from where): no cache keeps them, unless a
    view chose its own caching. Static files never get here (WhiteNoise answers them first)."""

    def middleware(request):
        response = get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

    return middleware
