"""One settings module, driven by the environment (healthchecks style).

Defaults are safe and runnable: SQLite under ./var, DEBUG off unless TOUCHUP_DEV=1,
a secret key generated once into a 0600 file. PostgreSQL through DATABASE_URL.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("TOUCHUP_DATA_DIR", Path.cwd() / "var")).resolve()


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def envcount(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number (0, 1, 2 ...), not {value!r}")
    return int(value)


def envsecret(name: str) -> str | None:
    """A secret from NAME, or from the file NAME_FILE points at (Docker/k8s secrets)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


def _generated_secret_key() -> str:
    # Never a hard-coded key: generate one on first start and keep it beside the data.
    # Two processes may start at once on a new install (web server and worker; CI's two test
    # stages): the key is written to a private file first and linked into place, which
    # either succeeds whole or finds the other's complete key. Nobody reads a half-written one.
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(dir=DATA_DIR, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process won: use its key
    finally:
        os.unlink(draft)
    return key_file.read_text().strip()


DEBUG = envbool("TOUCHUP_DEV", False)
SECRET_KEY = envsecret("SECRET_KEY") or _generated_secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
if envbool("TOUCHUP_TESTING", False):
    ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # its own copy of Swagger UI for /api/docs: no CDN, no inline script (CSP)
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tasks",
    "django_tasks_db",
    "touchup.clinic",
    "touchup.web",
    "touchup.portal",
    "touchup.maintenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so static files carry the policies too.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Deny by default: every HTML view needs a login unless it says otherwise.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "touchup.clinic.signout.ClearSiteDataOnSignOutMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "touchup.clinic.middleware.RequestContextMiddleware",
    # Idle and absolute session timeouts (touchup/clinic/idle.py); before the
    # two-step gate, so an idle session is signed out rather than sent to the setup.
    "touchup.clinic.idle.IdleTimeoutMiddleware",
    "touchup.web.middleware.TwoStepGateMiddleware",  # the clinic's two-step sign-in policy
]

ROOT_URLCONF = "touchup.urls"
WSGI_APPLICATION = "touchup.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Listed first so touchup.web's overrides of allauth's templates win (allauth comes
        # earlier in INSTALLED_APPS, and app directories are searched in that order).
        "DIRS": [BASE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "touchup.web.context.staff",
                "touchup.portal.context.clinic_contact",
            ],
        },
    },
]

# SQLite by default, tuned for health records: WAL with synchronous=FULL so a committed
# transaction survives power loss, IMMEDIATE transactions so writers queue on the busy
# handler instead of failing on lock upgrade.
_sqlite_path = DATA_DIR / "touchup.sqlite3"
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite_path,
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                    "PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 10,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_ADAPTER = "touchup.clinic.accounts.ClosedSignupAdapter"
# Subjects name the clinic themselves (templates/account/email/*_subject.txt), not "[host]".
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
# Two-step sign-in with an authenticator app, set up from the portal's settings (patients,
# optional) or "Your account" (staff; required when their clinic's manager says so).
# Once set up, every sign-in asks for the code.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Touchup"
# A code is accepted for one 30-second step either side of the server's clock (RFC 6238
# section 5.2 allows one step for delay): a code typed as it rolls over, or a phone clock a
# few seconds off, otherwise reads "Incorrect code". allauth refuses a code used once for the
# whole window.
MFA_TOTP_TOLERANCE = 1

