"""Database migrations (Alembic): `python -m webapp.migrate` upgrades DATABASE_URL to head.

Every process also upgrades at start; on PostgreSQL an advisory lock makes the processes
that start together take turns, so the schema is created once.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from .config import Config
from .db import make_engine

LOCK_ID = 7_461_029_113  # any constant: the advisory lock of this application's migrations


def alembic_config():
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def upgrade(engine):
    """Bring the schema to the newest revision."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def main():
    """The release step: upgrade the database the environment names (DATABASE_URL, or the
    embedded SQLite file)."""
    engine = make_engine(Config().DATABASE_URL)
    upgrade(engine)
    engine.dispose()
    print("database schema is up to date")


if __name__ == "__main__":
    main()
