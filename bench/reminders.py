"""Benchmark one clock tick: `python -m bench.reminders [--n 1000000] [--overdue-hours 1]`.

Loads N pending invitations into PostgreSQL (DATABASE_URL, or a local database
`ocktoreis_bench` that it creates) whose next mail falls due spread evenly over 14 days,
the first `--overdue-hours` of them already past: as after a clock that was down that long.
Then it times one run of the clock's sweep (`invitations.enqueue_due_mail`): the real
claim statements on the real table, each batch's `queue_mail` job committed in the outbox
with its claim, and sent right after on Dramatiq's StubBroker (in memory, so no mail goes
out).
The last line is `reminders invitations=N due=D tick_s=T`.
"""

import argparse
import os
import tempfile
import time
from datetime import timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp import create_worker_app, invitations
from webapp.domain.clock import FrozenClock

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ocktoreis_bench"
SPREAD_DAYS = 14

LOAD = text("""
    INSERT INTO application (id, created_at, gemeente_code, status, has_partner,
                             invitation_sent_at, expires_at, reminders_sent, next_mail_at,
                             name, email)
    SELECT 'bench-' || g, due - interval '5 days', 'GM0193', 'invited', false,
           due - interval '5 days', due + interval '23 days', 0, due,
           'Bench', 'bench@example.org'
    FROM (SELECT g, CAST(:start AS timestamp)
                    + (g % :n) * (CAST(:spread AS interval) / :n) AS due
          FROM generate_series(1, :n) AS g) AS spread
""")


def ensure_database(url):
    """Create the database of `url` when it does not exist yet."""
    url = make_url(url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                   {"name": url.database})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.reminders")
    parser.add_argument("--n", type=int, default=1_000_000, help="pending invitations")
    parser.add_argument("--overdue-hours", type=float, default=1,
                        help="how long the clock was down: the due share of the spread")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgresql"):
        raise SystemExit("The benchmark runs against PostgreSQL: set DATABASE_URL to one.")
    if url == DEFAULT_URL:
        ensure_database(url)
    clock = FrozenClock()
    # The StubBroker: the batches are enqueued, never delivered.
    app = create_worker_app({"OCKTOREIS_ENV": "development", "DATABASE_URL": url,
                             "SECRET_KEY": "bench", "RABBITMQ_URL": None,
                             "INSTANCE_DIR": tempfile.mkdtemp(prefix="ocktoreis-bench-"),
                             "CLOCK": clock})
    engine = app.extensions["db_engine"]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM application WHERE id LIKE 'bench-%'"))
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(LOAD, {"n": args.n, "spread": f"{SPREAD_DAYS} days",
                                  "start": clock.now() - timedelta(hours=args.overdue_hours)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE application"))
    print(f"loaded {args.n} pending invitations in {time.perf_counter() - started:.1f} s "
          f"(due spread over {SPREAD_DAYS} days, {args.overdue_hours:g} h of it overdue)")

    with app.app_context():
        started = time.perf_counter()
        due = invitations.enqueue_due_mail()
        tick_s = time.perf_counter() - started
    broker = app.extensions["broker"]
    messages = sum(broker.queues[queue].qsize() for queue in broker.queues)
    print(f"one tick claimed {due} due applications and enqueued {messages} batch messages")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM application WHERE id LIKE 'bench-%'"))
    engine.dispose()
    print(f"reminders invitations={args.n} due={due} tick_s={tick_s:.3f}")


if __name__ == "__main__":
    main()
