"""Configuration from the environment only; no variable set means the embedded default.

`Config(overrides)` reads the environment, lays the overrides (tests, tools) on top, and only
then derives what depends on other settings (the instance folder's files, the cookie's Secure
flag), so an override is seen by everything derived from it.
"""

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from . import zgw
from .domain import gemeenten
from .domain.journey import DELIVERY_RETRIES


def _flag(value):
    return value.lower() in ("1", "true", "yes", "on")


def _url(value):
    return value.rstrip("/") or None


def _days(value):
    return tuple(sorted(int(day) for day in value.split(",")))


# name: (how to read the environment variable, default). The variable has the setting's
# name, except where ENVIRONMENT_NAMES says otherwise. A default of None is derived below.
SETTINGS = {
    # development (./bin/start), acceptance (a QA deployment), production (the Procfile's
    # processes): what may run where, see `refusals`.
    "OCKTOREIS_ENV": (str, "development"),
    "INSTANCE_DIR": (str, None),  # folder of the embedded defaults: ./instance
    "SECRET_KEY": (str, None),  # unset: in development generated once into the instance folder
    "PUBLIC_URL": (_url, "http://127.0.0.1:5000"),
    # How many proxies (load balancers, TLS terminators) stand in front and add X-Forwarded-*
    # headers: the client's address, scheme, host and port are read from the last that many
    # (Werkzeug's ProxyFix). 0: none is trusted, the peer is the client.
    "TRUSTED_PROXIES": (int, 0),
    "DATABASE_URL": (str, None),  # unset: SQLite in the instance folder
    # A database that refuses new connections (restarting) is tried again this long before
    # a request gets the "Even niet bereikbaar" page.
    "DATABASE_CONNECT_WAIT_S": (float, 5.0),
    # PostgreSQL: connections each process opens for its work, at most, and keeps open.
    "DATABASE_POOL_SIZE": (int, 15),
    "RABBITMQ_URL": (str, None),  # unset: Dramatiq's StubBroker, worker threads in the process
    "REDIS_URL": (str, None),  # unset: live events and counters stay inside this process
    "SSE_HEARTBEAT_S": (float, 15.0),  # an open stream's heartbeat: a closed page is released
    "SSE_STREAMS_PER_DEVICE": (int, 4),  # per journey and device (tabs): a new one closes the oldest
    "SSE_STREAMS_PER_ADDRESS": (int, 300),  # per client address and web process: then refused

    # Mail: with MAIL_SERVER unset, mail lands in OUTBOX_DIR as .eml files.
    "MAIL_SERVER": (str, None),
    "MAIL_PORT": (int, 25),
    "MAIL_USE_TLS": (_flag, False),
    "MAIL_USE_SSL": (_flag, False),
    "MAIL_USERNAME": (str, None),
    "MAIL_PASSWORD": (str, None),
    "MAIL_DEFAULT_SENDER": (str, "Gezondverzekerd.nl <noreply@gezondverzekerd.nl>"),
    "OUTBOX_DIR": (str, None),  # unset: instance/outbox

    # Outside systems, each reached over HTTP; unset: the simulators in this app. DIGID_URL is
    # where the DigiD simulator runs (its SAML metadata at DIGID_URL/digid-sim/saml/metadata);
    # a real DigiD is named by SAML_IDP_METADATA below.
    "SIMULATORS": (_flag, True),
    "DIGID_URL": (_url, None),
    "SOURCES_URL": (_url, None),
    "GEMEENTE_URL": (_url, None),
    "OUTSIDE_TIMEOUT_S": (float, 10.0),
    "GEMEENTE_SIGNING_SECRET": (str, None),  # unset: SECRET_KEY
    # How a dossier reaches a municipality: "zgw" (a zaak in its case system) or "webhook" (a
    # signed POST), per CBS code in GEMEENTE_BACKENDS (README: "Delivery to the municipality"),
    # else GEMEENTE_BACKEND with the simulator's connection.
    "GEMEENTE_BACKEND": (str, "zgw"),
    "GEMEENTE_BACKENDS": (json.loads, {}),  # {"GM0193": {"backend": "zgw", "zaken_api": …}}
    "GEMEENTE_STAFF_PASSWORDS": (json.loads, {}),  # {"GM0193": "scrypt:…"}; unset: derived
    "SOURCES_TOKEN": (str, None),  # the sources' bearer token; unset: derived from SECRET_KEY
    "INBOX_DATABASE_URL": (str, None),  # unset: SQLite in the instance folder
    "SOURCE_SIM_LATENCY_MS": (int, 600),
    "SOURCE_SIM_FAILURE_RATE": (float, 0.0),
    "DIGID_SIM_SHOW_CODE": (_flag, True),
    # The simulator's list of the services it knows (their SAML metadata: a URL or a file);
    # unset: this app's own, at PUBLIC_URL/saml/metadata.
    "DIGID_SIM_SP_METADATA": (str, None),

    # DigiD over SAML 2.0 (webapp/saml.py). The key and certificate sign the AuthnRequest and
    # the ArtifactResolve and are the TLS client certificate on the back channel; unset (never
    # in production): generated once into the instance folder (INSTANCE_DIR/saml-sp/).
    "SAML_SP_KEY": (str, None),
    "SAML_SP_CERT": (str, None),
    "SAML_SP_ENTITY_ID": (str, None),  # unset: PUBLIC_URL/saml/metadata
    "SAML_IDP_METADATA": (str, None),  # a URL or a file; unset: the simulator's, see README
    "SAML_IDP_CA_BUNDLE": (str, None),  # the back channel's CA certificates; unset: the system's
    "SAML_CLOCK_SKEW_S": (int, 60),  # how far DigiD's clock and ours may differ

    # The journey.
    "INVITATION_TTL_DAYS": (int, 28),
    "REMINDER_DAYS": (_days, (5, 10, 14)),
    "MAIL_RETRY_AFTER_MIN": (int, 60),  # mail enqueued but never sent is enqueued again
    "CLOCK_INTERVAL_S": (float, 60.0),  # how often the clock runs its sweeps
    "OUTBOX_RETRY_S": (float, 5.0),  # a job request not yet on the queue is sent again after
    "PAIRING_TTL_S": (int, 30),  # then the desktop shows a new QR code
    "PAIRING_GRACE_S": (int, 15),  # the previous one still works this long
    "JOURNEY_TTL_HOURS": (float, 24.0),  # an unfinished journey is purged at the latest then
    "RECEIPT_RETENTION_DAYS": (int, 90),  # a receipt is deleted this long after the purge
    "DELIVERY_RETRIES": (int, DELIVERY_RETRIES),  # then the pages say sending is delayed
    "PURGE_SWEEP_S": (int, 60),  # a web process sweeps for overdue journeys at most this often
    "REQUIRED_SOURCES": (json.loads, {}),  # {"GM0193": ["mijnoverheid", ...]}
    "STORE_URL_APPLE": (str, "https://apps.apple.com/nl/search?term=ockto"),
    "STORE_URL_GOOGLE": (str, "https://play.google.com/store/search?q=ockto&c=apps"),

    # Operators.
    "METRICS_TOKEN": (str, None),  # /metrics wants it as a bearer token; unset: loopback only
    "LOG_FORMAT": (str, "text"),  # "json": one JSON object per line (the Procfile's processes)
    # The operators' dashboard (/beheer/): a password hash (`flask --app webapp beheer
    # new-password` makes one); unset: a password derived from SECRET_KEY (`... beheer password`).
    "OPERATOR_PASSWORD_HASH": (str, None),

    # Never in production: QA's test deployments and development.
    "RATE_LIMITS_OFF": (_flag, False),  # journeys run many times from one address
    "DEV_PAGES": (_flag, False),  # the mail outbox
    "DEV_PAGES_TOKEN": (str, None),  # unset: development pages for this machine (loopback) only
    "ACCEPTANCE_MODE": (_flag, False),  # an endpoint that moves one application's time
}
ENVIRONMENT_NAMES = {"INSTANCE_DIR": "OCKTOREIS_INSTANCE"}


