"""One of several processes counting the funnel at once in one PostgreSQL database.

    python -m tests.integration.funnel_writer DATABASE_URL NOW INSTANCE_DIR NEW APPLICATION_ID...

Builds a worker app on DATABASE_URL with its clock standing at NOW (ISO), says "ready" and
waits for a line on stdin (so that the processes start together), then makes NEW applications (each counted as
applied, in the same aggregate row as the other processes' applications) and opens the
personal link of every APPLICATION_ID (which every process opens too).
"""

import sys
from datetime import datetime

from webapp import create_worker_app, db, invitations
from webapp.domain.application import ApplicationInput
from webapp.domain.clock import FrozenClock

SECRET_KEY = "funnel-writer-test-key"
FORM = ApplicationInput("GM0193", "Sanne Bakker", "sanne@example.org", "999900031", False, None, None)


def main():
    url, now, instance, new, *application_ids = sys.argv[1:]
    app = create_worker_app({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "INSTANCE_DIR": instance,
                             "RABBITMQ_URL": None, "REDIS_URL": None, "MAIL_SERVER": None,
                             "CLOCK": FrozenClock(datetime.fromisoformat(now))})
    print("ready", flush=True)
    sys.stdin.readline()
    with app.app_context():
        for i, application_id in enumerate(application_ids):
            if i < int(new):
                invitations.create_application(FORM)
            token = invitations.invitation_url(application_id).rsplit("/", 1)[1]
            invitations.open_invitation(token)
        for _ in range(int(new) - len(application_ids)):
            invitations.create_application(FORM)
    db.dispose(app)


if __name__ == "__main__":
    main()
