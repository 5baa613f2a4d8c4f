"""Database migrations (Alembic): `upgrade` brings the schema to head.

`python -m webapp.release` runs it as the release step of a deployment (the Procfile's
`release` line), once per deploy before the new processes start; they only check that the
schema is current. In development every process upgrades at start; on PostgreSQL an advisory lock makes the
processes that start together take turns, so the schema is created once.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text


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


def is_current(engine):
    """Whether the schema is at the newest revision this code knows."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current == ScriptDirectory.from_config(alembic_config()).get_current_head()

