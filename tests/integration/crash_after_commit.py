"""One request to the real web app, in a process that dies right after the request's commit
and before its job reaches the broker: what a web process killed at that moment leaves.

    python -m tests.integration.crash_after_commit METHOD PATH COOKIE CSRF [field=value ...]

The environment names the deployment (DATABASE_URL, RABBITMQ_URL, REDIS_URL, SECRET_KEY).
Exits with CRASHED from inside the first send to the broker; with 0 if nothing was sent.
"""

import os
import sys

from webapp import create_app

CRASHED = 86


def main():
    method, path, cookie, csrf, *fields = sys.argv[1:]
    app = create_app()

    def die(*args, **kwargs):
        os._exit(CRASHED)  # no clean-up, nothing sent: as a SIGKILL at this moment

    app.extensions["broker"].enqueue = die
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    response = client.open(path, method=method, data=dict(f.split("=", 1) for f in fields),
                           headers={"X-CSRF-Token": csrf})
    print(f"answered {response.status_code} without sending a job", file=sys.stderr)


if __name__ == "__main__":
    main()
