"""Health for load balancers and operators.

`/health/live`: the process answers (restart it when it does not). `/health/ready`: it can
serve a journey: the database and the broker answer (take it out of the load balancer when
not). Redis is not needed for that (pages poll while live events are down) and mail never is
(nothing in the journey waits for it). `/health`: the report of every service, for operators,
with the status of `/health/ready`.
"""

import smtplib

import pika
import redis
from flask import Blueprint, current_app
from sqlalchemy import text

from .db import session

bp = Blueprint("health", __name__)


def _database():
    session.execute(text("SELECT 1"))
    return "ok"


def _broker():
    broker = current_app.extensions["broker"]
    if not hasattr(broker, "parameters"):
        return "ok (embedded StubBroker)"
    connection = pika.BlockingConnection(broker.parameters)
    connection.close()
    return "ok"


def _events():
    url = current_app.config["REDIS_URL"]
    if not url:
        return "ok (embedded)"
    redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    return "ok"


def _mail():
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return "ok (outbox folder)"
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=3) as smtp:
        smtp.noop()
    return "ok"


CHECKS = {"database": _database, "broker": _broker, "events": _events, "mail": _mail}
NEEDED = ("database", "broker")  # for a journey; the others degrade it, never stop it


def _report(names):
    checks = {}
    for name in names:
        try:
            checks[name] = CHECKS[name]()
        except Exception as exc:  # a reason to report, not to crash
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(checks[name].startswith("ok") for name in NEEDED if name in checks)
    degraded = not all(value.startswith("ok") for value in checks.values())
    status = "error" if not ready else "degraded" if degraded else "ok"
    return {"status": status, "checks": checks}, 200 if ready else 503


@bp.get("/health/live")
def live():
    return {"status": "ok"}


@bp.get("/health/ready")
def ready():
    return _report(NEEDED)


@bp.get("/health")
def health():
    return _report(CHECKS)
