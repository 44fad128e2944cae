"""Mayday settings: every value comes from the environment through one `environ.Env`.

Embedded defaults (no variables set): SQLite, the in-memory channel layer and
Celery tasks run inline. `DATABASE_URL` and `REDIS_URL` switch to MySQL/MariaDB
and Redis. Every variable is listed with its default in `.env.example`.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but a clear yes/no is a configuration error."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-DJANGO_DEBUG-true"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS: behind a TLS-terminating proxy that sets X-Forwarded-Proto.
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
# Pages load scripts and styles only from static/ (no inline code), and talk only to this server.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

INSTALLED_APPS = [
    "daphne",
    "mayday.apps.MaydayAdminConfig",
    "import_export",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "agents",
    "telephony",
    "sms",
    "reporting",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "mayday.middleware.no_store",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mayday.urls"
ASGI_APPLICATION = "mayday.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "isolation_level": "read committed"})
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the listener write while pages read; the timeout rides out short write locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests get a file too, not shared-cache memory: the listener writes from other threads while a
    # test reads, and shared-cache SQLite locks whole tables where a WAL file lets them coexist.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
# A thread keeps its connection this long (a request thread of the web process, a PBX command's lane, the
# websockets' database thread), checked before each reuse, rather than one opened for every request and command.
DATABASES["default"].setdefault("CONN_MAX_AGE", 600)  # `?conn_max_age=0` in DATABASE_URL: a connection a request
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # redis-py 8 defaults that channels-redis does not expect: reads time out after 5 s, the length of
    # the layer's blocking pop (idle websockets were torn down), and at most 100 connections per pool
    # (a burst of connecting or disconnecting websockets failed). Reads may outlast the pop, a dead
    # Redis still shows, and the pool may grow to Redis's own client limit. Group members left by a
    # server that died are forgotten after an hour (live connections rejoin every ten minutes).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "max_connections": 10_000}],
                "group_expiry": 3600,
            },
        }
    }
    # Sign-in and API write limits are counted here, shared by every web process. django-redis keeps one
    # connection pool a process: Django's own backend makes a pool, and so a connection, for every request
    # served asynchronously (each has a cache object of its own).
    CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: a broker (CELERY_BROKER_URL, else REDIS_URL) means real workers; none means inline tasks.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL.startswith("memory://"))
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# How often every PBX is reconciled (desired vs observed state): Celery beat, or the listener when inline.
MAYDAY_POLL_SECONDS = env.int("MAYDAY_POLL_SECONDS", default=15)
# A client session lives this long after its last heartbeat (clients beat every third of it).
MAYDAY_SESSION_TTL_SECONDS = env.int("MAYDAY_SESSION_TTL_SECONDS", default=90)
# An agent stays online this long after the last sign of life, so a page refresh or a short drop does not flap.
MAYDAY_PRESENCE_GRACE_SECONDS = env.int("MAYDAY_PRESENCE_GRACE_SECONDS", default=20)
PRESENCE_SWEEP_SECONDS = 5
# How long a thread of the web process or the listener may hold the interpreter before another that waits gets
# it (Python's default is 5 ms). A status change passes between the event loop, a request thread and a
# command thread several times; at the default each pass can wait 5 ms behind any busy thread.
MAYDAY_SWITCH_INTERVAL = 0.0005
# Requests run on this many threads of each web process, each with its own database connection: how many
# requests one process serves at once (more wait for a thread).
MAYDAY_WEB_THREADS = 16


def _networks(name: str) -> list:
    try:
        return [ipaddress.ip_network(n, strict=False) for n in env.list(name, default=[])]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


# Reverse proxies in front of Mayday (addresses or networks): behind them, a client's address is the last
# X-Forwarded-For entry they did not add. Without any, it is the connection's address.
MAYDAY_TRUSTED_PROXIES = _networks("MAYDAY_TRUSTED_PROXIES")
CELERY_BEAT_SCHEDULE = {
    "reconcile-pbxs": {
        "task": "telephony.tasks.poll_all_pbxs",
        "schedule": MAYDAY_POLL_SECONDS,
        "options": {"expires": MAYDAY_POLL_SECONDS * 2 / 3},
    },
    "sweep-presence": {
        "task": "agents.tasks.sweep_presence",
        "schedule": PRESENCE_SWEEP_SECONDS,
        "options": {"expires": PRESENCE_SWEEP_SECONDS * 2 / 3},
    },
    "sweep-sms": {"task": "sms.tasks.sweep_messages", "schedule": 60, "options": {"expires": 40}},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in protection (mayday/signin.py): django-axes refuses a locked account before hashing its password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
MAYDAY_SIGNIN_FAILURES = env.int("MAYDAY_SIGNIN_FAILURES", default=10)
MAYDAY_SIGNIN_LOCKOUT_MINUTES = env.int("MAYDAY_SIGNIN_LOCKOUT_MINUTES", default=15)
AXES_FAILURE_LIMIT = MAYDAY_SIGNIN_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=MAYDAY_SIGNIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username"]
# Addresses are limited by SignInRateThrottle instead: a whole call center often signs in from one address.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "mayday.signin.client_address"
AXES_LOCKOUT_CALLABLE = "mayday.signin.locked_out"
AXES_VERBOSE = False
# API tokens (mayday/tokens.py): valid this long after their last use, and never longer than the maximum.
MAYDAY_TOKEN_TTL_HOURS = env.int("MAYDAY_TOKEN_TTL_HOURS", default=12)
MAYDAY_TOKEN_MAX_DAYS = env.int("MAYDAY_TOKEN_MAX_DAYS", default=30)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=MAYDAY_TOKEN_TTL_HOURS),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(days=MAYDAY_TOKEN_MAX_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("MAYDAY_TIME_ZONE", default="Africa/Nairobi")
USE_I18N = True
USE_TZ = True

# Reports: the weekday "this week" starts on (it never starts before the first of the month), and the wait in
# seconds under which an abandoned call is a short abandon, shown apart and left out of the abandon rate.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAYDAY_WEEK_STARTS = env.str("MAYDAY_WEEK_STARTS", default="monday").lower()
if MAYDAY_WEEK_STARTS not in WEEKDAYS:
    raise ImproperlyConfigured(f"MAYDAY_WEEK_STARTS must be a weekday name ({', '.join(WEEKDAYS)}).")
MAYDAY_SHORT_ABANDON_SECONDS = env.int("MAYDAY_SHORT_ABANDON_SECONDS", default=0)

# DIDs come in and out of the admin as CSV: importing needs the right to add them, exporting to see them.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# The SMS provider (a Jasmin gateway's REST API), used unless settings saved in the admin or through the API
# replace these; deleting those falls back here. One way to sign in: user name and password, or a ready header.
MAYDAY_SMS = {
    "base_url": env.str("MAYDAY_SMS_URL", default=""),
    "username": env.str("MAYDAY_SMS_USERNAME", default=""),
    "password": env.str("MAYDAY_SMS_PASSWORD", default=""),
    "auth_header": env.str("MAYDAY_SMS_AUTH_HEADER", default=""),
    "default_sender": env.str("MAYDAY_SMS_SENDER", default=""),
    "dlr_url": env.str("MAYDAY_SMS_DLR_URL", default=""),
    "override_ip": env.str("MAYDAY_SMS_OVERRIDE_IP", default=""),
}
# The secret the gateway's posts (delivery reports, replies) carry in their URL (?token=…); empty refuses them all.
MAYDAY_SMS_WEBHOOK_TOKEN = env.str("MAYDAY_SMS_WEBHOOK_TOKEN", default="")
# A CA bundle to trust for the gateway's certificate (a private CA); empty: the usual public ones.
MAYDAY_SMS_CA_FILE = env.str("MAYDAY_SMS_CA_FILE", default="")

# Numbers without a country code (DIDs, numbers to call) are read as numbers of this region (ISO 3166 code).
MAYDAY_PHONE_REGION = env.str("MAYDAY_PHONE_REGION", default="UG").upper()

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Files missing from STATIC_ROOT (no collectstatic yet) are served from the app folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    # Token first, so an anonymous request gets 401 with WWW-Authenticate rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "mayday.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "mayday.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "mayday.schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["mayday.signin.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "signin": env.str("MAYDAY_SIGNIN_RATE", default="120/min"),
        "write": env.str("MAYDAY_API_WRITE_RATE", default="600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mayday API",
    "DESCRIPTION": "Call-center agents, queues, DIDs and live status.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AvailabilityEnum": "agents.models.Availability",
        "LegacyStatusEnum": "agents.api.LEGACY_STATUSES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("MAYDAY_LOG_LEVEL", default="INFO")},
    "loggers": {"panoramisk": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Demo data (`manage.py seed_demo`).
MAYDAY_DEMO_PASSWORD = env.str("MAYDAY_DEMO_PASSWORD", default="mayday-demo")
