"""Everything in one process on the embedded defaults: `python -m webapp [--host H] [--port P]`.

Web server, Dramatiq worker threads on the StubBroker, the clock in a thread, live events
in memory, SQLite, mail into the outbox folder, and the simulators of DigiD, the sources and
the municipality.
"""

import argparse
import os
import sys

import dramatiq
from dramatiq.brokers.stub import StubBroker

from messaging.broker import AppContext
from webapp import create_app, logs
from webapp.config import StartRefused
from webapp.metrics import JobMetrics
from webapp.serving import RequestHandler
from workers import actors, clock


def main():
    parser = argparse.ArgumentParser(prog="python -m webapp")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--worker-threads", type=int, default=4)
    args = parser.parse_args()
    own_url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    os.environ.setdefault("PUBLIC_URL", own_url)
    os.environ.setdefault("DEV_PAGES", "1")

    try:
        app = create_app()
    except StartRefused as refused:
        sys.exit(str(refused))
    logs.configure(app.config["LOG_FORMAT"])
    broker = app.extensions["broker"]
    worker = clock_stop = None
    if isinstance(broker, StubBroker):  # no RABBITMQ_URL: the workers and the clock run here
        broker.add_middleware(AppContext(app=app))
        broker.add_middleware(JobMetrics())
        broker.add_middleware(logs.JobLogs())
        actors.declare(broker, app.config["DELIVERY_RETRIES"])
        worker = dramatiq.Worker(broker, worker_threads=args.worker_threads)
        worker.start()
        clock_stop = clock.start_thread(app)
    print(f"Ocktoreis is running: open {app.config['PUBLIC_URL']}/", flush=True)
    if app.config["DEV_PAGES"]:
        print(f"Mail outbox (development): {app.config['PUBLIC_URL']}/dev/outbox", flush=True)
    print(f"Operators' dashboard: {app.config['PUBLIC_URL']}/beheer/"
          + ("" if app.config["OPERATOR_PASSWORD_HASH"] else
             " (password: .venv/bin/flask --app webapp beheer password)"), flush=True)
    if app.config["SIMULATORS"]:
        print("Municipality staff password (simulator): "
              ".venv/bin/flask --app webapp gemeente password GM0193", flush=True)
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False,
                request_handler=RequestHandler)
    finally:
        if worker:
            clock_stop.set()
            worker.stop()


if __name__ == "__main__":
    main()
