"""On the embedded default (SQLite, keys in the process): after every exit path the raw
.db, -wal and -shm files hold none of the journey's personal values, in any encoding, nor
its key; the logs and the queue's messages neither. And the checks can fail: without the
files' scrub after the purge, or with the key written to the database, they find them."""

import pytest
from sqlalchemy import text

from webapp import db, journeys
from webapp.db import session
from webapp.models import Receipt

from .ondisk import EXITS, fetched_values, find_key, find_values, personal_values, sqlite_findings
from .test_nothing_kept import _decoded_tokens, assert_ids_only_on_the_queue, logs, queued, to_review

__all__ = ["logs", "queued"]  # fixtures


def _walk_to_the_end(app, walk, exit_path):
    """Jan and Fatima to the review, then out by `exit_path`; returns the journey's key."""
    journey_id = to_review(walk)
    key = app.extensions["data_keys"].get(journey_id)
    assert key is not None and len(key) == 32
    how, outcome = EXITS[exit_path]
    how(walk, app)
    walk.run_jobs()
    session.expire_all()
    receipt = session.get(Receipt, journey_id)
    assert receipt.outcome == outcome and receipt.purged_at is not None
    assert app.extensions["data_keys"].get(journey_id) is None  # the purge deleted the key
    return key


@pytest.mark.parametrize("exit_path", EXITS)
def test_the_sqlite_files_hold_nothing_of_the_journey_after_it_ends(app, walk, logs, queued,
                                                                    exit_path):
    values = personal_values()
    key = _walk_to_the_end(app, walk, exit_path)
    assert sqlite_findings(app, values, key) == {}
    logged = _decoded_tokens(logs()).encode()
    assert b"POST /app/" in logged  # the logs were captured
    assert find_values(logged, values, around=b"0-9A-Za-z") == set() and not find_key(logged, key)
    assert_ids_only_on_the_queue(queued)
    for message in queued:
        assert not find_key(message.encode(), key)


def test_while_the_journey_runs_the_files_hold_its_data_only_sealed(app, walk):
    """The application's own data is in the file until the purge; what was fetched never."""
    journey_id = to_review(walk)
    key = app.extensions["data_keys"].get(journey_id)
    with app.extensions["db_engine"].connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    files = sqlite_findings(app, personal_values(), key)
    assert "ocktoreis.db" in files  # the checks see the application's data in the file...
    assert not set(fetched_values()) & {v for found in files.values() for v in found}  # ...only


def test_without_the_scrub_after_the_purge_the_check_finds_the_values(app, walk, monkeypatch):
    """Proof the check can fail: the purge empties every column, but without the truncating
    checkpoint the WAL's older frames still hold the application's data."""
    monkeypatch.setattr(db, "_scrub", lambda engine: None)
    key = _walk_to_the_end(app, walk, "stopped on the phone")
    found = sqlite_findings(app, personal_values(), key)
    assert "ocktoreis.db-wal" in found, found


def test_with_the_key_written_to_the_database_the_check_finds_it(app, walk, monkeypatch):
    """Proof the check can fail: a key store that also writes the key in the database (as
    journey.data_key did) leaves it in the files, however well the rows are emptied."""
    store = app.extensions["data_keys"]
    create = store.create

    def create_and_write_down(journey_id, ttl_s):
        key = create(journey_id, ttl_s)
        session.execute(text("CREATE TABLE IF NOT EXISTS key_copy (journey_id TEXT, data_key BLOB)"))
        session.execute(text("INSERT INTO key_copy VALUES (:id, :key)"), {"id": journey_id, "key": key})
        return key
    monkeypatch.setattr(store, "create", create_and_write_down)
    key = _walk_to_the_end(app, walk, "sent")
    assert "the key" in sqlite_findings(app, personal_values(), key).get("ocktoreis.db", [])


def test_with_the_purge_switched_off_the_check_finds_the_values(app, walk, monkeypatch):
    """Proof the check can fail: an application whose personal columns are not emptied
    leaves its values in the files."""
    monkeypatch.setattr(journeys, "purge_application", lambda application, outcome: None)
    key = _walk_to_the_end(app, walk, "refused")
    found = sqlite_findings(app, personal_values(), key)
    assert {"999900006", "Jan de Vries", "aanvrager@example.org"} <= set(found.get("ocktoreis.db", [])), found
