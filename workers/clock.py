"""The clock: every CLOCK_INTERVAL_S (a minute) it runs each periodic sweep once.

`python -m workers.clock` is the Procfile's `clock` process; the embedded `python -m webapp`
runs the same loop in a thread. A sweep finds what is due in the database and enqueues it;
the schedule lives in the database, never in the broker, so a restart loses nothing, and
every sweep is safe with several clocks at once. Add a sweep with one line in SWEEPS.
"""

import logging
import os
import sys
import threading
import time

from webapp import invitations, privacy
from webapp.db import session

log = logging.getLogger("ocktoreis.clock")

SWEEPS = [
    invitations.enqueue_due_mail,  # invitations and reminders
    privacy.purge_overdue,  # journeys past their time to live: here, so no worker is needed
]


def tick(app, sweeps=None):
    """Run each sweep once in its own app context; one that fails does not stop the rest."""
    done = {}
    for sweep in SWEEPS if sweeps is None else sweeps:
        with app.app_context():
            try:
                done[sweep.__name__] = sweep()
            except Exception:  # logged; the next tick tries again
                log.exception("sweep %s failed", sweep.__name__)
                session.rollback()
    return done


def run(app, stop=None):
    """Tick every CLOCK_INTERVAL_S until `stop` (a threading.Event) is set."""
    stop = stop or threading.Event()
    interval = app.config["CLOCK_INTERVAL_S"]
    while not stop.is_set():
        started = time.monotonic()
        for name, count in tick(app).items():
            if count:
                log.info("%s: %s enqueued", name, count)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def start_thread(app):
    """The clock in a daemon thread of this process (the embedded default); returns its stop."""
    stop = threading.Event()
    threading.Thread(target=run, args=(app, stop), name="clock", daemon=True).start()
    return stop


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s clock %(levelname)s %(message)s")
    if not os.environ.get("RABBITMQ_URL"):
        sys.exit("The clock process needs RABBITMQ_URL; on the embedded defaults "
                 "`python -m webapp` runs the clock itself.")
    import workers  # noqa: F401  (sets the broker, registers the actors)
    from webapp import create_app
    run(create_app())


if __name__ == "__main__":
    main()
