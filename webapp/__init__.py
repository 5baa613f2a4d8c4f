"""Ocktoreis: the Flask application factory."""

from flask import Flask
from flask_htmx import HTMX

from .config import Config
from .domain.clock import SystemClock

htmx = HTMX()


def create_app(test_config=None):
    """Build the app: defaults from the environment, then `test_config` on top."""
    app = Flask(__name__)
    app.config.from_object(Config(test_config))
    if test_config:
        app.config.update(test_config)
    # The one clock every use case reads; tests pass a FrozenClock as CLOCK.
    app.extensions["clock"] = app.config.get("CLOCK") or SystemClock()

    from messaging import broker, events, mail
    from . import db, errors, pages, privacy, ratelimit, security

    db.init_app(app)
    events.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    pages.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    privacy.init_app(app)
    broker.bind_app(app)

    from . import application, desktop, health, phone, pwa
    app.register_blueprint(application.bp)
    app.register_blueprint(desktop.bp)
    app.register_blueprint(phone.bp)
    app.register_blueprint(pwa.bp)
    app.register_blueprint(health.bp)
    if app.config["SIMULATORS"]:
        from .simulators import digid, gemeente, sources
        app.register_blueprint(digid.bp)
        sources.init_app(app)
        gemeente.init_app(app)
    if app.config["DEV_PAGES"]:
        from . import dev
        app.register_blueprint(dev.bp)
    if app.config["ACCEPTANCE_MODE"]:
        from . import acceptance
        app.logger.warning("ACCEPTANCE_MODE is on: anyone with a personal link can move its time")
        app.register_blueprint(acceptance.bp)
    return app
