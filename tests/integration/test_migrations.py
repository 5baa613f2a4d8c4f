"""The migrations create the schema from nothing, and it is the schema the models describe."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.services import fresh_postgres_database
from webapp import models  # noqa: F401  (registers the tables)
from webapp.db import Base, make_engine
from webapp.migrate import alembic_config, upgrade


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


def _to(engine, revision, direction=command.upgrade):
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        direction(config, revision)


def test_migration_0008_takes_the_keys_and_plain_bsns_off_the_disk(database_url):
    """A journey under way at the upgrade: its key and its plain BSN go with their columns,
    its old ciphertext too, and it counts as having had a key (it ends as key_lost)."""
    engine = make_engine(database_url)
    try:
        _to(engine, "0007")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO application (id, created_at, gemeente_code, status, has_partner,"
                " reminders_sent, name, bsn) VALUES ('a', '2026-11-01 10:00', 'GM0193', 'invited',"
                " false, 0, 'Sanne Bakker', '999900031')"))
            connection.execute(text(
                "INSERT INTO journey (id, application_id, state, phone_only, created_at, updated_at,"
                " desktop_secret_hash, data_key) VALUES ('j', 'a', 'fetching_applicant', false,"
                " '2026-11-01 10:00', '2026-11-01 10:05', 'h', :key)"), {"key": b"k" * 44})
            connection.execute(text(
                "INSERT INTO person (journey_id, role, logged_in_at, bsn)"
                " VALUES ('j', 'applicant', '2026-11-01 10:01', '999900031')"))
            connection.execute(text(
                "INSERT INTO source_fetch (journey_id, role, source, status, attempts, updated_at,"
                " payload) VALUES ('j', 'applicant', 'uwv', 'fetched', 1, '2026-11-01 10:02', :p)"),
                {"p": b"old ciphertext"})
        upgrade(engine)
        columns = {table: {c["name"] for c in inspect(engine).get_columns(table)}
                   for table in ("journey", "person")}
        assert "data_key" not in columns["journey"] and "bsn" not in columns["person"]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT key_made_at FROM journey")).scalar() is not None
            assert connection.execute(text("SELECT payload FROM source_fetch")).scalar() is None
            if connection.dialect.name == "postgresql":
                targets = dict(connection.execute(text(
                    "SELECT attname, attstattarget FROM pg_attribute"
                    " WHERE attrelid = 'application'::regclass AND attnum > 0")).all())
                assert all(targets[column] == 0 for column in
                           ("name", "email", "bsn", "partner_name", "partner_bsn")), targets
                assert targets["gemeente_code"] != 0
        _to(engine, "0007", command.downgrade)  # and back
        assert "data_key" in {c["name"] for c in inspect(engine).get_columns("journey")}
    finally:
        engine.dispose()


def test_migration_0012_keeps_a_refused_late_scan_on_its_journey(database_url):
    """A journey whose old QR code another device scanned before the upgrade still warns its
    desktop after it; one without such a scan does not."""
    engine = make_engine(database_url)
    try:
        _to(engine, "0011")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO application (id, created_at, gemeente_code, status, has_partner,"
                " reminders_sent) VALUES ('a', '2026-11-01 10:00', 'GM0193', 'invited', false, 0)"))
            for journey in ("scanned", "quiet"):
                connection.execute(text(
                    "INSERT INTO journey (id, application_id, state, phone_only, created_at,"
                    " updated_at, desktop_secret_hash) VALUES (:j, 'a', 'phone_connected', false,"
                    " '2026-11-01 10:00', '2026-11-01 10:05', 'h')"), {"j": journey})
            connection.execute(text(
                "INSERT INTO pairing_token (token_hash, journey_id, valid_until, refused_at) VALUES"
                " ('t1', 'scanned', '2026-11-01 10:01', NULL),"
                " ('t2', 'scanned', '2026-11-01 10:02', '2026-11-01 10:07'),"
                " ('t3', 'quiet', '2026-11-01 10:02', NULL)"))
        upgrade(engine)
        with engine.connect() as connection:
            found = dict(connection.execute(text("SELECT id, second_device_at FROM journey")).all())
        assert str(found["scanned"]).startswith("2026-11-01 10:07") and found["quiet"] is None
    finally:
        engine.dispose()
