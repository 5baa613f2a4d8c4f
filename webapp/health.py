"""GET /health: is each service this process depends on reachable?"""

from flask import Blueprint
from sqlalchemy import text

from messaging.broker import broker

from .db import session

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    checks = {"broker": type(broker).__name__}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # a reason to report, not to crash
        checks["database"] = f"error: {type(exc).__name__}"
    healthy = checks["database"] == "ok"
    return {"status": "ok" if healthy else "error", "checks": checks}, 200 if healthy else 503
