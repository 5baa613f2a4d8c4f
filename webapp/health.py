"""GET /health: is each service this process depends on reachable? 503 when one is not."""

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


@bp.get("/health")
def health():
    checks = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as exc:  # a reason to report, not to crash
            checks[name] = f"error: {type(exc).__name__}"
    healthy = all(value.startswith("ok") for value in checks.values())
    return {"status": "ok" if healthy else "error", "checks": checks}, 200 if healthy else 503
