"""Shared personas: an agent, a supervisor, an administrator, and an outsider with no role."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD, AgentFactory, PbxServerFactory, UserFactory


@pytest.fixture
def pbx(db):
    return PbxServerFactory()


@pytest.fixture
def agent(pbx):
    return AgentFactory(extension="1005", pbx=pbx)


@pytest.fixture
def supervisor(db):
    return UserFactory(username="sup", is_staff=True, groups=["Supervisors"])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(db):
    return UserFactory(username="nobody")


@pytest.fixture
def password():
    return PASSWORD


def _api(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def api_as():
    """`api_as(user)`: an API client authenticated with that user's token (None = anonymous)."""
    return _api
