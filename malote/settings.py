"""Django settings for Malote.

Embedded default: SQLite under ``./var/`` in WAL mode with serialized (IMMEDIATE) writers.
Scale-out: ``DATABASE_URL=postgres://…`` switches to PostgreSQL.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MALOTE_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("MALOTE_SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
DEBUG = os.environ.get("MALOTE_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("MALOTE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

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
    "malote.core",
    "malote.accounts",
    "malote.channels",
    "malote.relay",
    "malote.connectors",
    "malote.stock",
    "malote.orders",
    "malote.sync",
    "malote.notify",
    "malote.api",
    "malote.reconcile",
    "malote.backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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

# Shared by every web worker (failed-login throttling must count across them): the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "malote_cache"}}

LOGIN_URL = "/backoffice/login/"

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MALOTE_LOG_LEVEL", "INFO")},
    # One line per HTTP call is noise at INFO; failures surface through the outbox's last_error.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

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
