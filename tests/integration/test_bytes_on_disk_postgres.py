"""On PostgreSQL with the keys in Redis (a private one, without persistence), read as root:
what only the fetched data holds (amounts, addresses, birth dates, employers) is never plain
text in the journey tables' files nor in the WAL written since the test began, checked after
each source is fetched, after consent and after the purge; the journey's key is in no file of
PostgreSQL's data directory nor Redis's folder; the logs, the queue's messages and the Redis
events hold none of it. The personal columns have no statistics and no index."""

import pytest
from sqlalchemy import text

from webapp.db import session
from webapp.domain.sources import SOURCES
from webapp.models import Receipt
from webapp.simulators.population import FATIMA, JAN

from .ondisk import (
    EXITS, JOURNEY_TABLES, PostgresDisk, RedisEvents, fetched_values, files_under, find_key,
    find_values, personal_values, read,
)
from .test_nothing_kept import _decoded_tokens, assert_ids_only_on_the_queue, logs, queued

__all__ = ["logs", "queued"]  # fixtures

PERSONAL_COLUMNS = {("application", column) for column in
                    ("name", "email", "bsn", "partner_name", "partner_bsn")} | {
                   ("person", "sealed_bsn"), ("source_fetch", "payload")}


@pytest.fixture
def app_config(postgres_url, redis_server):
    return {"DATABASE_URL": postgres_url, "REDIS_URL": redis_server.url}


@pytest.fixture
def disk(app):
    return PostgresDisk(app.extensions["db_engine"])


@pytest.fixture
def redis_events(redis_server):
    events = RedisEvents(redis_server.url)
    yield events
    events.close()


class Journey_:
    """Jan and Fatima's journey, checked on disk at every step that writes their data."""

    def __init__(self, app, walk, disk):
        self.app, self.walk, self.disk = app, walk, disk
        self.id = self.key = None
        self.checked = []

    def check(self, moment):
        findings = self.disk.findings(fetched_values(), self.key)
        assert findings == {}, f"{moment}: {findings}"
        self.checked.append(moment)

    def to_review(self):
        walk = self.walk
        walk.start(walk.apply(JAN, FATIMA))
        self.id = walk.journey_url.rsplit("/", 1)[1]
        walk.phone.get(walk.to_qr())
        for citizen in (JAN, FATIMA):
            walk.login(citizen)
            self.key = self.key or self.app.extensions["data_keys"].get(self.id)
            assert self.key is not None and len(self.key) == 32
            for source in SOURCES:
                walk.phone.post(f"/app/bronnen/{source.key}")
                walk.run_jobs()
                self.check(f"{citizen.username}'s {source.key} fetched")
            page = walk.phone.post("/app/bronnen/klaar", follow_redirects=True).text
        assert 'data-screen="review"' in page and "Supermarkt De Hoek" in page
        return self

    def end(self, exit_path):
        how, outcome = EXITS[exit_path]
        how(self.walk, self.app)
        if exit_path == "sent":
            self.check("consent given")
        self.walk.run_jobs()
        session.expire_all()
        receipt = session.get(Receipt, self.id)
        assert receipt.outcome == outcome and receipt.purged_at is not None
        assert self.app.extensions["data_keys"].get(self.id) is None  # deleted from Redis
        self.check("purged")


@pytest.mark.parametrize("exit_path", EXITS)
def test_postgres_and_redis_files_never_hold_the_fetched_data_nor_the_key(
        app, walk, disk, redis_server, redis_events, logs, queued, exit_path):
    journey = Journey_(app, walk, disk).to_review()
    journey.end(exit_path)
    assert len(journey.checked) >= 11  # ten fetches, (consent,) the purge
    for path in files_under(redis_server.dir):
        assert not find_key(read(path), journey.key), f"the key is in {path}"
    published = redis_events.data()
    assert b'"state"' in published  # the journey's live events were seen
    assert find_values(published, personal_values()) == set()
    assert not find_key(published, journey.key)
    logged = _decoded_tokens(logs()).encode()
    assert find_values(logged, personal_values(), around=b"0-9A-Za-z") == set()
    assert not find_key(logged, journey.key)
    assert_ids_only_on_the_queue(queued)
    for message in queued:
        assert not find_key(message.encode(), journey.key)


def test_with_the_key_written_to_the_database_the_check_finds_it(app, walk, disk, monkeypatch):
    """Proof the check can fail: a key store that also writes the key in a table (as
    journey.data_key did) leaves it in PostgreSQL's files, emptied rows or not."""
    store = app.extensions["data_keys"]
    create = store.create

    def create_and_write_down(journey_id, ttl_s):
        key = create(journey_id, ttl_s)
        session.execute(text("CREATE TABLE IF NOT EXISTS key_copy (journey_id text, data_key bytea)"))
        session.execute(text("INSERT INTO key_copy VALUES (:id, :key)"), {"id": journey_id, "key": key})
        return key
    monkeypatch.setattr(store, "create", create_and_write_down)
    journey = Journey_(app, walk, disk)
    with pytest.raises(AssertionError, match="the key"):
        journey.to_review()


def test_the_personal_columns_have_no_statistics_and_no_index(app, walk):
    """ANALYZE copies sample values into pg_statistic: not of these columns (migration
    0008); and no index holds them in its keys."""
    to_analyse = walk.to_review(JAN)
    assert 'data-screen="review"' in to_analyse.text
    engine = app.extensions["db_engine"]

    def analysed():
        with engine.begin() as connection:
            connection.execute(text("ANALYZE application, person, source_fetch"))
            return set(connection.execute(text(
                "SELECT tablename, attname FROM pg_stats WHERE schemaname = 'public'")).all())
    assert not PERSONAL_COLUMNS & {tuple(row) for row in analysed()}
    with engine.connect() as connection:
        indexed = set(connection.execute(text("""
            SELECT t.relname, a.attname FROM pg_index i
              JOIN pg_class t ON t.oid = i.indrelid
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)""")).all())
    assert not PERSONAL_COLUMNS & {tuple(row) for row in indexed}
    # The check can fail: with the default statistics target ANALYZE samples them.
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE application ALTER COLUMN name SET STATISTICS -1"))
    assert ("application", "name") in {tuple(row) for row in analysed()}


def test_after_the_purge_a_vacuum_full_leaves_nothing_of_the_application_in_the_files(app, walk, disk):
    """The application's own data is plain text until its purge; the dead row versions stay
    in the files until vacuumed (README): nothing is left that VACUUM FULL does not clear, no
    copy in another table or an index."""
    journey = Journey_(app, walk, disk).to_review()
    application_values = [JAN.bsn, FATIMA.bsn, JAN.name, FATIMA.name, "aanvrager@example.org"]
    assert disk.findings(application_values)  # in the files while the journey runs
    journey.end("refused")
    session.commit()  # VACUUM FULL waits for every open transaction on these tables
    with app.extensions["db_engine"].connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM FULL " + ", ".join(JOURNEY_TABLES)))
    findings = disk.findings(application_values)
    findings.pop("WAL since the test began", None)  # until the segments are recycled (README)
    assert findings == {}
