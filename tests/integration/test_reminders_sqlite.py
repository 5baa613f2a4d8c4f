"""The embedded default: the clock's sweep and the reminders on SQLite, mail in the outbox."""

import threading

from webapp.simulators.population import SANNE
from workers import clock as clock_process

from .helpers import application_form, outbox_messages


def test_two_clocks_on_sqlite_queue_one_reminder(app, desktop, run_jobs, clock):
    assert desktop.post("/aanvraag", data=application_form(SANNE)).status_code == 303
    run_jobs()
    clock.advance(days=5)
    counts = []
    clocks = [threading.Thread(target=lambda: counts.append(clock_process.tick(app)))
              for _ in range(2)]
    for thread in clocks:
        thread.start()
    for thread in clocks:
        thread.join()
    assert sorted(c["enqueue_due_mail"] for c in counts) == [0, 1]
    run_jobs()
    subjects = [m["Subject"] for m in outbox_messages(app)]
    assert subjects == ["Lever uw gegevens aan met de Ockto app",
                        "Herinnering: lever uw gegevens aan met de Ockto app"]
    assert "De link werkt nog 23 dagen." in outbox_messages(app)[1].get_body(("plain",)).get_content()
