"""Django settings for Malote.

Embedded default: SQLite under ``./var/`` in WAL mode with serialized (IMMEDIATE) writers.
Scale-out: ``DATABASE_URL=postgres://…`` switches to PostgreSQL.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

from malote.core import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MALOTE_VAR_DIR", BASE_DIR / "var"))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _meta_key(header: str) -> str:
    """``X-Forwarded-For`` → ``HTTP_X_FORWARDED_FOR`` (the key Django gives it in request.META)."""
    return "HTTP_" + header.strip().upper().replace("-", "_")


DEBUG = _env_flag("MALOTE_DEBUG")
# MALOTE_SECRET_KEY, else a random key generated on first start and kept in var/secret_key (0600);
# a publicly known key is refused unless DEBUG is on (malote/core/secret_key.py).
SECRET_KEY = secret_key.configured_secret_key(os.environ, VAR_DIR, debug=DEBUG)
# Previous keys, still accepted when verifying signatures, while rotating (docs/security.md).
SECRET_KEY_FALLBACKS = _env_list("MALOTE_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = _env_list("MALOTE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "axes",
    "csp",
    "malote.core",
    "malote.accounts",
    "malote.channels",
    "malote.relay",
    "malote.connectors",
    "malote.stock",
    "malote.orders",
    "malote.returns",
    "malote.sync",
    "malote.notify",
    "malote.api",
    "malote.reconcile",
    "malote.backoffice",
    "malote.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "malote.api.middleware.ApiJsonErrorsMiddleware",
    "malote.api.middleware.IdempotencyKeyMiddleware",
    # Last, as django-axes requires: it sees the response of a refused login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "malote.urls"
WSGI_APPLICATION = "malote.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # CSP_NONCE for inline scripts (django-htmx's {% htmx_script %} reads request.csp_nonce).
                "csp.context_processors.nonce",
            ],
        },
    },
]


SQLITE_SYNCHRONOUS = os.environ.get("MALOTE_SQLITE_SYNCHRONOUS", "FULL").upper()
if SQLITE_SYNCHRONOUS not in {"FULL", "NORMAL", "EXTRA"}:
    raise ValueError("MALOTE_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")


def _database_config() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
        return config
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "malote.sqlite3"),
        "OPTIONS": {
            # WAL lets readers run beside the single writer; IMMEDIATE serializes writers up front
            # so that two transactions never deadlock upgrading a read lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # FULL: a commit survives a power loss, not only a process crash (an acknowledged order
            # must never vanish); NORMAL is faster and may be chosen with MALOTE_SQLITE_SYNCHRONOUS.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000; "
                f"PRAGMA synchronous={SQLITE_SYNCHRONOUS};"
            ),
        },
        # A file (not memory) so tests can use real concurrent connections; one per process so
        # parallel runs never share it.
        "TEST": {"NAME": str(VAR_DIR / f"test-malote-{os.getpid()}.sqlite3")},
    }


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every web worker: the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "malote_cache"}}

LOGIN_URL = "/backoffice/login/"

# --- login protection (django-axes; malote/accounts/login_protection.py, docs/security.md) ------
# The axes backend first: it refuses a locked-out (username, address) before any password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted per (normalised username, client address), in the database (shared by
# every worker); that many failures lock the pair for the cool-off, counted from the last failure.
AXES_FAILURE_LIMIT = _env_int("MALOTE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("MALOTE_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A refused attempt during the lockout does not extend it: the wait the message states holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "malote.accounts.login_protection.lockout_username"
AXES_CLIENT_IP_CALLABLE = "malote.accounts.login_protection.client_ip"
AXES_LOCKOUT_CALLABLE = "malote.accounts.login_protection.lockout_response"
# Behind reverse proxies: the header they set with the client's address, and how many there are
# (the client is that many entries from the right). Unset: REMOTE_ADDR, which a client cannot forge.
_proxy_header = os.environ.get("MALOTE_TRUSTED_PROXY_HEADER", "").strip()
MALOTE_TRUSTED_PROXY_HEADER = _meta_key(_proxy_header) if _proxy_header else ""
MALOTE_TRUSTED_PROXY_COUNT = max(1, _env_int("MALOTE_TRUSTED_PROXY_COUNT", 1))

# --- transport and browser hardening (docs/security.md has the production configuration) ------
SECURE_COOKIES = _env_flag("MALOTE_SECURE_COOKIES")
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: pages carry the token (hx-headers, the forms, Swagger's data-*).
CSRF_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = _env_list("MALOTE_CSRF_TRUSTED_ORIGINS")
SECURE_SSL_REDIRECT = _env_flag("MALOTE_SSL_REDIRECT")
# Load balancers probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = _env_int("MALOTE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("MALOTE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = _env_flag("MALOTE_HSTS_PRELOAD")
# Behind a TLS-terminating proxy: the header it sets to "https" (e.g. X-Forwarded-Proto). Only
# when the proxy always sets or overwrites it, or a client could claim HTTPS.
_proxy_ssl_header = os.environ.get("MALOTE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (_meta_key(_proxy_ssl_header), "https") if _proxy_ssl_header else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every page: scripts only from here or carrying the request's nonce, nothing framed, no plugins.
# Inline styles are allowed: the dashboard's SVG charts (pygal) carry a <style> element and style
# attributes, Django's admin and htmx's indicator use them; a style cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
# The back office's msgids are the Portuguese text; English lives in malote/locale/en (the .mo is
# compiled at install: `malote compilemessages`).
LOCALE_PATHS = [BASE_DIR / "malote" / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Present before the first collectstatic, so WhiteNoise starts without warnings on a fresh clone.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Requests over this size are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("MALOTE_MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))

MALOTE_ORDER_NUMBER_PREFIX = os.environ.get("MALOTE_ORDER_NUMBER_PREFIX", "M")

# text: the message alone, one line per record; json: one JSON object per line (time, level,
# logger, message, extra fields, exception) for a log collector (malote/core/jsonlog.py).
MALOTE_LOG_FORMAT = os.environ.get("MALOTE_LOG_FORMAT", "text").strip().lower() or "text"
if MALOTE_LOG_FORMAT not in {"text", "json"}:
    raise ValueError("MALOTE_LOG_FORMAT must be text or json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "malote.core.jsonlog.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            **({"formatter": "json"} if MALOTE_LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("MALOTE_LOG_LEVEL", "INFO")},
    # One line per HTTP call is noise at INFO; failures surface through the outbox's last_error.
    # django-axes logs every log-in at INFO; failures and lockouts come at WARNING.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# /metrics answers only requests bearing this token; unset, the endpoint answers 404
# (docs/observability.md).
MALOTE_METRICS_TOKEN = os.environ.get("MALOTE_METRICS_TOKEN", "").strip()

# Customer e-mails (malote.notify): Django's SMTP backend; a local relay without auth by default.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("MALOTE_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("MALOTE_EMAIL_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("MALOTE_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("MALOTE_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("MALOTE_EMAIL_USE_TLS", "") == "1"
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("MALOTE_EMAIL_FROM", "Loja Malote <pedidos@malote.local>")
# Right-hand side of the stable Message-IDs of customer e-mails.
MALOTE_EMAIL_DOMAIN = os.environ.get("MALOTE_EMAIL_DOMAIN", "malote.local")