class Config:
    def __init__(self, overrides=None, environ=os.environ):
        """The settings from `environ`, with `overrides` on top, then what derives from them."""
        values, given = {}, set(overrides or ())
        for name, (read, default) in SETTINGS.items():
            raw = environ.get(ENVIRONMENT_NAMES.get(name, name))
            values[name] = default if raw is None else read(raw)
            if raw is not None:
                given.add(name)
        values.update(overrides or {})
        values["SETTINGS_GIVEN"] = frozenset(name for name in given if values.get(name) is not None)
        _derive(values)
        self.__dict__.update(values)


def _derive(values):
    instance = Path(values["INSTANCE_DIR"] or Path.cwd() / "instance")
    values["INSTANCE_DIR"] = str(instance)
    values["DATABASE_URL"] = values["DATABASE_URL"] or f"sqlite:///{instance / 'ocktoreis.db'}"
    values["INBOX_DATABASE_URL"] = (values["INBOX_DATABASE_URL"]
                                    or f"sqlite:///{instance / 'gemeente-inbox.db'}")
    values["OUTBOX_DIR"] = values["OUTBOX_DIR"] or str(instance / "outbox")
    values.setdefault("SESSION_COOKIE_NAME", "ocktoreis")
    values.setdefault("SESSION_COOKIE_HTTPONLY", True)
    values.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    values.setdefault("SESSION_COOKIE_SECURE", values["PUBLIC_URL"].startswith("https://"))
    if not values["SECRET_KEY"] and values["OCKTOREIS_ENV"] == "development":
        values["SECRET_KEY"] = _secret_key(instance)
    if not values["SECRET_KEY"]:
        return  # elsewhere a missing key stops the start (refusals): nothing derives from none
    values["GEMEENTE_SIGNING_SECRET"] = values["GEMEENTE_SIGNING_SECRET"] or values["SECRET_KEY"]
    values["SOURCES_TOKEN"] = values["SOURCES_TOKEN"] or hmac.new(
        values["SECRET_KEY"].encode(), b"sources-token", hashlib.sha256).hexdigest()


