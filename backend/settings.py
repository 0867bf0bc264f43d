"""Ronde settings: one module, configured by environment variables (see docs/configuration.md).

The defaults are the embedded profile: SQLite, django-q2 on the ORM broker, local files, e-mail
and SMS captured in the database. Nothing here needs a server.
"""

import secrets
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from backend.env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_list,
    env_rates,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("RONDE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# pytest-django imports this module before any conftest runs, so tests are recognised here.
TESTING = env_bool("RONDE_TESTING", "pytest" in sys.modules)


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once and kept in the data folder."""
    value = env_str("SECRET_KEY")
    if value:
        if len(value) < 40:
            raise ConfigurationError("SECRET_KEY must be at least 40 characters long")
        return value
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Demo mode shows captured messages in the app; `make run` turns it on, production leaves it off.
DEMO_MODE = env_bool("DEMO_MODE", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "pwa",  # django-pwa: the agents' app manifest (its sources are in the project's pwa/ folder)
    "django_q",
    "csp",
    "backend.core",
    "backend.estate",
    "backend.accounts",
    "backend.sync.apps.SyncConfig",
    "messaging.apps.MessagingConfig",
    "inspections.apps.InspectionsConfig",
    "tickets.apps.TicketsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "backend.core.middleware.OrganisationTimezoneMiddleware",
    "backend.core.middleware.ApiMethodNotAllowedMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates", BASE_DIR / "pwa" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "backend.core.context_processors.ronde",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
# SQLite in WAL mode with IMMEDIATE transactions: the web server and the job worker write at
# once without "database is locked" (measured: docs/jobs.md). Do not add PRAGMA busy_timeout
# to init_command, it would override "timeout".
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;",
    "transaction_mode": "IMMEDIATE",
    "timeout": env_int("SQLITE_TIMEOUT", 20, minimum=1),
}
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
except ValueError as exc:
    raise ConfigurationError(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = dict(SQLITE_OPTIONS)
    # A file, not memory: the browser tests' live server answers from several threads.
    _db["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
elif _db["ENGINE"] != "django.db.backends.postgresql":
    raise ConfigurationError("DATABASE_URL must point to SQLite or PostgreSQL")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users, passwords, sessions --------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["backend.accounts.backends.ModelBackendWithOrganisation"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 stays the hasher under test, at its cheapest cost, so the suite stays fast.
    PASSWORD_HASHERS = ["backend.accounts.hashers.FastArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Staff login throttling, after CNIL's deliberation 2022-100 (case 2): a growing delay after
# LOGIN_FREE_FAILURES failures, at most LOGIN_MAX_FAILURES_PER_DAY a day, never a lock for good.
LOGIN_FREE_FAILURES = env_int("LOGIN_FREE_FAILURES", 5, minimum=1)
LOGIN_MAX_FAILURES_PER_DAY = env_int("LOGIN_MAX_FAILURES_PER_DAY", 25, minimum=1)
# The same identifier from any address: a growing delay only (at most 15 minutes), never a
# block, so that guessing spread over many addresses is slowed too.
LOGIN_FREE_FAILURES_PER_IDENTIFIER = env_int("LOGIN_FREE_FAILURES_PER_IDENTIFIER", 20, minimum=1)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Language and time -----------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

# --- Files -----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "backend" / "static", BASE_DIR / "pwa" / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media"))).resolve()
# Uploaded files are never served from a public URL: backend.core.files checks scope first.
MEDIA_URL = "/fichiers/"
FILES_ACCEL = env_choice("FILES_ACCEL", ["", "nginx", "apache"], "")
FILES_ACCEL_PREFIX = env_str("FILES_ACCEL_PREFIX", "/protected-media/")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if TESTING or DEBUG
        else "backend.core.storage.StaticStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(DATA_DIR / "backups"))).resolve()

# --- E-mail and SMS --------------------------------------------------------------------------
EMAIL_TRANSPORT = env_choice("EMAIL_TRANSPORT", ["capture", "smtp"], "capture")
EMAIL_BACKEND = {
    "capture": "messaging.capture.CaptureEmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}[EMAIL_TRANSPORT]
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Ronde <ne-pas-repondre@ronde.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMS_TRANSPORT = env_choice("SMS_TRANSPORT", ["capture", "twilio"], "capture")

# --- Background jobs (backend/jobs.py is the only module that reads these) -----------------
JOBS_BACKEND = env_choice("JOBS_BACKEND", ["q2", "celery"], "q2")
JOBS_MAX_ATTEMPTS = env_int("JOBS_MAX_ATTEMPTS", 5, minimum=1)
# A dispatched job row not reported done after this long is sent again (a worker died).
JOBS_STALE_SECONDS = env_int("JOBS_STALE_SECONDS", 600, minimum=60)
JOBS_RETRY_BASE_SECONDS = env_int("JOBS_RETRY_BASE_SECONDS", 60, minimum=1)
JOBS_EAGER = env_bool("JOBS_EAGER", TESTING)
# django-q2: one worker, no retries of its own (ours are rows with a due time, see jobs.py),
# a timeout above our longest job and a retry above the timeout (recipes.md).
Q_CLUSTER = {
    "name": "ronde",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 1, minimum=1),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 1,
    "ack_failures": True,
    "poll": 0.5,
    "catch_up": False,
    "save_limit": 500,
    "sync": JOBS_EAGER,
    "label": _("Job queue"),
}
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

# --- API -------------------------------------------------------------------------------------
NINJA_PAGINATION_CLASS = "ninja.pagination.LimitOffsetPagination"
NINJA_PAGINATION_PER_PAGE = 100
NINJA_PAGINATION_MAX_LIMIT = 500

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Accessibility statement (RGAA) ----------------------------------------------------------
# Until an RGAA audit is done, French law asks to say "non conforme"; set the status and the
# audit date once an audit has measured the rate.
ACCESSIBILITY_STATUS = env_choice(
    "ACCESSIBILITY_STATUS",
    ["non_conforme", "partiellement_conforme", "totalement_conforme"],
    "non_conforme",
)
ACCESSIBILITY_AUDIT_DATE = env_str("ACCESSIBILITY_AUDIT_DATE", "")
ACCESSIBILITY_CONTACT = env_str("ACCESSIBILITY_CONTACT", "accessibilite@ronde.invalid")
CSRF_FAILURE_VIEW = "backend.core.views.csrf_failure"

# --- Demo data -------------------------------------------------------------------------------
# The password of the demo logins (make run prints them). Demo data only: never a real account.
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "ronde-demo-2026")

# --- SMS -------------------------------------------------------------------------------------
# Price of one SMS segment, for the cost shown before sending (Twilio, France, in euros).
SMS_PRICE_PER_SEGMENT = env_decimal("SMS_PRICE_PER_SEGMENT", "0.0750")
SMS_SENDER_NAME = env_str("SMS_SENDER_NAME", "RONDE")
# Segments per second per sender (Twilio's alphanumeric senders: 10) and e-mails per second.
SMS_RATE_PER_SECOND = env_decimal("SMS_RATE_PER_SECOND", "10")
EMAIL_RATE_PER_SECOND = env_decimal("EMAIL_RATE_PER_SECOND", "20")
MESSAGING_MAX_ATTEMPTS = env_int("MESSAGING_MAX_ATTEMPTS", 6, minimum=1)
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
TWILIO_FROM = env_str("TWILIO_FROM")
TWILIO_TWO_WAY_FROM = env_str("TWILIO_TWO_WAY_FROM")
TWILIO_API_URL = env_str("TWILIO_API_URL")
TWILIO_TIMEOUT = env_int("TWILIO_TIMEOUT", 15, minimum=1)
# The public base URL Twilio calls (https://ronde.example.fr), when a proxy hides it from Django.
TWILIO_WEBHOOK_BASE_URL = env_str("TWILIO_WEBHOOK_BASE_URL")
# Per-sender rates overriding SMS_RATE_PER_SECOND: "36180=30,+33939000001=1,RONDE=10".
SENDER_RATES = env_rates("SENDER_RATES")

# --- Photos and inspections ------------------------------------------------------------------
PHOTO_MAX_BYTES = env_int("PHOTO_MAX_BYTES", 15_000_000, minimum=100_000)
PHOTO_MAX_PIXELS = env_int("PHOTO_MAX_PIXELS", 40_000_000, minimum=1_000_000)
PHOTO_MAX_SIDE = env_int("PHOTO_MAX_SIDE", 1600, minimum=320)
PHOTO_THUMBNAIL_SIDE = env_int("PHOTO_THUMBNAIL_SIDE", 320, minimum=64)
PHOTO_RETENTION_DAYS = env_int("PHOTO_RETENTION_DAYS", 3 * 365, minimum=30)

# --- The tenant extranet (docs/tenants.md) ---------------------------------------------------
# Versions of the texts a tenant accepts; a new version asks again at the next login.
TENANT_TERMS_VERSION = env_str("TENANT_TERMS_VERSION", "2026-11")
TENANT_PRIVACY_VERSION = env_str("TENANT_PRIVACY_VERSION", "2026-11")
TENANT_CONSENT_VERSION = env_str("TENANT_CONSENT_VERSION", "2026-11")
# Lifetimes of the links and codes sent to tenants.
TENANT_VERIFY_HOURS = env_int("TENANT_VERIFY_HOURS", 48, minimum=1)
TENANT_RESET_MINUTES = env_int("TENANT_RESET_MINUTES", 60, minimum=5)
TENANT_CODE_MINUTES = env_int("TENANT_CODE_MINUTES", 10, minimum=1)
TENANT_PROVISIONAL_DAYS = env_int("TENANT_PROVISIONAL_DAYS", 90, minimum=1)
# "Remember me" keeps the session this many days (otherwise it ends with the browser).
TENANT_REMEMBER_DAYS = env_int("TENANT_REMEMBER_DAYS", 30, minimum=1)
# Departure: read-only from the move-out date, deactivated after TENANT_DEACTIVATE_DAYS, the
# account's own data anonymised TENANT_ANONYMISE_DAYS after deactivation. Leases, requests and
# accounting follow their own retention (years after the end of the lease).
TENANT_DEACTIVATE_DAYS = env_int("TENANT_DEACTIVATE_DAYS", 92, minimum=1)
TENANT_ANONYMISE_DAYS = env_int("TENANT_ANONYMISE_DAYS", 30, minimum=0)
TENANT_INACTIVE_WARN_DAYS = env_int("TENANT_INACTIVE_WARN_DAYS", 700, minimum=30)
TENANT_INACTIVE_CLOSE_DAYS = env_int("TENANT_INACTIVE_CLOSE_DAYS", 730, minimum=31)
LEASE_RETENTION_YEARS = env_int("LEASE_RETENTION_YEARS", 3, minimum=1)
REQUEST_RETENTION_YEARS = env_int("REQUEST_RETENTION_YEARS", 3, minimum=1)
ACCOUNTING_RETENTION_YEARS = env_int("ACCOUNTING_RETENTION_YEARS", 10, minimum=1)

# --- Technical requests (docs/tickets.md) -----------------------------------------------------
# Office hours of the agencies ("HH:MM-HH:MM", Monday to Friday, public holidays excepted):
# outside them, urgent requests go to the on-call service.
TICKETS_OFFICE_HOURS = env_str("TICKETS_OFFICE_HOURS", "08:30-17:30")
# Reports of the same category at the same entrance within this many hours are proposed for
# grouping under one incident.
TICKETS_GROUPING_HOURS = env_int("TICKETS_GROUPING_HOURS", 72, minimum=1)
# The tenant's personal link to a request's timeline stays valid this many days.
TICKETS_LINK_DAYS = env_int("TICKETS_LINK_DAYS", 60, minimum=1)
# A satisfaction score is accepted by text message this many days after the closure.
TICKETS_RATING_DAYS = env_int("TICKETS_RATING_DAYS", 14, minimum=1)

# --- The agents' app (django-pwa reads these at import: docs/sync.md) ------------------------
PWA_APP_NAME = "Ronde — terrain"
PWA_APP_DESCRIPTION = "Tournées, contrôles et reprises des agents de proximité, hors ligne."
PWA_APP_START_URL = "/terrain/"
PWA_APP_SCOPE = "/terrain/"
PWA_APP_FETCH_URL = "/terrain/"
PWA_APP_DISPLAY = "standalone"
PWA_APP_ORIENTATION = "portrait"
PWA_APP_THEME_COLOR = "#153f70"
PWA_APP_BACKGROUND_COLOR = "#ffffff"
PWA_APP_LANG = "fr-FR"
PWA_APP_DIR = "ltr"
PWA_APP_DEBUG_MODE = False
PWA_APP_ICONS = [
    {"src": "/static/terrain/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
    {"src": "/static/terrain/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
    {
        "src": "/static/terrain/icons/maskable-512.png",
        "sizes": "512x512",
        "type": "image/png",
        "purpose": "maskable",
    },
]
PWA_APP_ICONS_APPLE = [{"src": "/static/terrain/icons/icon-192.png", "sizes": "192x192"}]
PWA_APP_SPLASH_SCREEN = []
