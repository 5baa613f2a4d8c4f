"""Configuration from the environment only; no variable set means the embedded default."""

import json
import os
import secrets
from pathlib import Path


def _flag(name, default=False):
    value = os.environ.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


def _secret_key(instance):
    """SECRET_KEY, or one kept in the instance folder so an embedded restart keeps sessions."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    def __init__(self, given=None):
        """Settings from the environment; `given` (tests) wins over it for the instance and key."""
        env = os.environ.get
        given = given or {}
        instance = Path(given.get("INSTANCE_DIR") or env("OCKTOREIS_INSTANCE") or Path.cwd() / "instance")
        self.INSTANCE_DIR = str(instance)
        self.SECRET_KEY = given.get("SECRET_KEY") or _secret_key(instance)
        self.PUBLIC_URL = env("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
        self.DATABASE_URL = env("DATABASE_URL", f"sqlite:///{instance / 'ocktoreis.db'}")
        self.REDIS_URL = env("REDIS_URL")  # unset: live events stay inside this process
        # An open event stream writes a heartbeat this often: a closed page is then released.
        self.SSE_HEARTBEAT_S = float(env("SSE_HEARTBEAT_S", "15"))

        # Mail: with MAIL_SERVER unset, mail lands in OUTBOX_DIR as .eml files.
        self.MAIL_SERVER = env("MAIL_SERVER")
        self.MAIL_PORT = int(env("MAIL_PORT", "25"))
        self.MAIL_USE_TLS = _flag("MAIL_USE_TLS")
        self.MAIL_USE_SSL = _flag("MAIL_USE_SSL")
        self.MAIL_USERNAME = env("MAIL_USERNAME")
        self.MAIL_PASSWORD = env("MAIL_PASSWORD")
        self.MAIL_DEFAULT_SENDER = env("MAIL_DEFAULT_SENDER",
                                       "Gezondverzekerd.nl <noreply@gezondverzekerd.nl>")
        self.OUTBOX_DIR = env("OUTBOX_DIR", str(instance / "outbox"))

        # Outside systems: each is reached over HTTP; by default the simulators in this app.
        self.SIMULATORS = _flag("SIMULATORS", True)
        # DigiD is browser-facing: unset, the phone goes to this app's simulator on the
        # host it already uses, and the back channel goes to PUBLIC_URL.
        self.DIGID_URL = (env("DIGID_URL") or "").rstrip("/") or None
        self.SOURCES_URL = (env("SOURCES_URL") or "").rstrip("/") or None
        self.GEMEENTE_URL = (env("GEMEENTE_URL") or "").rstrip("/") or None
        # Deliveries are signed with a per-municipality key derived from this secret.
        self.GEMEENTE_SIGNING_SECRET = env("GEMEENTE_SIGNING_SECRET") or self.SECRET_KEY
        # Simulator staff accounts: a password per municipality, or the one for all.
        self.GEMEENTE_STAFF_PASSWORD = env("GEMEENTE_STAFF_PASSWORD", "Gemeente01!")
        self.GEMEENTE_STAFF_PASSWORDS = json.loads(env("GEMEENTE_STAFF_PASSWORDS", "{}"))
        self.INBOX_DATABASE_URL = env("INBOX_DATABASE_URL",
                                      f"sqlite:///{instance / 'gemeente-inbox.db'}")
        self.SOURCE_SIM_LATENCY_MS = int(env("SOURCE_SIM_LATENCY_MS", "600"))
        self.SOURCE_SIM_FAILURE_RATE = float(env("SOURCE_SIM_FAILURE_RATE", "0"))
        self.DIGID_SIM_SHOW_CODE = _flag("DIGID_SIM_SHOW_CODE", True)
        self.OUTSIDE_TIMEOUT_S = float(env("OUTSIDE_TIMEOUT_S", "10"))

        # Journey.
        self.INVITATION_TTL_DAYS = int(env("INVITATION_TTL_DAYS", "28"))
        self.REMINDER_DAYS = tuple(sorted(int(day) for day in env("REMINDER_DAYS", "5,10,14").split(",")))
        # Mail the clock enqueued but no worker sent is enqueued again after this long.
        self.MAIL_RETRY_AFTER_MIN = int(env("MAIL_RETRY_AFTER_MIN", "60"))
        self.CLOCK_INTERVAL_S = float(env("CLOCK_INTERVAL_S", "60"))
        self.PAIRING_TTL_S = int(env("PAIRING_TTL_S", "30"))  # then the desktop shows a new QR
        self.PAIRING_GRACE_S = int(env("PAIRING_GRACE_S", "15"))  # the previous one still works
        self.JOURNEY_TTL_HOURS = float(env("JOURNEY_TTL_HOURS", "24"))  # then purged, at the latest
        self.PURGE_SWEEP_S = int(env("PURGE_SWEEP_S", "60"))  # web process: sweep at most this often
        self.REQUIRED_SOURCES = json.loads(env("REQUIRED_SOURCES", "{}"))  # {"GM0193": [...]}
        self.STORE_URL_APPLE = env("STORE_URL_APPLE", "https://apps.apple.com/nl/search?term=ockto")
        self.STORE_URL_GOOGLE = env("STORE_URL_GOOGLE",
                                    "https://play.google.com/store/search?q=ockto&c=apps")

        # QA only: a test deployment that runs many journeys from one address.
        self.RATE_LIMITS_OFF = _flag("RATE_LIMITS_OFF")

        # Development-only pages (the mail outbox); never on in production.
        self.DEV_PAGES = _flag("DEV_PAGES")
        # QA only: an endpoint that moves one application's time forward; never in production.
        self.ACCEPTANCE_MODE = _flag("ACCEPTANCE_MODE")

        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.PUBLIC_URL.startswith("https://")
        self.SESSION_COOKIE_NAME = "ocktoreis"
