"""The app's one clock: every use case reads the time here, so tests and QA can move it."""

from flask import current_app

from .domain.clock import SystemClock


def init_app(app):
    """The clock a test gives as CLOCK (a FrozenClock), else the real time."""
    app.extensions["clock"] = app.config.get("CLOCK") or SystemClock()


def utcnow():
    """Now, as naive UTC (how the database stores it)."""
    return current_app.extensions["clock"].now()
