"""Quorum settings, read from the environment with safe local defaults.

Local default (nothing set): SQLite, Celery eager, console email, DEBUG on.
Production: set DJANGO_DEBUG=false, DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL and
CELERY_BROKER_URL. A production secret that is missing is a loud error, never a silent default.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)


def require_in_production(name: str, purpose: str) -> None:
    """A setting production cannot run without: a loud error naming it, never a silent local default."""
    if not DEBUG and not os.environ.get(name, "").strip():
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is false ({purpose}).")


require_in_production("DATABASE_URL", "PostgreSQL, e.g. postgres://quorum@db:5432/quorum")
require_in_production("CELERY_BROKER_URL", "Redis for the Celery workers, e.g. redis://redis:6379/0")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false.")
    SECRET_KEY = "insecure-local-development-key-never-used-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is false.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "crm",
    "events",
    "elections",
    "portal",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "crm.middleware.StaffSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "crm.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes checks for a lockout before the password is tried; crm.auth_backends explains the subclass.
AUTHENTICATION_BACKENDS = [
    "crm.auth_backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Accounts: two-factor sign-in, lockout, idle sessions (README "Security and operations") ---
# Every staff role (national admins, organisers, reps, scrutineers, superusers) must sign in with a TOTP
# code as well as a password. On by default and in production; the tests switch it off except where
# they are marked `two_factor` (tests/conftest.py).
QUORUM_STAFF_2FA = env_bool("QUORUM_STAFF_2FA", True)
# Staff are signed out after this long without a request; members keep Django's default session.
QUORUM_STAFF_SESSION_IDLE_SECONDS = int(os.environ.get("QUORUM_STAFF_SESSION_IDLE_SECONDS", str(30 * 60)))
OTP_TOTP_ISSUER = os.environ.get("QUORUM_OTP_ISSUER", "Quorum")
# Five wrong passwords for one username from one address lock that pair out for 30 minutes. Locking by
# username alone would let anyone lock a rep out of their account from anywhere.
AXES_FAILURE_LIMIT = int(os.environ.get("QUORUM_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("QUORUM_LOCKOUT_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a reverse proxy, REMOTE_ADDR is the proxy: say how many proxies to trust (crm.auth_backends.client_ip).
QUORUM_TRUSTED_PROXIES = int(os.environ.get("QUORUM_TRUSTED_PROXIES", "0"))
AXES_CLIENT_IP_CALLABLE = "crm.auth_backends.client_ip"
AXES_USERNAME_CALLABLE = "crm.auth_backends.lockout_username"

# --- Content security policy (django-csp): nothing inline may run, nothing from elsewhere is loaded. ---
# style-src allows 'unsafe-inline' because the charts size their bars with style attributes
# (templates/crm/_density_chart.html); a style attribute cannot run code. Scripts stay strict.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Email: console locally; any Django backend in production (SMTP or a provider's).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Quorum <no-reply@localhost>")
# SMS, chosen like EMAIL_BACKEND: console locally, crm.sms.locmem.SmsBackend in tests,
# crm.sms.twilio.SmsBackend in production, crm.sms.filebased.SmsBackend (SMS_FILE_PATH) to share across processes.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "crm.sms.console.SmsBackend")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", "")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
if SMS_BACKEND == "crm.sms.twilio.SmsBackend" and not DEBUG and not TWILIO_AUTH_TOKEN:
    raise ImproperlyConfigured("TWILIO_AUTH_TOKEN must be set to send texts through Twilio.")
# The public address of this site, for links in messages (unsubscribe) and for checking Twilio's signatures.
QUORUM_SITE_URL = os.environ.get("QUORUM_SITE_URL", "http://localhost:8000")
# Outreach: messages per second per channel across all workers (0: no limit), SMS quiet hours (UK time),
# the price of one SMS segment in pence for cost estimates, and the replies to HELP and STOP.
OUTREACH_RATE_PER_SECOND = {
    "sms": float(os.environ.get("SMS_RATE_PER_SECOND", "10")),
    "email": float(os.environ.get("EMAIL_RATE_PER_SECOND", "20")),
}
SMS_QUIET_HOURS = (int(os.environ.get("SMS_QUIET_FROM_HOUR", "21")), int(os.environ.get("SMS_QUIET_UNTIL_HOUR", "8")))
SMS_PRICE_PER_SEGMENT_PENCE = float(os.environ.get("SMS_PRICE_PER_SEGMENT_PENCE", "4"))
SMS_HELP_REPLY = os.environ.get(
    "SMS_HELP_REPLY", "Quorum union texts. Reply STOP to stop all texts, START to get them again."
)
SMS_STOP_REPLY = os.environ.get("SMS_STOP_REPLY", "You will get no more texts from us. Reply START to opt back in.")
SMS_START_REPLY = os.environ.get("SMS_START_REPLY", "You will get our texts again. Reply STOP to stop them.")
# Messages per fan-out task, and how long a message may stay "sending" before recovery looks at it.
OUTREACH_CHUNK_SIZE = int(os.environ.get("OUTREACH_CHUNK_SIZE", "200"))
# Messages a worker claims (marks "sending") and records together: fewer commits, and at most this many
# left "sending" if the worker dies mid-batch.
OUTREACH_CLAIM_BATCH = int(os.environ.get("OUTREACH_CLAIM_BATCH", "20"))
OUTREACH_STALLED_AFTER_SECONDS = int(os.environ.get("OUTREACH_STALLED_AFTER_SECONDS", "600"))
OUTREACH_EVENT_DAYS = int(os.environ.get("OUTREACH_EVENT_DAYS", "90"))
# Email delivery and bounce reports through django-anymail's tracking webhooks (/anymail/<esp>/tracking/),
# protected by HTTP basic auth with this "user:password" secret.
ANYMAIL = {"WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "")}

# Celery: eager in-process unless a broker is named, so the local default needs nothing running.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The send rate is held in Redis (the broker's) so every worker shares it; without Redis, per process.
OUTREACH_RATE_LIMIT_REDIS_URL = os.environ.get(
    "OUTREACH_RATE_LIMIT_REDIS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Fixed schedules, so a plain beat schedule in code (no django-celery-beat tables to keep in step).
CELERY_BEAT_SCHEDULE = {
    "take-membership-snapshot": {
        "task": "crm.tasks.take_membership_snapshot",
        "schedule": 60 * 60 * 6,
    },
    "lapse-members-past-grace": {
        "task": "crm.tasks.lapse_members_past_grace",
        "schedule": 60 * 60 * 6,
    },
    "outreach-release-due": {"task": "crm.tasks.release_due_outreach", "schedule": 60},
    "outreach-recover-stalled": {"task": "crm.tasks.recover_stalled_sends", "schedule": 5 * 60},
    "outreach-clean-up": {"task": "crm.tasks.clean_up_outreach", "schedule": 24 * 60 * 60},
    # Event reminders a day ahead and no-shows after an event: each task does its work once, however often run.
    "send-event-reminders": {"task": "events.tasks.send_due_reminders", "schedule": 60 * 15},
    "record-event-no-shows": {"task": "events.tasks.record_due_no_shows", "schedule": 60 * 60},
    # Elections close on time even if nobody presses the button.
    "close-due-elections": {"task": "elections.tasks.close_due_elections", "schedule": 60},
    "open-due-elections": {"task": "elections.tasks.open_due_elections", "schedule": 60},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "api.schema.QuorumAutoSchema",
    # Per signed-in user, and per API token (scripts), on top of the token endpoint's own limit. The rates
    # are read on each request (api.throttling), so they can be changed here or in the environment.
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserThrottle", "api.throttling.TokenThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api-user": os.environ.get("QUORUM_API_USER_RATE", "600/minute"),
        "api-token-client": os.environ.get("QUORUM_API_TOKEN_RATE", "300/minute"),
        "api-token": os.environ.get("QUORUM_API_LOGIN_RATE", "10/minute"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": "Members, structure and positions of the union, within the caller's scope.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CampaignChannelEnum": "crm.models.outreach.Campaign.Channel",
        "CampaignStatusEnum": "crm.models.outreach.Campaign.Status",
        "MessageChannelEnum": "crm.models.messages.Message.Channel",
        "MessageStatusEnum": "crm.models.messages.Message.Status",
        "MemberStatusEnum": "crm.models.Member.Status",
    },
}

# Production hardening: on whenever DEBUG is off.
if not DEBUG:
    # Static files served by the app itself (runserver does it in development).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# Logs go to standard output; in production one JSON object a line (config.logs.JsonFormatter), so the
# log collector can search by field. LOG_FORMAT=json or =text overrides the choice.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes logs every sign-in at INFO; lockouts (WARNING) are what matter, and the security log has the rest.
    "loggers": {"axes": {"level": "WARNING"}},
}

# Dues through Stripe (crm.payments). Without STRIPE_SECRET_KEY the project runs and joining records
# applicants; STRIPE_API_BASE points the library elsewhere (tests run it against localstripe).
PAYMENTS_BACKEND = os.environ.get("PAYMENTS_BACKEND", "crm.payments.stripe.PaymentsBackend")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
if not DEBUG and STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY: dues are kept by webhooks.")
# Days a member may be in arrears before the periodic task lapses them.
DUES_GRACE_DAYS = int(os.environ.get("QUORUM_DUES_GRACE_DAYS", "30"))

# The phone region assumed for numbers written without a country code.
DEFAULT_PHONE_REGION = os.environ.get("QUORUM_PHONE_REGION", "GB")

# Data protection (README "Data protection"; docs/dpia.md and docs/ropa.md). The union is the controller.
QUORUM_UNION_NAME = os.environ.get("QUORUM_UNION_NAME", "the union")
# Retention rules, run daily by crm.tasks.apply_retention (and `manage.py retention --dry-run` to preview).
# 0 turns a rule off. The audit trail and the equalities read log are kept: they are the record of who did what.
RETENTION_LEFT_MEMBER_YEARS = int(os.environ.get("QUORUM_RETENTION_LEFT_MEMBER_YEARS", "6"))
RETENTION_MESSAGE_BODY_MONTHS = int(os.environ.get("QUORUM_RETENTION_MESSAGE_BODY_MONTHS", "6"))
RETENTION_INBOUND_TEXT_MONTHS = int(os.environ.get("QUORUM_RETENTION_INBOUND_TEXT_MONTHS", "6"))
RETENTION_IMPORT_FILE_DAYS = int(os.environ.get("QUORUM_RETENTION_IMPORT_FILE_DAYS", "30"))
RETENTION_SECURITY_LOG_MONTHS = int(os.environ.get("QUORUM_RETENTION_SECURITY_LOG_MONTHS", "24"))
RETENTION_STRIPE_PAYLOAD_MONTHS = int(os.environ.get("QUORUM_RETENTION_STRIPE_PAYLOAD_MONTHS", "24"))
CELERY_BEAT_SCHEDULE["apply-retention"] = {"task": "crm.tasks.apply_retention", "schedule": 24 * 60 * 60}
