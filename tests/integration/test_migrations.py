"""The migrations create the schema from nothing, and it is the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.services import fresh_postgres_database
from webapp import models  # noqa: F401  (registers the tables)
from webapp.db import Base, make_engine
from webapp.migrate import upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url, drop = fresh_postgres_database()
    yield url
    drop()


def test_migrations_build_the_schema_the_models_describe(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)  # a second start finds nothing to do
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()
