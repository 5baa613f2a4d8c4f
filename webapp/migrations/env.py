"""Alembic environment: run by webapp.migrate with a connection, or by the alembic CLI."""

import os

from alembic import context
from sqlalchemy import create_engine

from webapp import models  # noqa: F401  (registers the tables)
from webapp.db import Base

config = context.config


def run(connection):
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with create_engine(os.environ["DATABASE_URL"]).connect() as connection:
        run(connection)
