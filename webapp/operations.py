"""What operators see and do (the dashboard, webapp.operators): the funnel of a period, the
jobs that failed all their retries, and trying one again; and the operators' sign-in.

Nothing here reads or returns personal data: the funnel is read from its aggregates
(webapp.funnel), a dead letter is shown by its job, time and error class, a failed delivery
by its municipality and times. A signed-in operator is a row of `operator_session` (the
cookie holds a random id, the database its hash), so signing out ends every copy of the
cookie.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from messaging import deadletters

from . import funnel
from .clock import utcnow
from .db import session
from .domain.funnel import local_day, per_gemeente, report
from .domain.journey import JourneyState
from .models import Journey, OperatorSession, Receipt
from .outbox import QUEUE, Job

SESSION_LENGTH = timedelta(hours=8)  # a working day; then sign in again
SHOWN_DEAD_LETTERS = 200  # read for the page; the total is counted
HASH_METHODS = ("scrypt:", "pbkdf2:")
JOB_LABELS = {
    Job.SEND_MAIL: "E-mail versturen", Job.QUEUE_MAIL: "E-mail inplannen",
    Job.FETCH_SOURCE: "Bron ophalen", Job.DELIVER_DOSSIER: "Dossier afleveren",
    Job.PURGE_JOURNEY: "Gegevens wissen",
}


# Sign-in.

def development_password(secret_key):
    """The operators' password when OPERATOR_PASSWORD_HASH is unset: derived from the key,
    so every process of a deployment agrees (`flask --app webapp beheer password`)."""
    digest = hmac.new(secret_key.encode(), b"operator-dashboard", hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def password_hash(password):
    """What OPERATOR_PASSWORD_HASH holds for `password`."""
    return generate_password_hash(password)


def is_password_hash(value):
    return isinstance(value, str) and value.startswith(HASH_METHODS) and value.count("$") >= 2


def _password_opens(password):
    config = current_app.config
    if configured := config["OPERATOR_PASSWORD_HASH"]:
        return check_password_hash(configured, password)
    expected = development_password(config["SECRET_KEY"])
    return hmac.compare_digest(password.encode(), expected.encode())


def _id_hash(session_id):
    return hashlib.sha256(str(session_id).encode()).hexdigest()


def sign_in(password, previous=None):
    """A new operator session's id when `password` opens the dashboard, else None; the
    previous session of this browser ends."""
    if not _password_opens(password):
        return None
    now = utcnow()
    session_id = secrets.token_urlsafe(32)
    session.execute(delete(OperatorSession).where(OperatorSession.expires_at <= now))
    if previous:
        session.execute(delete(OperatorSession).where(OperatorSession.id_hash == _id_hash(previous)))
    session.add(OperatorSession(id_hash=_id_hash(session_id), expires_at=now + SESSION_LENGTH))
    session.commit()
    return session_id


def signed_in(session_id):
    """True while `session_id` is a session that has not ended."""
    if not session_id:
        return False
    found = session.get(OperatorSession, _id_hash(session_id))
    return found is not None and found.expires_at > utcnow()


def sign_out(session_id):
    if session_id:
        session.execute(delete(OperatorSession).where(OperatorSession.id_hash == _id_hash(session_id)))
        session.commit()


# The funnel.

def today():
    """Today in the Netherlands, by the app's clock."""
    return local_day(utcnow())


def funnel_report(period, gemeente_code=None):
    """The funnel of the applications made in `period`, of one municipality or all."""
    return report(funnel.rows(period, gemeente_code),
                  reminders=len(current_app.config["REMINDER_DAYS"]))


def municipalities(period):
    """Each municipality's funnel in `period` (those with applications), most first."""
    return per_gemeente(funnel.totals(period))


# Jobs that failed all their retries.

@dataclass(frozen=True)
class FailedJob:
    message_id: str
    label: str
    failed_at: datetime | None
    retries: int
    error: str | None


@dataclass(frozen=True)
class FailedDelivery:
    message_id: str
    gemeente_code: str | None
    consent_at: datetime | None
    purged_at_latest: datetime | None  # the journey's time to live ends then
    still_sending: bool  # False: the journey ended meanwhile, trying again does nothing
    failed_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Failures:
    deliveries: tuple[FailedDelivery, ...]
    jobs: tuple[FailedJob, ...]  # every other dead letter
    total: int  # dead letters in the queue (more than shown when there are very many)
    sending: int  # journeys whose dossier is on its way now
    readable: bool  # False: the broker could not be read


def _delivery(letter):
    journey = session.get(Journey, letter.args[0]) if letter.args else None
    receipt = session.get(Receipt, journey.id) if journey else None
    ttl = timedelta(hours=current_app.config["JOURNEY_TTL_HOURS"])
    return FailedDelivery(
        letter.message_id, receipt.gemeente_code if receipt else None,
        receipt.consent_at if receipt else None, journey.created_at + ttl if journey else None,
        journey is not None and journey.state is JourneyState.SENDING, letter.failed_at,
        letter.error)


def failures():
    """The dead letters now: failed deliveries apart, and how many dossiers are on their way."""
    sending = session.scalar(select(func.count()).select_from(Journey)
                             .where(Journey.state == JourneyState.SENDING))
    broker = current_app.extensions["broker"]
    try:
        total, found = deadletters.first(broker, QUEUE, SHOWN_DEAD_LETTERS)
    except Exception as exc:  # noqa: BLE001  (the page says so; the funnel still shows)
        current_app.logger.warning("dead letters not read (%s)", type(exc).__name__)
        return Failures((), (), 0, sending, False)
    deliveries = tuple(_delivery(letter) for letter in found
                       if letter.actor_name == Job.DELIVER_DOSSIER)
    jobs = tuple(FailedJob(letter.message_id, JOB_LABELS.get(letter.actor_name, letter.actor_name),
                           letter.failed_at, letter.retries, letter.error)
                 for letter in found if letter.actor_name != Job.DELIVER_DOSSIER)
    return Failures(deliveries, jobs, total, sending, True)


def retry(message_id):
    """Put a dead letter back on the queue; False when it is not among them (any more)."""
    try:
        requeued = deadletters.requeue(current_app.extensions["broker"], QUEUE, {message_id})
    except Exception as exc:  # noqa: BLE001  (the page says it did not work)
        current_app.logger.warning("dead letter not requeued (%s)", type(exc).__name__)
        return False
    if requeued:
        current_app.logger.info("dead letter %s requeued by an operator", message_id)
    return requeued
