"""The SMS provider of these tests: the fake gateway on loopback (tests/jasmin.py), set as the environment's."""

from __future__ import annotations

import pytest


@pytest.fixture
def provider(jasmin, settings):
    config = jasmin.config()
    settings.MAYDAY_SMS = {
        "base_url": config.base_url,
        "username": config.username,
        "password": config.password,
        "auth_header": "",
        "default_sender": "Hugamara",
        "dlr_url": "https://mayday.example.test/api/sms/dlr",
        "override_ip": "",
    }
    settings.MAYDAY_SMS_WEBHOOK_TOKEN = "hook-secret"
    return jasmin