def _secret_key(instance):
    """A key kept in the instance folder, so an embedded restart keeps sessions and links."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class StartRefused(Exception):
    """These settings must not start: `lines` says why, one problem each."""

    def __init__(self, lines):
        super().__init__("\n".join(lines))
        self.lines = lines

    def __str__(self):
        return "Ocktoreis refuses to start:\n" + "\n".join(f"- {line}" for line in self.lines)


ENVIRONMENTS = ("development", "acceptance", "production")
MIN_SECRET_LENGTH = 32
NEVER_IN_PRODUCTION = ("SIMULATORS", "DEV_PAGES", "ACCEPTANCE_MODE", "RATE_LIMITS_OFF")
SERVICES = ("DATABASE_URL", "RABBITMQ_URL", "REDIS_URL")
OUTSIDE_SYSTEMS = ("SOURCES_URL",)  # and DigiD: SAML_IDP_METADATA; the municipalities: below


def refusals(config):
    """Why these settings must not start outside development, a line each; [] when they may.

    Anywhere, jobs on RabbitMQ need the data keys in Redis. Acceptance (a QA deployment) may
    run the simulators, the development pages and the acceptance mode, but no generated
    secret; production none of those, over https only, on the real services and outside
    systems.
    """
    env = config["OCKTOREIS_ENV"]
    if env not in ENVIRONMENTS:
        return [f"OCKTOREIS_ENV is {env!r}: it must be one of {', '.join(ENVIRONMENTS)}."]
    if config["TRUSTED_PROXIES"] < 0:
        return [f"TRUSTED_PROXIES is {config['TRUSTED_PROXIES']}: it counts proxies, 0 or more."]
    if config["DATABASE_POOL_SIZE"] < 1:
        return [f"DATABASE_POOL_SIZE is {config['DATABASE_POOL_SIZE']}: a process needs at least 1 connection."]
    lines = _backend_refusals(config)
    if config["RABBITMQ_URL"] and not config["REDIS_URL"]:
        # Workers in other processes could not read the journeys' data keys (webapp.keys).
        lines.append("RABBITMQ_URL is set but REDIS_URL is not: the workers need the "
                     "journeys' data keys in Redis (a database without persistence).")
    if env == "development":
        return lines
    given = config["SETTINGS_GIVEN"]
    if "SECRET_KEY" not in given:
        lines.append("SECRET_KEY is missing: set one (the same on every process, at least "
                     f"{MIN_SECRET_LENGTH} random characters).")
    elif len(config["SECRET_KEY"]) < MIN_SECRET_LENGTH:
        lines.append(f"SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters.")
    if env == "production":
        lines += [f"{name} is on: never in production." for name in NEVER_IN_PRODUCTION if config[name]]
        if not config["PUBLIC_URL"].startswith("https://"):
            lines.append(f"PUBLIC_URL is {config['PUBLIC_URL']}: production runs over https only.")
        if "TRUSTED_PROXIES" not in given:
            lines.append("TRUSTED_PROXIES is not set: say how many proxies stand in front (1 for "
                         "one load balancer or nginx; 0 when this process terminates TLS itself).")
        lines += [f"{name} is not set: production runs on its own services." for name in SERVICES
                  if name not in given]
        if not config["SIMULATORS"]:
            lines += [f"{name} is not set: without the simulators it names the real system."
                      for name in OUTSIDE_SYSTEMS if not config[name]]
            if not config["SAML_IDP_METADATA"]:
                lines.append("SAML_IDP_METADATA is not set: name DigiD's metadata (a URL or a file).")
            lines += _real_municipality_refusals(config)
        lines += [f"{name} is not set: production signs with its own key and certificate "
                  "(PKIoverheid), never generated ones." for name in ("SAML_SP_KEY", "SAML_SP_CERT")
                  if name not in given]
    return lines


BACKENDS = ("zgw", "webhook")
ZGW_KEYS = tuple(field.name for field in dataclasses.fields(zgw.Connection))


def _backend_refusals(config):
    """Each municipality's delivery backend must be known, and a ZGW one complete: half a
    connection would silently deliver to the simulator."""
    lines = []
    if config["GEMEENTE_BACKEND"] not in BACKENDS:
        lines.append(f"GEMEENTE_BACKEND is {config['GEMEENTE_BACKEND']!r}: zgw or webhook.")
    for code, entry in sorted(config["GEMEENTE_BACKENDS"].items()):
        backend = entry.get("backend") if isinstance(entry, dict) else None
        if backend not in BACKENDS:
            lines.append(f"GEMEENTE_BACKENDS[{code}]: backend must be zgw or webhook.")
        elif backend == "zgw" and set(entry) - {"backend"}:
            missing = [key for key in ZGW_KEYS if not entry.get(key)]
            if missing:
                lines.append(f"GEMEENTE_BACKENDS[{code}] lacks {', '.join(missing)}.")
    return lines


def _real_municipality_refusals(config):
    """Without the simulators every municipality (all of gemeenten.csv) must reach a real
    system: a zgw one needs its complete connection (else each delivery fails, is retried and
    ends undelivered), a webhook one its url or GEMEENTE_URL."""
    backends, lines = config["GEMEENTE_BACKENDS"], []
    entries = {g.code: backends.get(g.code) or {"backend": config["GEMEENTE_BACKEND"]}
               for g in gemeenten.all_gemeenten()}
    lacking = sorted(code for code, entry in entries.items() if isinstance(entry, dict)
                     and entry.get("backend") == "zgw" and not all(entry.get(k) for k in ZGW_KEYS))
    if lacking:
        lines.append(f"{len(lacking)} municipalities deliver over zgw without a connection in "
                     f"GEMEENTE_BACKENDS (e.g. {', '.join(lacking[:3])}): give each its "
                     f"{', '.join(ZGW_KEYS)}, or set GEMEENTE_BACKEND=webhook.")
    if not config["GEMEENTE_URL"] and any(
            isinstance(entry, dict) and entry.get("backend") == "webhook" and not entry.get("url")
            for entry in entries.values()):
        lines.append("GEMEENTE_URL is not set: a webhook municipality without its own url "
                     "delivers there.")
    return lines
