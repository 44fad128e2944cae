"""The browsable API's renderer, under the Content-Security-Policy."""

from __future__ import annotations

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML pages for the API: its templates and form widgets carry inline style attributes, so these
    pages (and only these) allow inline styles. Scripts stay limited to this site's files, as everywhere."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {"style-src": ["'unsafe-inline'"]}  # read by django-csp's middleware
        return super().render(data, accepted_media_type, renderer_context)
