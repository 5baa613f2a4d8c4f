"""The clock: runs each periodic sweep at its own interval.

`python -m workers.clock` is the Procfile's `clock` process; the embedded `python -m webapp`
runs the same loop in a thread. A sweep finds what is due in the database and asks for
it; the schedule lives in the database, never in the broker, so a restart loses nothing,
and every sweep is safe with several clocks at once. Add a sweep with one line in SWEEPS.
"""

import logging
import sys
import threading
import time

from messaging.broker import make_broker
from webapp import create_worker_app, invitations, logs, metrics, outbox, privacy
from webapp.config import Config, StartRefused
from webapp.db import session

log = logging.getLogger("ocktoreis.clock")

# (sweep, the setting that says every how many seconds it runs)
SWEEPS = [
    (invitations.enqueue_due_mail, "CLOCK_INTERVAL_S"),  # invitations and reminders
    (privacy.purge_overdue, "CLOCK_INTERVAL_S"),  # journeys past their time to live
    (outbox.relay_overdue, "OUTBOX_RETRY_S"),  # jobs committed but not on the queue yet
    (privacy.delete_old_receipts, "CLOCK_INTERVAL_S"),  # receipts past their retention
]


def tick(app, sweeps=None):
    """Run each sweep once in its own app context; one that fails does not stop the rest.
    Returns {sweep name: its result} of those that succeeded."""
    done = {}
    for sweep in [sweep for sweep, _ in SWEEPS] if sweeps is None else sweeps:
        with app.app_context():
            try:
                done[sweep.__name__] = sweep()
            except Exception:  # logged; the next tick tries again
                log.exception("sweep %s failed", sweep.__name__)
                session.rollback()
    with app.app_context():
        try:
            metrics.record_clock_tick()
        except Exception:  # noqa: BLE001  (the sweeps matter; the alert will say it)
            log.exception("clock tick not recorded")
            session.rollback()
    return done


def run(app, stop=None):
    """Run every sweep when it is due until `stop` (a threading.Event) is set."""
    stop = stop or threading.Event()
    due = {sweep: 0.0 for sweep, _ in SWEEPS}
    while not stop.is_set():
        now = time.monotonic()
        ready = [sweep for sweep, at in due.items() if at <= now]
        for name, result in tick(app, ready).items():
            if result:
                log.info("%s: %s", name, result)
        for sweep, setting in SWEEPS:
            if sweep in ready:
                due[sweep] = now + app.config[setting]
        stop.wait(max(0.0, min(due.values()) - time.monotonic()))


def start_thread(app):
    """The clock in a daemon thread of this process (the embedded default); returns its stop."""
    stop = threading.Event()
    threading.Thread(target=run, args=(app, stop), name="clock", daemon=True).start()
    return stop


def main():
    config = Config()
    logs.configure(config.LOG_FORMAT)
    if not config.RABBITMQ_URL:
        sys.exit("The clock process needs RABBITMQ_URL; on the embedded defaults "
                 "`python -m webapp` runs the clock itself.")
    try:
        app = create_worker_app(broker=make_broker(config.RABBITMQ_URL))
    except StartRefused as refused:
        sys.exit(str(refused))
    run(app)


if __name__ == "__main__":
    main()
