"""Municipality simulator: the inbox where a municipality receives delivered dossiers.

It keeps its own database (INBOX_DATABASE_URL): the dossier lives on the municipality's
side, never in Ockto's. Deliveries must carry the journey service's key and an
Idempotency-Key; the same key twice stores one dossier.
"""

import hmac
import json
import secrets
from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from webapp.db import make_engine
from webapp.domain import gemeenten
from webapp.domain.sources import BY_KEY, describe

bp = Blueprint("gemeente", __name__, url_prefix="/gemeente")


class InboxBase(DeclarativeBase):
    pass


class Dossier(InboxBase):
    __tablename__ = "dossier"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    gemeente_code: Mapped[str] = mapped_column(String(6), index=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)


def init_app(app):
    engine = make_engine(app.config["INBOX_DATABASE_URL"])
    InboxBase.metadata.create_all(engine)
    app.extensions["gemeente_inbox"] = engine
    app.register_blueprint(bp)


def _inbox():
    return Session(current_app.extensions["gemeente_inbox"])


def _gemeente_or_404(code):
    gemeente = gemeenten.by_code(code)
    if gemeente is None:
        abort(404)
    return gemeente


@bp.post("/api/<code>/dossiers")
def receive(code):
    _gemeente_or_404(code)
    expected = f"Bearer {current_app.config['GEMEENTE_API_KEY']}"
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected.encode()):
        return {"error": "unauthorised"}, 401
    delivery_id = request.headers.get("Idempotency-Key", "")
    body = request.get_json(silent=True)
    if not delivery_id or not isinstance(body, dict) or body.get("gemeente") != code:
        return {"error": "bad delivery"}, 400
    with _inbox() as inbox:
        existing = inbox.scalar(select(Dossier).filter_by(delivery_id=delivery_id))
        if existing:
            return {"reference": existing.id}
        dossier = Dossier(id=secrets.token_hex(8), gemeente_code=code, delivery_id=delivery_id,
                          received_at=datetime.now(timezone.utc).replace(tzinfo=None),
                          body=json.dumps(body))
        inbox.add(dossier)
        inbox.commit()
        return {"reference": dossier.id}, 201


@bp.get("/<code>/inbox")
def inbox(code):
    gemeente = _gemeente_or_404(code)
    with _inbox() as inbox:
        dossiers = inbox.scalars(select(Dossier).filter_by(gemeente_code=code)
                                 .order_by(Dossier.received_at.desc())).all()
        rows = [(d, json.loads(d.body)) for d in dossiers]
    return render_template("simulators/gemeente_inbox.html", gemeente=gemeente, rows=rows)


@bp.get("/<code>/inbox/<dossier_id>")
def dossier(code, dossier_id):
    gemeente = _gemeente_or_404(code)
    with _inbox() as inbox:
        found = inbox.get(Dossier, dossier_id)
        if found is None or found.gemeente_code != code:
            abort(404)
        body = json.loads(found.body)
    return render_template("simulators/gemeente_dossier.html", gemeente=gemeente,
                           dossier=found, body=body, describe=describe, sources=BY_KEY)
