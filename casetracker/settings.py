"""Settings, read from the environment (django-environ).

With nothing set, the app runs embedded: a SQLite file database, Celery in eager mode and emails
printed to the console. `DATABASE_URL` switches to PostgreSQL, `REDIS_URL` to a real broker.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Production: HTTPS only, secure cookies, HSTS, and a secret key of its own (checked in CI with
# `manage.py check --deploy`). Off for `make run` and the tests, served over plain HTTP locally.
PRODUCTION = env.bool("DJANGO_PRODUCTION", default=False)
INSECURE_DEFAULT_KEY = "insecure-embedded-default-change-me"
# The embedded default key only serves `make run` and the tests; production must set its own.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEFAULT_KEY)
if PRODUCTION and SECRET_KEY == INSECURE_DEFAULT_KEY:
    raise ImproperlyConfigured("DJANGO_PRODUCTION is set: set DJANGO_SECRET_KEY too")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    # django.contrib.admin, its site refusing sessions without the second factor.
    "casetracker.accounts.twofactor.admin_site.TwoFactorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "casetracker.accounts",
    "casetracker.accounts.twofactor",
    "casetracker.audit",
    "casetracker.notifications",
    "patients",
    "batches",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before the host check, the HTTPS redirect and the session.
    "casetracker.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # NUL characters and oversized bodies refused before anything reads them.
    "casetracker.input_guard.InputGuardMiddleware",
    # HTML and JSON leave compressed (static files already are, by WhiteNoise). Django's gzip
    # pads each answer with random bytes against BREACH, and CSRF tokens are masked per answer.
    "django.middleware.gzip.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's own language wins over the browser's (the switch changes it).
    "casetracker.accounts.language.UserLanguageMiddleware",
    "casetracker.accounts.sessions.SessionLifetimeMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Holds a signed-in session that has not passed the second factor on the two-factor pages.
    "casetracker.accounts.twofactor.middleware.TwoFactorMiddleware",
    # Who may use which page and admin route: the table in casetracker/accounts/policy.py.
    "casetracker.accounts.permissions.RoutePolicyMiddleware",
    "casetracker.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "casetracker.audit.middleware.AuditContextMiddleware",
    # Last: turns a sign-in refused for lockout into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "casetracker.urls"
WSGI_APPLICATION = "casetracker.wsgi.application"
ASGI_APPLICATION = "casetracker.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "casetracker.notifications.context_processors.notifications",
                "casetracker.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = env.str("SQLITE_PATH", default=str(BASE_DIR / "casetracker.sqlite3"))
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets a Celery worker thread read while the web thread writes; IMMEDIATE takes the write
    # lock at BEGIN so concurrent writers wait instead of failing halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not :memory:, so a worker thread in the tests sees the same database; one per
    # process, so two test runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"casetracker-test-{os.getpid()}.sqlite3")
    }
else:
    # One test database per process: two test runs against one server do not clash.
    DATABASES["default"]["TEST"] = {"NAME": f"test_casetracker_{os.getpid()}"}
    # Persistent connections: opening one per request cost 10-24 % of a web worker's time.
    # Each is checked before a request reuses it, so a restarted server costs a reconnect, not
    # an error. The tests close them (tests/conftest.py).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # An unreachable server fails a request (and /readyz) in seconds, not after TCP's minutes.
    _options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT_SECONDS", default=5))
    # No statement runs longer than this (0: no limit): a runaway query answers an error instead
    # of holding a web worker and a connection. `make serve` migrates without it.
    _timeout = env.int("DB_STATEMENT_TIMEOUT_MS", default=30_000)
    _options["options"] = f"{_options.get('options', '')} -c statement_timeout={_timeout}".strip()
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "casetracker.accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout: AXES_FAILURE_LIMIT wrong passwords for one username from one address lock that pair
# for AXES_COOLOFF_MINUTES (per pair, so nobody can lock a nurse out from elsewhere).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failed sign-in, kept in the admin
AXES_LOCKOUT_TEMPLATE = "accounts_locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None
# Argon2 for new and changed passwords; older PBKDF2 hashes are upgraded at the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # ASVS 2.1.1 and 2.1.2: 12 to 128 characters.
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "casetracker.accounts.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# Idle timeout (a request pushes the expiry ahead, at most once a minute: saving the session on
# every request costs each page three round trips) and an absolute lifetime from sign-in.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_REFRESH_SECONDS = 60
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script of ours reads it; forms carry the token
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env.bool("BEHIND_TLS_PROXY", default=False):
        # The proxy terminates TLS and says so in this header.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# Only this origin, and inline <script>/<style> only with the per-response nonce
# (`nonce="{{ request.csp_nonce }}"`): an injected tag or style="" attribute does not run, and
# no page may load from a CDN or be framed. Inline style attributes are refused too, so pages
# use classes and the charts SVG presentation attributes. Per-view relaxations sit next to the
# view's URL (casetracker/urls.py), never here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Two-factor sign-in (django-otp) --------------------------------------------------------
# Every staff sign-in needs a code from an authenticator app (or a single-use backup code) after
# the password. Production always requires it; `make run` and the tests may turn it off, and
# every page then says so (see casetracker/accounts/twofactor/).
TWO_FACTOR_REQUIRED = env.bool("TWO_FACTOR_REQUIRED", default=PRODUCTION)
if PRODUCTION and not TWO_FACTOR_REQUIRED:
    raise ImproperlyConfigured(
        "TWO_FACTOR_REQUIRED=false is refused under DJANGO_PRODUCTION: production always "
        "requires two-factor sign-in; remove TWO_FACTOR_REQUIRED or set it to true"
    )
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Evacuation case tracker")
# A wrong code is recorded by django-axes with the request: keep the code out of that record.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]

# --- Languages ------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Day-first dates and 24-hour times in both languages (casetracker/formats/).
FORMAT_MODULE_PATH = ["casetracker.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Gaza")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Every asset is served by the app itself (no CDN), from STATIC_ROOT, filled by `collectstatic`
# (`make static`, run by `make run` and `make test`): names carry a hash of the content, so
# browsers keep them for a year, and WhiteNoise serves them pre-compressed.
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Domain rules ---------------------------------------------------------------------------
MAX_COMPANIONS_PER_PATIENT = env.int("MAX_COMPANIONS_PER_PATIENT", default=2)
ADULT_AGE = 18
# How many days before it is recorded a registration may say it happened (`occurred_at`): its
# time is the case's place in the queue. A week without a connection; raise it for the time of
# an import of older lists.
REGISTRATION_BACKDATE_DAYS = env.int("REGISTRATION_BACKDATE_DAYS", default=7)

# --- REST API -------------------------------------------------------------------------------
# The largest form or JSON body (Django's own setting, 2.5 MB by default) and the largest file
# upload; both answer 413 beyond (casetracker/input_guard.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# No API body nests deeper than a few levels; far deeper JSON is refused (a 400) before the
# decoder's recursion can exhaust the stack.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)

# --- Imports of spreadsheets (patients/imports) ---------------------------------------------
# The largest file and the most data rows one import takes; an XLSX is a zip archive, refused
# before it is opened when its parts would unpack to more than IMPORT_MAX_UNPACKED_BYTES or it
# holds more than IMPORT_MAX_ARCHIVE_MEMBERS parts (a "zip bomb").
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=25_000)
IMPORT_MAX_UNPACKED_BYTES = env.int("IMPORT_MAX_UNPACKED_BYTES", default=200 * 1024 * 1024)
IMPORT_MAX_ARCHIVE_MEMBERS = env.int("IMPORT_MAX_ARCHIVE_MEMBERS", default=200)
# An uploaded list waits this long for its confirmation on the field screens, encrypted; the
# beat deletes it after (patients/imports/pending.py).
PENDING_IMPORT_HOURS = env.float("PENDING_IMPORT_HOURS", default=2.0)
PENDING_IMPORT_PURGE_SECONDS = env.int("PENDING_IMPORT_PURGE_SECONDS", default=15 * 60)

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "casetracker.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "casetracker.accounts.sessions.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["casetracker.accounts.permissions.RolePermission"],
    # django-filter, refusing a yes/no filter it cannot read instead of ignoring it.
    "DEFAULT_FILTER_BACKENDS": ["casetracker.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "casetracker.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "casetracker.api.exceptions.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Evacuation case tracker API",
    "DESCRIPTION": "Patients, companions, referrals, returnees and crossing batches.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["casetracker.accounts.permissions.RolePermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge image from the public validator: the CSP allows no third-party origin.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the 400/401/403/404/409/429 answers it can give, added in one
    # hook; tests/api/test_schemathesis.py holds the API to the schema.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "casetracker.schema.document_error_answers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": "batches.models.BatchStatus",
        "CancelReasonEnum": "batches.models.CancelReason",
        "InformationSourceEnum": "batches.models.InformationSource",
        "ClearanceEnum": "batches.models.Clearance",
        # What a vetting decision records (one line, or many at once): approved or rejected.
        "ClearanceDecisionEnum": "batches.api.serializers.CLEARANCE_DECISIONS",
        "OutcomeEnum": "batches.models.Outcome",
        "PatientStatusEnum": "patients.models.PatientStatus",
        "ReferralStatusEnum": "patients.models.ReferralStatus",
        "ReturneeStatusEnum": "patients.models.ReturneeStatus",
        "NotificationStatusEnum": "casetracker.notifications.models.NotificationStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------------
from casetracker.notifications import queues as _queues  # noqa: E402  (with the Celery block)

REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="casetracker")
# The slow channels (SMS, webhooks) on queues of their own; a worker without -Q reads them all.
CELERY_TASK_QUEUES = _queues.celery_queues(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = _queues.task_routes(CELERY_TASK_DEFAULT_QUEUE)
# Tasks outside the apps' tasks.py modules.
CELERY_IMPORTS = ["casetracker.health"]
# Above the longest retry backoff (a system check says so), or a late-acked task waiting for its
# retry would be handed to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# --- Notifications --------------------------------------------------------------------------
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=6)
# Backoff before attempt n+1: a random time between half and all of base * 2**(n-1), capped.
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=30.0)
NOTIFICATION_RETRY_MAX_SECONDS = env.float("NOTIFICATION_RETRY_MAX_SECONDS", default=30 * 60.0)
# The sweeper (Celery beat) re-queues rows still pending this long after they were due: a broker
# outage at commit time, or a lost retry, delays a notification but never loses it.
NOTIFICATION_SWEEP_INTERVAL_SECONDS = env.float("NOTIFICATION_SWEEP_INTERVAL_SECONDS", default=60.0)
NOTIFICATION_SWEEP_AFTER_SECONDS = env.float("NOTIFICATION_SWEEP_AFTER_SECONDS", default=120.0)
NOTIFICATION_HTTP_TIMEOUT_SECONDS = env.float("NOTIFICATION_HTTP_TIMEOUT_SECONDS", default=10.0)
# Coordinators see an alert on every page for notifications that failed in this many days.
NOTIFICATION_ALERT_DAYS = env.int("NOTIFICATION_ALERT_DAYS", default=7)
# Who hears of each batch transition. Audiences: coordinators, staging_staff (hospital staff of
# the staging facility), auditors, patients_sms (patients on the batch who gave a phone number
# and consented). Partner webhooks choose their event types in the admin. Override one action
# with e.g. NOTIFY_CANCEL=coordinators,auditors.
_STAFF = ["coordinators", "staging_staff"]
NOTIFICATION_AUDIENCES = {
    action: env.list(f"NOTIFY_{action.upper()}", default=default)
    for action, default in {
        "prepare": _STAFF,
        "reopen": _STAFF,
        "submit": _STAFF,
        "clear": [*_STAFF, "patients_sms"],
        "depart": _STAFF,
        "cross": _STAFF,
        "cancel": [*_STAFF, "auditors", "patients_sms"],
        "reschedule": _STAFF,
        # A later statement about a batch or its cancellation (batches/services/statements.py):
        # the coordinators and the auditors, who reconstruct cancellations.
        "statement": ["coordinators", "auditors"],
    }.items()
}
# SMS through an HTTP provider (contract in the README); without a URL no SMS is written.
SMS_PROVIDER_URL = env.str("SMS_PROVIDER_URL", default="")
SMS_PROVIDER_TOKEN = env.str("SMS_PROVIDER_TOKEN", default="")
SMS_SENDER = env.str("SMS_SENDER", default="RafahCT")
# Reads of personal data are chained in this many access lanes, so that concurrent readers
# never wait for one another (casetracker/audit/models.py AccessLane): more than the requests
# the whole deployment serves at once. The lanes' heads are sealed into the main chain every
# AUDIT_SEAL_INTERVAL_SECONDS by the beat.
AUDIT_ACCESS_LANES = env.int("AUDIT_ACCESS_LANES", default=32)
AUDIT_SEAL_INTERVAL_SECONDS = env.int("AUDIT_SEAL_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-notifications": {
        "task": "casetracker.notifications.tasks.sweep_pending_notifications",
        "schedule": NOTIFICATION_SWEEP_INTERVAL_SECONDS,
    },
    "seal-access-log": {
        "task": "casetracker.audit.tasks.seal_access_log",
        "schedule": AUDIT_SEAL_INTERVAL_SECONDS,
    },
    "purge-expired-imports": {
        "task": "patients.tasks.purge_expired_imports",
        "schedule": PENDING_IMPORT_PURGE_SECONDS,
    },
}

# /readyz (casetracker/health.py): beat sends a heartbeat to each queue; whichever worker reads
# the queue records it. Older than HEALTH_WORKER_MAX_AGE_SECONDS, or a sweeper's last run older
# than HEALTH_SWEEPER_MAX_AGE_SECONDS, and readyz answers 503.
HEALTH_HEARTBEAT_SECONDS = env.float("HEALTH_HEARTBEAT_SECONDS", default=30.0)
HEALTH_WORKER_MAX_AGE_SECONDS = env.float(
    "HEALTH_WORKER_MAX_AGE_SECONDS", default=4 * HEALTH_HEARTBEAT_SECONDS
)
HEALTH_SWEEPER_MAX_AGE_SECONDS = env.float(
    "HEALTH_SWEEPER_MAX_AGE_SECONDS", default=3 * NOTIFICATION_SWEEP_INTERVAL_SECONDS
)
# Likewise the last sealing of the access log's lanes (it runs even when nothing was read).
HEALTH_SEALER_MAX_AGE_SECONDS = env.float(
    "HEALTH_SEALER_MAX_AGE_SECONDS", default=3 * AUDIT_SEAL_INTERVAL_SECONDS
)
CELERY_BEAT_SCHEDULE.update(
    {
        f"worker-heartbeat-{queue}": {
            "task": "casetracker.health.record_worker_heartbeat",
            "schedule": HEALTH_HEARTBEAT_SECONDS,
            "args": (queue,),
            # A heartbeat that waited longer than the next one proves nothing more.
            "options": {"queue": queue, "expires": HEALTH_HEARTBEAT_SECONDS},
        }
        for queue in _queues.queue_names(CELERY_TASK_DEFAULT_QUEUE)
    }
)

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="case-tracker@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)

# --- Logging and error reports --------------------------------------------------------------
# No personal data in logs: database errors quote row values (PostgreSQL's DETAIL), so every
# record is redacted where it is created (casetracker/logging.py), whichever handler prints it;
# error reports show no POST value and no local variable.
LOGGING_CONFIG = "casetracker.logging.configure"
DEFAULT_EXCEPTION_REPORTER_FILTER = "casetracker.logging.PersonalDataReporterFilter"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "casetracker.logging.RedactPersonalData"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        # Sends only when ADMINS is set.
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replaces Django's default handlers for "django" (its own console handler would print
        # every line twice under DEBUG, and its mail handler had no redaction).
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # One line per delivered task drowns the development server log.
        "celery.app.trace": {"level": "WARNING"},
    },
}
# Only people who left after the war began may come back (DESIGN section 1).
RETURN_ELIGIBLE_LEFT_AFTER = env.str("RETURN_ELIGIBLE_LEFT_AFTER", default="2023-10-07")

# --- Field encryption: national IDs (casetracker/crypto.py, README "Encryption keys") -------
# FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys; the first encrypts, all decrypt (rotation).
# FIELD_HASH_KEY: the HMAC key of the lookup hash; FIELD_HASH_KEY_PREVIOUS only while rotating it.
# The embedded defaults serve `make run` and the tests; production refuses them.
from casetracker import crypto as _crypto  # noqa: E402  (the block stays in one place)

FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=[_crypto.INSECURE_DEFAULT_ENCRYPTION_KEY]
)
FIELD_HASH_KEY = env.str("FIELD_HASH_KEY", default=_crypto.INSECURE_DEFAULT_HASH_KEY)
FIELD_HASH_KEY_PREVIOUS = env.str("FIELD_HASH_KEY_PREVIOUS", default="")
_crypto.check_keys(
    encryption_keys=FIELD_ENCRYPTION_KEYS,
    hash_key=FIELD_HASH_KEY,
    hash_key_previous=FIELD_HASH_KEY_PREVIOUS,
    production=PRODUCTION,
)
# AUDIT_TEXT_KEY: the HMAC key of the free texts of the audit log, whose digest the hash chain
# holds (README "Audit log"); AUDIT_TEXT_KEYS_PREVIOUS: keys replaced after a leak, still
# checked by `verify_audit_log` (the digests chained under them stay). Production refuses the
# embedded default.
AUDIT_TEXT_KEY = env.str("AUDIT_TEXT_KEY", default=_crypto.INSECURE_DEFAULT_AUDIT_TEXT_KEY)
AUDIT_TEXT_KEYS_PREVIOUS = env.list("AUDIT_TEXT_KEYS_PREVIOUS", default=[])
_crypto.check_audit_text_keys(
    key=AUDIT_TEXT_KEY,
    previous=AUDIT_TEXT_KEYS_PREVIOUS,
    other_keys=[*FIELD_ENCRYPTION_KEYS, FIELD_HASH_KEY, FIELD_HASH_KEY_PREVIOUS],
    production=PRODUCTION,
)

# --- Benchmark (`make bench`) -----------------------------------------------------------------
# Bare DRF views over the same tables (bench/bare.py), served under /bench/bare/ beside the real
# endpoints so the benchmark measures each against them in the same run. Never in production.
BENCH_BARE_VIEWS = env.bool("BENCH_BARE_VIEWS", default=False)
if PRODUCTION and BENCH_BARE_VIEWS:
    raise ImproperlyConfigured("BENCH_BARE_VIEWS serves the benchmark only: unset it in production")
