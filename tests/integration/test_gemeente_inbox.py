"""The municipality inbox: only signed, fresh, unseen deliveries, each Idempotency-Key once per
municipality and for one body only. Its staff: test_simulator_access.py."""

import json
import sqlite3
import threading
import time

import pytest
import requests
import sqlalchemy
from sqlalchemy.schema import CreateTable

from webapp import signing
from webapp.simulators import gemeente
from webapp.simulators.population import SANNE

from .helpers import dossier_count, dossiers

BODY = {"gemeente": "GM0193", "aanvraag": "a1", "personen": [
    {"rol": "applicant", "naam": "Sanne Bakker", "bsn": SANNE.bsn, "bronnen": {}}]}


def _post(app, code, body, headers):
    return requests.post(f"{app.config['PUBLIC_URL']}/gemeente/api/{code}/dossiers", data=body,
                         headers={"Content-Type": "application/json", **headers}, timeout=10)


def _signed(app, code="GM0193", delivery_id="delivery-1", body=None, now=None, secret=None):
    raw = json.dumps(body or BODY).encode()
    headers = signing.signed_headers(secret or app.config["GEMEENTE_SIGNING_SECRET"], code,
                                     delivery_id, raw, now)
    return raw, headers


def test_a_signed_delivery_is_stored_once(app):
    raw, headers = _signed(app)
    first = _post(app, "GM0193", raw, headers)
    assert first.status_code == 201
    raw, headers = _signed(app, now=time.time() + 1)  # a retry of the same delivery, signed anew
    retry = _post(app, "GM0193", raw, headers)
    assert retry.status_code == 200 and retry.json() == first.json()
    assert dossier_count(app) == 1


def test_an_idempotency_key_belongs_to_one_municipality(app):
    raw, headers = _signed(app)
    zwolle = _post(app, "GM0193", raw, headers)
    assert zwolle.status_code == 201
    raw, headers = _signed(app, code="GM0363", body={**BODY, "gemeente": "GM0363"})  # the same key
    amsterdam = _post(app, "GM0363", raw, headers)
    assert amsterdam.status_code == 201
    assert amsterdam.json()["reference"] != zwolle.json()["reference"]
    assert sorted((d.gemeente_code, json.loads(d.body)["gemeente"]) for d in dossiers(app)) == [
        ("GM0193", "GM0193"), ("GM0363", "GM0363")]


def test_a_key_reused_with_another_body_is_refused(app):
    raw, headers = _signed(app)
    assert _post(app, "GM0193", raw, headers).status_code == 201
    raw, headers = _signed(app, body={**BODY, "aanvraag": "a2"}, now=time.time() + 1)
    reused = _post(app, "GM0193", raw, headers)
    assert reused.status_code == 422 and "reference" not in reused.json()
    assert [json.loads(d.body)["aanvraag"] for d in dossiers(app)] == ["a1"]


@pytest.mark.parametrize("forge", ["unsigned", "wrong secret", "other municipality's key",
                                   "body changed", "delivery id changed", "stale", "future"])
def test_a_forged_or_stale_delivery_is_refused(app, forge):
    raw, headers = _signed(app)
    if forge == "unsigned":
        headers = {"Idempotency-Key": "delivery-1"}
    elif forge == "wrong secret":
        raw, headers = _signed(app, secret="guessed")
    elif forge == "other municipality's key":
        raw, headers = _signed(app, code="GM0363")
    elif forge == "body changed":
        raw = raw.replace(SANNE.bsn.encode(), b"999900043")
    elif forge == "delivery id changed":
        headers["Idempotency-Key"] = "delivery-2"
    elif forge == "stale":
        raw, headers = _signed(app, now=time.time() - signing.WINDOW_S - 5)
    elif forge == "future":
        raw, headers = _signed(app, now=time.time() + signing.WINDOW_S + 5)
    assert _post(app, "GM0193", raw, headers).status_code == 401
    assert dossier_count(app) == 0


def test_a_replayed_delivery_is_refused(app):
    raw, headers = _signed(app)
    assert _post(app, "GM0193", raw, headers).status_code == 201
    assert _post(app, "GM0193", raw, headers).status_code == 409
    assert dossier_count(app) == 1


def test_the_inbox_tables_are_made_while_another_process_makes_them_too(tmp_path):
    """Two web processes boot at once (a set's workers): each table the other makes between
    this one's look and its CREATE is refused ("already exists"), and found on the next look.
    Here the other process makes the first two tables just in time; a boot that retried once
    failed (the supervised set's web process did, on a slow machine)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/inbox.db")
    first_two = list(gemeente.InboxBase.metadata.sorted_tables)[:2]

    def made_meanwhile(table, connection, **_):
        with sqlite3.connect(tmp_path / "inbox.db") as other:  # the other process, just in time
            other.execute(str(CreateTable(table).compile(engine)))

    for table in first_two:
        sqlalchemy.event.listen(table, "before_create", made_meanwhile)
    try:
        gemeente.create_tables(engine, gemeente.InboxBase.metadata)
    finally:
        for table in first_two:
            sqlalchemy.event.remove(table, "before_create", made_meanwhile)
    assert set(sqlalchemy.inspect(engine).get_table_names()) == set(gemeente.InboxBase.metadata.tables)


def _committed_when_waited_for(engine, other, backend):
    """Commit `other`'s transaction once `backend` waits for one of its locks."""
    def commit_then():
        try:
            with engine.connect() as looking:
                for _ in range(500):
                    if looking.execute(sqlalchemy.text(
                            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                            {"pid": backend}).scalar():
                        break
                    time.sleep(0.01)
        finally:
            other.commit()
    return threading.Thread(target=commit_then)


@pytest.mark.parametrize("moment", ["before", "at once"])
def test_the_inbox_tables_are_made_on_postgresql_while_another_process_makes_them(postgres_url, moment):
    """As above, on PostgreSQL (a set's inbox database, INBOX_DATABASE_URL): a table made and
    committed between this one's look and its CREATE is refused as DuplicateTable; one whose
    CREATE runs at once with ours makes ours wait, then refused as a unique violation of the
    catalogue (a supervised set's web process failed to boot on it)."""
    engine = sqlalchemy.create_engine(postgres_url)
    first = next(iter(gemeente.InboxBase.metadata.sorted_tables))
    others = []

    def made_meanwhile(table, connection, **_):
        if others:
            return
        other = sqlalchemy.orm.Session(engine)
        others.append(other)
        other.execute(CreateTable(table))
        if moment == "before":
            other.commit()
        else:
            backend = connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar()
            others.append(_committed_when_waited_for(engine, other, backend))
            others[-1].start()

    sqlalchemy.event.listen(first, "before_create", made_meanwhile)
    try:
        gemeente.create_tables(engine, gemeente.InboxBase.metadata)
    finally:
        sqlalchemy.event.remove(first, "before_create", made_meanwhile)
        if moment == "at once":
            others[1].join()
        others[0].close()
    assert set(sqlalchemy.inspect(engine).get_table_names()) == set(gemeente.InboxBase.metadata.tables)
    engine.dispose()
