"""Operational endpoints: the health check, the OpenAPI schema and its local docs, migrations."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.test import override_settings
from drf_spectacular.validation import validate_schema


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_channel_layer_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}}


@pytest.mark.django_db
def test_healthz_is_503_when_the_channel_layer_is_down(client):
    dead_redis = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    with override_settings(CHANNEL_LAYERS=dead_redis):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"].startswith("error:")


@pytest.mark.django_db
def test_schema_is_valid_openapi_and_lists_the_endpoints(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    for path in [
        "/api/agents/",
        "/api/agents/{extension}/",
        "/api/queues/",
        "/api/queues/{id}/",
        "/api/dids/",
        "/api/auth/token/",
        "/api/auth/tokens/",
        "/api/auth/tokens/{token_key}/",
    ]:
        assert path in schema["paths"], path
    assert set(schema["components"]["securitySchemes"]) >= {"knoxApiToken", "cookieAuth"}


@pytest.mark.django_db
def test_api_docs_are_served_locally_without_a_cdn(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