# Sessions: 12 h absolute lifetime, cookie gone with the browser.
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = envbool("TOUCHUP_HTTPS", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Security headers: docs/security.md, "Headers". Scripts and styles only from our own
# static files (no inline code, no CDN); images and video also from blobs the photo
# capture page makes in memory.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"], "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"], "object-src": ["'none'"], "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"], "form-action": ["'self'"],
    }
}
# No page uses these; the photo capture page alone turns the camera on (web/views/photos.py).
# Only features Chromium knows: it warns about any other name on every page ("bluetooth" did).
PERMISSIONS_POLICY = {
    feature: [] for feature in (
        "camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "midi",
        "display-capture", "accelerometer", "gyroscope", "magnetometer", "browsing-topics",
    )
}
# HTTPS (TOUCHUP_HTTPS=1): redirect plain http (not /health/, which local monitors call on
# the server's own port), and HSTS for a year, subdomains too. A TLS proxy in front must
# set X-Forwarded-Proto (replacing the client's), or the redirect loops.
if envbool("TOUCHUP_HTTPS", False):
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TOUCHUP_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Photos live here and are never served from a public URL: only through the
        # access-checked, audited view.
        "OPTIONS": {"location": DATA_DIR / "media", "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Background tasks: in the database by default (`touchup worker` runs them). At scale, in
# Redis through RQ (django-tasks-rq, the `redis` extra): TOUCHUP_TASKS_REDIS_URL (or
# TOUCHUP_TASKS_REDIS_URL_FILE) switches every task to it, and `touchup worker` then runs
# an RQ worker for them. Unset, nothing about Redis is imported. See docs/maintenance.md.
TASKS_REDIS_URL = envsecret("TOUCHUP_TASKS_REDIS_URL")
if TASKS_REDIS_URL:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("django_tasks_db") + 1, "django_rq")
    # RQ kills a job that runs past its timeout (the database worker has no limit): an hour
    # leaves room for recomputing a large clinic's forecasts.
    RQ_QUEUES = {"default": {"URL": TASKS_REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
    # Jobs run in the worker's own process, as the database worker runs them: RQ's forking
    # worker starts each job in a fresh child that loads the face-landmark model again
    # (a photo analysis took 0.8-1.1 s instead of 0.06 s; docs/maintenance.md).
    RQ = {"WORKER_CLASS": "rq.worker.SimpleWorker"}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "clinic@touchup.invalid")
# With EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend: the clinic's mail
# provider (healthchecks style), the password from EMAIL_HOST_PASSWORD or its _FILE.
EMAIL_HOST = os.environ.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = int(os.environ.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)  # TLS from the start, usually port 465
EMAIL_TIMEOUT = 30  # a hung mail server must not hold a worker pass for ever

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Request logging never carries patient data: URLs use opaque ids, not names.
    "root": {"handlers": ["console"], "level": os.environ.get("TOUCHUP_LOG_LEVEL", "WARNING")},
}

# Sign-in and sessions (docs/security.md "Sign-in and sessions").
# Signed out after this many minutes without activity (background polling does not
# count): staff share clinic screens; patients are on their own phone, filling in longer
# forms. SESSION_COOKIE_AGE stays the absolute lifetime, counted from signing in.
TOUCHUP_IDLE_MINUTES = int(os.environ.get("TOUCHUP_IDLE_MINUTES") or 15)
TOUCHUP_PORTAL_IDLE_MINUTES = int(os.environ.get("TOUCHUP_PORTAL_IDLE_MINUTES") or 30)
# Failed sign-ins, counted per IP and per typed username (allauth's rate limits; a locked
# sign-in answers 429 and is audited once per lockout). The MFA code step counts the same.
# Behind TLS proxies every request comes from the proxy's address. TOUCHUP_TRUSTED_PROXIES
# is how many proxies of the clinic's own stand in front, each appending to
# X-Forwarded-For; the client is then the entry the outermost one wrote
# (touchup/clinic/client_ip.py). 0, the default, ignores the header: anyone can send it.
ALLAUTH_TRUSTED_PROXY_COUNT = envcount("TOUCHUP_TRUSTED_PROXIES", 0)
ACCOUNT_RATE_LIMITS = {
    "login_failed": os.environ.get("TOUCHUP_LOGIN_FAILED_LIMITS") or "10/m/ip,5/5m/key,10/15m/key",
}
# The rate limits and the used-TOTP-code memory live in Django's cache, so it must be
# shared by every process of the web server: a table in the database (created after each
# migrate, touchup/clinic/apps.py), not the default per-process memory.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "touchup_cache",
        # Culling drops entries once the table is full; lockouts must not be culled by a
        # flood of made-up usernames.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
