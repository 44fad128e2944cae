"""Settings follow the environment: embedded defaults, MySQL/Redis switches, strict booleans, deploy checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = [
    line.split("=", 1)[0]
    for line in (ROOT / ".env.example").read_text().splitlines()
    if "=" in line and not line.startswith("#")
]
PROBE = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({"engine": db["ENGINE"], "options": db.get("OPTIONS", {}), "name": str(db["NAME"]),
  "layer": s.CHANNEL_LAYERS["default"]["BACKEND"], "layer_config": s.CHANNEL_LAYERS["default"].get("CONFIG"),
  "broker": s.CELERY_BROKER_URL, "eager": s.CELERY_TASK_ALWAYS_EAGER, "tz": s.TIME_ZONE, "use_tz": s.USE_TZ,
  "debug": s.DEBUG}))
"""


def run(code_or_args: str | list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(env, DJANGO_SETTINGS_MODULE="mayday.settings")
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def probe(**env: str) -> dict:
    result = run(PROBE, DJANGO_SECRET_KEY="x" * 60, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_variable_read_is_documented_in_env_example():
    source = (ROOT / "mayday" / "settings.py").read_text()
    import re

    read = set(re.findall(r'env(?:\.\w+|_bool)\("([A-Z_]+)"', source))
    assert read, "settings read no variables?"
    assert read <= set(VARIABLES), f"undocumented: {read - set(VARIABLES)}"


def test_embedded_defaults():
    s = probe()
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"].endswith("db.sqlite3")
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["eager"] is True
    assert s["broker"] == "memory://localhost/"
    assert s["tz"] == "Africa/Nairobi" and s["use_tz"] is True
    assert s["debug"] is False


def test_database_url_switches_to_mysql_with_utf8mb4_and_read_committed():
    s = probe(DATABASE_URL="mysql://mayday:pw@db.example:3306/mayday")
    assert s["engine"] == "django.db.backends.mysql"
    assert s["name"] == "mayday"
    assert s["options"]["charset"] == "utf8mb4"
    assert s["options"]["isolation_level"] == "read committed"


def test_redis_url_switches_channel_layer_and_broker_and_stops_inline_tasks():
    s = probe(REDIS_URL="redis://127.0.0.1:6379/3")
    assert s["layer"] == "channels_redis.core.RedisChannelLayer"
    host = {"address": "redis://127.0.0.1:6379/3", "socket_timeout": 15, "max_connections": 10_000}
    assert s["layer_config"] == {"hosts": [host], "group_expiry": 3600}
    assert s["broker"] == "redis://127.0.0.1:6379/3"
    assert s["eager"] is False


def test_celery_broker_url_overrides_redis():
    s = probe(REDIS_URL="redis://127.0.0.1:6379/3", CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    assert s["broker"] == "amqp://guest:guest@127.0.0.1:5672//"
    assert s["layer"] == "channels_redis.core.RedisChannelLayer"


def test_time_zone_comes_from_mayday_time_zone():
    assert probe(MAYDAY_TIME_ZONE="Europe/Madrid")["tz"] == "Europe/Madrid"


def test_secret_key_is_required_when_debug_is_off():
    result = run(PROBE)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_debug_runs_without_a_secret_key():
    result = run(PROBE, DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is True


def test_bad_boolean_fails_loudly():
    result = run(PROBE, DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_a_bad_trusted_proxy_fails_loudly():
    result = run(PROBE, DJANGO_SECRET_KEY="x" * 60, MAYDAY_TRUSTED_PROXIES="10.0.0.0/8,proxy.example")
    assert result.returncode != 0
    assert "MAYDAY_TRUSTED_PROXIES: 'proxy.example' does not appear to be an IPv4 or IPv6 network" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY="k3Jd9-Xq!v2#Lm8pR7sT1wZ4yB6nC0eF5gH_jA9uV3xQ2oP8iE",
        DJANGO_ALLOWED_HOSTS="mayday.example.com",
        DJANGO_HTTPS="true",
        DJANGO_HSTS_SECONDS="31536000",
        DJANGO_HSTS_PRELOAD="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_without_hsts_preload_gives_that_one_warning():
    """Asking browsers to preload HSTS is the site owner's choice (README, Configuration): the only warning."""
    result = run(
        ["manage.py", "check", "--deploy"],
        DJANGO_SECRET_KEY="k3Jd9-Xq!v2#Lm8pR7sT1wZ4yB6nC0eF5gH_jA9uV3xQ2oP8iE",
        DJANGO_ALLOWED_HOSTS="mayday.example.com",
        DJANGO_HTTPS="true",
        DJANGO_HSTS_SECONDS="31536000",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "security.W021" in result.stderr + result.stdout
    assert "identified 1 issue" in result.stderr + result.stdout


def test_check_deploy_warns_without_https():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY="k3Jd9-Xq!v2#Lm8pR7sT1wZ4yB6nC0eF5gH_jA9uV3xQ2oP8iE",
    )
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr
