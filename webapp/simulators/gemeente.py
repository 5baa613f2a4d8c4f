"""Municipality simulator: the inbox where a municipality receives delivered dossiers.

It keeps its own database (INBOX_DATABASE_URL): the dossier lives on the municipality's
side, never in Ockto's. A delivery must be signed by the journey service with this
municipality's key (webapp.signing), fresh, and never seen before; an Idempotency-Key belongs
to one municipality and one body: the same key with the same body again stores nothing new,
with another body it is refused.

Staff sign in per municipality and see only its dossiers. Each municipality's staff have a
password of their own: a hash in GEMEENTE_STAFF_PASSWORDS (`flask --app webapp gemeente
new-password GM0193` makes one), else derived from SECRET_KEY and the CBS code (`flask --app
webapp gemeente password GM0193` shows it). A staff session is a row in the inbox database,
so signing out ends it for every copy of the cookie.
"""

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta, timezone

import click
from flask import (Blueprint, abort, current_app, make_response, redirect, render_template, request,
                   session as cookie, url_for)
from sqlalchemy import String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import signing
from webapp.clock import utcnow
from webapp.db import make_engine
from webapp.domain import gemeenten
from webapp.domain.sources import BY_KEY, describe
from webapp.pages import form_errors, personal

from . import zgw
from .sources import MemoryOutages, RedisOutages, switch_outage

bp = personal(Blueprint("gemeente", __name__, url_prefix="/gemeente"))


class InboxBase(DeclarativeBase):
    pass


class Dossier(InboxBase):
    __tablename__ = "dossier"
    __table_args__ = (UniqueConstraint("gemeente_code", "delivery_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    gemeente_code: Mapped[str] = mapped_column(String(6), index=True)
    delivery_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)


class SeenSignature(InboxBase):
    """Signatures of recent deliveries: the same signed request twice is a replay."""

    __tablename__ = "seen_signature"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime]


class StaffSession(InboxBase):
    """A staff member signed in: the hash of the random id in their cookie, until sign-out."""

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    gemeente_code: Mapped[str] = mapped_column(String(6))
    expires_at: Mapped[datetime]


STAFF = "gemeente_staff"  # the cookie's key for the staff session id
STAFF_SESSION = timedelta(hours=8)  # a working day; then sign in again
HASH_METHODS = ("scrypt:", "pbkdf2:")


def _now():
    """The real time, as signing.verify reads it (staff sessions follow the app's clock)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def init_app(app):
    for code, configured in app.config["GEMEENTE_STAFF_PASSWORDS"].items():
        if not (isinstance(configured, str) and configured.startswith(HASH_METHODS)
                and configured.count("$") >= 2):
            raise ValueError(f"GEMEENTE_STAFF_PASSWORDS holds password hashes, not passwords: "
                             f"{code} (`flask --app webapp gemeente new-password {code}` makes one)")
    engine = make_engine(app.config["INBOX_DATABASE_URL"])
    for metadata in (InboxBase.metadata, zgw.ZgwBase.metadata):
        create_tables(engine, metadata)
    app.extensions["gemeente_inbox"] = engine
    zgw.init_app(app)
    url = app.config.get("REDIS_URL")
    app.extensions["gemeente_sim_outages"] = (RedisOutages(url, "gemeente-sim:storing") if url
                                              else MemoryOutages())
    app.register_blueprint(bp)


def create_tables(engine, metadata):
    """The simulator's tables, also while another process (a set's other web process, booting
    at the same moment) creates them: each refusal means it made a table this one then finds,
    so there are at most as many refusals as tables. SQLite refuses with "already exists";
    PostgreSQL with DuplicateTable, or, when both CREATEs ran at once, with a unique violation
    of its catalogue (the table's type: the second waits for the first, then is refused)."""
    for refusals in range(len(metadata.tables) + 1):
        try:
            return metadata.create_all(engine)
        except (OperationalError, ProgrammingError, IntegrityError):  # made between look and CREATE
            if refusals == len(metadata.tables):
                raise


def _inbox():
    return Session(current_app.extensions["gemeente_inbox"])


def _gemeente_or_404(code):
    gemeente = gemeenten.by_code(code)
    if gemeente is None:
        abort(404)
    return gemeente


@bp.post("/storing")
def outage():
    """Take a municipality's endpoint down or bring it back: QA only, in acceptance mode
    (POST /gemeente/storing {"gemeente": "GM0193", "down": true})."""
    return switch_outage(current_app.extensions["gemeente_sim_outages"], "gemeente",
                         lambda code: gemeenten.by_code(code) is not None)


DELIVERY_MAX_BYTES = 4 * 1024 * 1024  # a dossier carries its PDF; other requests stay at 64 KB


@bp.before_request
def _room_for_a_dossier():
    if request.endpoint == "gemeente.receive":
        request.max_content_length = DELIVERY_MAX_BYTES


@bp.post("/api/<code>/dossiers")
def receive(code):
    _gemeente_or_404(code)
    if code in current_app.extensions["gemeente_sim_outages"].down():
        return {"error": "municipality unavailable"}, 503
    body_bytes = request.get_data()
    refused = signing.verify(current_app.config["GEMEENTE_SIGNING_SECRET"], code,
                             request.headers, body_bytes)
    if refused:
        return {"error": refused}, 401
    delivery_id = request.headers[signing.DELIVERY_ID]
    body = request.get_json(silent=True)
    if len(delivery_id) > 64 or not isinstance(body, dict) or body.get("gemeente") != code:
        return {"error": "bad delivery"}, 400
    now = _now()
    with _inbox() as inbox:
        inbox.execute(delete(SeenSignature).where(
            SeenSignature.seen_at < now - timedelta(seconds=2 * signing.WINDOW_S)))
        signature = request.headers[signing.SIGNATURE]
        if inbox.get(SeenSignature, signature):
            inbox.commit()
            return {"error": "replayed"}, 409
        inbox.add(SeenSignature(signature=signature, seen_at=now))
        existing = inbox.scalar(select(Dossier).filter_by(gemeente_code=code,
                                                          delivery_id=delivery_id))
        if existing:
            inbox.commit()
            if json.loads(existing.body) != body:
                # A key is reusable with the same request only (422 as in the IETF draft "The
                # Idempotency-Key HTTP Header Field"); the first body stays.
                return {"error": "Idempotency-Key already used for another delivery"}, 422
            return {"reference": existing.id}  # the journey service tried again: nothing new
        dossier = Dossier(id=secrets.token_hex(8), gemeente_code=code, delivery_id=delivery_id,
                          received_at=now, body=json.dumps(body))
        inbox.add(dossier)
        inbox.commit()
        return {"reference": dossier.id}, 201


def staff_password_hash(code, password):
    """What GEMEENTE_STAFF_PASSWORDS holds for `code`: a hash that opens that municipality only."""
    return generate_password_hash(f"{code}:{password}")


def development_password(secret_key, code):
    """The staff password of `code` when none is configured: derived, so every process agrees."""
    digest = hmac.new(secret_key.encode(), b"gemeente-staff:" + code.encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()[:10]).decode().lower()


def _password_opens(code, password):
    config = current_app.config
    configured = config["GEMEENTE_STAFF_PASSWORDS"].get(code)
    if configured:
        return check_password_hash(configured, f"{code}:{password}")
    expected = development_password(config["SECRET_KEY"], code)
    return hmac.compare_digest(password.encode(), expected.encode())


def _id_hash(session_id):
    return hashlib.sha256(str(session_id).encode()).hexdigest()


def _end_staff_session(inbox):
    if session_id := cookie.pop(STAFF, None):
        inbox.execute(delete(StaffSession).where(StaffSession.id_hash == _id_hash(session_id)))


@bp.route("/<code>/inloggen", methods=["GET", "POST"])
def login(code):
    """Staff sign in for one municipality; the session then opens only its inbox."""
    gemeente = _gemeente_or_404(code)
    if request.method == "POST":
        if _password_opens(code, request.form.get("password", "")[:128]):
            session_id, now = secrets.token_urlsafe(32), utcnow()
            with _inbox() as inbox:
                _end_staff_session(inbox)
                inbox.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
                inbox.add(StaffSession(id_hash=_id_hash(session_id), gemeente_code=code,
                                       expires_at=now + STAFF_SESSION))
                inbox.commit()
            cookie[STAFF] = session_id
            return redirect(url_for(".inbox", code=code), 303)
        return form_errors("simulators/gemeente_login.html", "simulators/gemeente_login.html",
                           url_for(".login", code=code), gemeente=gemeente,
                           error="Dit wachtwoord klopt niet.")
    return render_template("simulators/gemeente_login.html", gemeente=gemeente, error=None)


@bp.post("/<code>/uitloggen")
def logout(code):
    """Sign out: the session ends in the inbox database, so a copy of the cookie opens nothing."""
    with _inbox() as inbox:
        _end_staff_session(inbox)
        inbox.commit()
    return redirect(url_for(".login", code=code), 303)


def _staff_only(code):
    """The municipality if this browser's staff session is for it; else to its sign-in page."""
    gemeente = _gemeente_or_404(code)
    session_id = cookie.get(STAFF)
    with _inbox() as inbox:
        found = inbox.get(StaffSession, _id_hash(session_id)) if session_id else None
    if found is None or found.gemeente_code != code or found.expires_at <= utcnow():
        abort(redirect(url_for(".login", code=code), 303))
    return gemeente


@bp.get("/<code>/inbox")
def inbox(code):
    """Everything delivered to this municipality: signed dossiers and zaken, newest first."""
    gemeente = _staff_only(code)
    with _inbox() as inbox:
        dossiers = inbox.scalars(select(Dossier).filter_by(gemeente_code=code)).all()
        rows = [(d, json.loads(d.body)) for d in dossiers]
        rows += [(z, z.body) for z in zgw.received_zaken(inbox, code)]
    rows.sort(key=lambda row: row[0].received_at, reverse=True)
    return render_template("simulators/gemeente_inbox.html", gemeente=gemeente, rows=rows)


@bp.get("/<code>/inbox/<dossier_id>")
def dossier(code, dossier_id):
    gemeente = _staff_only(code)
    found, body = _dossier_or_404(code, dossier_id)
    return render_template("simulators/gemeente_dossier.html", gemeente=gemeente,
                           dossier=found, body=body, describe=describe, sources=BY_KEY,
                           zaak=found if isinstance(found, zgw.ReceivedZaak) else None,
                           has_pdf="dossier_pdf" in body or getattr(found, "pdf", None))


@bp.get("/<code>/inbox/<dossier_id>/pdf")
def dossier_pdf(code, dossier_id):
    """The dossier as Ockto delivered it: the PDF for staff to read, search and file."""
    _staff_only(code)
    found, body = _dossier_or_404(code, dossier_id)
    if isinstance(found, zgw.ReceivedZaak):
        with _inbox() as inbox:
            pdf = found.pdf and zgw.document_content(inbox, code, found.pdf)
    else:
        pdf = body.get("dossier_pdf") and base64.b64decode(body["dossier_pdf"])
    if not pdf:
        abort(404)
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="dossier-{dossier_id}.pdf"'
    return response


def _dossier_or_404(code, dossier_id):
    """This municipality's dossier or zaak and its delivered data; 404 for any other."""
    with _inbox() as inbox:
        found = inbox.get(Dossier, dossier_id)
        if found is None or found.gemeente_code != code:
            zaak = zgw.received_zaak(inbox, code, dossier_id)
            if zaak is None:
                abort(404)
            return zaak, zaak.body
    return found, json.loads(found.body)


@bp.cli.command("password")
@click.argument("code")
def print_password(code):
    """Print the staff password of municipality CODE (e.g. GM0193) in this configuration."""
    if gemeenten.by_code(code) is None:
        raise click.ClickException(f"no municipality has the CBS code {code}")
    if code in current_app.config["GEMEENTE_STAFF_PASSWORDS"]:
        raise click.ClickException(f"GEMEENTE_STAFF_PASSWORDS holds only a hash for {code}: its "
                                   "password is known to whoever configured it")
    click.echo(development_password(current_app.config["SECRET_KEY"], code))


@bp.cli.command("new-password")
@click.argument("code")
def new_password(code):
    """Make a new staff password for municipality CODE: shown once, with the hash to configure."""
    if gemeenten.by_code(code) is None:
        raise click.ClickException(f"no municipality has the CBS code {code}")
    password = secrets.token_urlsafe(12)
    click.echo(f"password: {password}  (shown only now)")
    click.echo(f'GEMEENTE_STAFF_PASSWORDS entry: "{code}": "{staff_password_hash(code, password)}"')
