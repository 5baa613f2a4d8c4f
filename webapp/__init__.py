"""Ocktoreis: the Flask application factories.

`create_app` builds the web app: pages, streams and, unless switched off, the simulators.
`create_worker_app` builds what the workers and the clock need to run the use cases: the
database, the broker, live events, mail and the clock; no pages. Outside development both
refuse dangerous settings (`config.refusals`) and a database the release step has not
migrated yet.
"""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from messaging import events, mail
from messaging.broker import make_broker

from . import (
    acceptance, application, clock, db, desktop, dev, errors, health, i18n, keys, live, logs,
    metrics, migrate, operators, pages, phone, privacy, pwa, ratelimit, saml, saml_views,
    security,
)
from .config import Config, StartRefused, refusals
from .commands import operator_commands
from .simulators import digid, gemeente, sources


def create_worker_app(overrides=None, broker=None):
    """The app the use cases run in: settings from the environment with `overrides` on top,
    and `broker` (default: the one RABBITMQ_URL names, or the in-process StubBroker)."""
    app = Flask(__name__)
    app.config.from_object(Config(overrides))
    if lines := refusals(app.config):
        raise StartRefused(lines)
    clock.init_app(app)
    db.init_app(app)
    if app.config["OCKTOREIS_ENV"] == "development":
        migrate.upgrade(app.extensions["db_engine"])
    elif not migrate.is_current(app.extensions["db_engine"]):
        raise StartRefused(["The database schema is behind this version: run the release step "
                            "first (python -m webapp.release)."])
    app.extensions["broker"] = broker or make_broker(app.config["RABBITMQ_URL"])
    events.init_app(app)
    keys.init_app(app)
    mail.init_app(app)
    i18n.init_app(app)  # mails are written in the application's language
    return app


def create_app(overrides=None, broker=None):
    """The web app: the worker app with the pages of every area on top."""
    app = create_worker_app(overrides, broker)
    if hops := app.config["TRUSTED_PROXIES"]:
        # The client's address (rate limits, loopback-only pages), and the scheme, host and
        # port of every URL built with _external (the QR code, DigiD's return), as the
        # proxies in front say; what a client sends itself beyond them is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    pages.init_app(app)
    live.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    privacy.init_app(app)
    for area in (application, desktop, phone, pwa, health):
        app.register_blueprint(area.bp)
    saml.init_app(app)  # DigiD: this app as a SAML service provider
    app.register_blueprint(saml_views.bp)
    operators.init_app(app)  # /beheer/: no personal data, yet no-store
    app.cli.add_command(operator_commands)  # flask --app webapp beheer …
    if app.config["SIMULATORS"]:
        digid.init_app(app)
        sources.init_app(app)
        gemeente.init_app(app)
    if app.config["DEV_PAGES"]:
        app.register_blueprint(dev.bp)
    if app.config["ACCEPTANCE_MODE"]:
        app.logger.warning("ACCEPTANCE_MODE is on: anyone with a personal link can move its "
                           "time and lose its journey's data key, and take a simulated source "
                           "down for every journey")
        app.register_blueprint(acceptance.bp)
    return app
