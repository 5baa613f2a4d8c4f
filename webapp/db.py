"""The database: one engine per app, one scoped session per thread."""

from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker


class _AppSession(Session):
    """A session bound to the engine of the current Flask app."""

    def get_bind(self, mapper=None, clause=None, **kwargs):
        return current_app.extensions["db_engine"]


session = scoped_session(sessionmaker(class_=_AppSession))


class Base(DeclarativeBase):
    pass


def make_engine(url):
    """An engine for `url`; SQLite gets WAL and a busy timeout so threads can share it."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
        return engine
    # hide_parameters: an error message or log line never shows the values (BSNs, names).
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def init_app(app):
    app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _remove_session(_exc):
        session.remove()
