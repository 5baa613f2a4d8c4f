"""Purge rules: nothing personal outlives JOURNEY_TTL_HOURS, even if no worker ran when due;
and what remains after a purge, the receipt, goes after RECEIPT_RETENTION_DAYS.

`purge_overdue(now)` is the sweep: the clock runs it every minute. Every web process also
sweeps on a request at most once per PURGE_SWEEP_S, so a deployment whose clock is down
still keeps its promise. `delete_old_receipts(now)` is the clock's retention sweep.
"""

import threading
import time
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, exists, select

from .clock import utcnow
from .db import session
from .domain.journey import IllegalTransition, JourneyState, Outcome
from .journeys import delivery_not_held, expire, purge_application
from .models import Application, Journey, PairingToken, Person, Receipt, SourceFetch

FINAL = [state for state in JourneyState if state.is_final]


def overdue_journey_ids(now):
    cutoff = now - timedelta(hours=current_app.config["JOURNEY_TTL_HOURS"])
    # A delivery under way finishes first (its hold ends within DELIVERY_LEASE_S): the
    # municipality may be receiving the dossier right now.
    return session.scalars(select(Journey.id).where(
        Journey.state.not_in(FINAL), Journey.created_at <= cutoff, delivery_not_held(now))).all()


def purge_overdue(now=None):
    """Purge every unfinished journey past its time to live, and every application whose
    invitation ran out; returns how many journeys and applications were purged."""
    now = now or utcnow()
    journeys = 0
    for journey_id in overdue_journey_ids(now):
        try:
            expire(session.get(Journey, journey_id))
            journeys += 1
        except IllegalTransition:  # it moved on meanwhile (another sweep, a delivery)
            session.rollback()
    # An invitation that ran out: any journey it started has passed its time to live too.
    cutoff = now - timedelta(days=current_app.config["INVITATION_TTL_DAYS"],
                             hours=current_app.config["JOURNEY_TTL_HOURS"])
    applications = session.scalars(select(Application).where(Application.purged_at.is_(None),
                                                             Application.created_at <= cutoff)).all()
    for application in applications:
        purge_application(application, Outcome.EXPIRED)
    session.commit()
    if journeys or applications:
        current_app.logger.info("purge sweep: %d journeys, %d applications", journeys,
                                len(applications))
    return journeys, len(applications)


RETENTION_BATCH = 500  # receipts deleted per transaction: short locks, a tick stays cheap


def delete_old_receipts(now=None):
    """Delete every receipt purged more than RECEIPT_RETENTION_DAYS ago, with what is left of
    its journey, and every purged application older than that with no journey left; returns
    how many receipts and applications went. The funnel's aggregates stay (nothing per
    application)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RECEIPT_RETENTION_DAYS"])
    receipts = 0
    while ids := session.scalars(select(Receipt.journey_id).where(Receipt.purged_at <= cutoff)
                                 .limit(RETENTION_BATCH)).all():
        for table in (SourceFetch, Person, PairingToken):
            session.execute(delete(table).where(table.journey_id.in_(ids)))
        session.execute(delete(Journey).where(Journey.id.in_(ids)))
        session.execute(delete(Receipt).where(Receipt.journey_id.in_(ids)))
        session.commit()
        receipts += len(ids)
    has_journey = exists().where(Journey.application_id == Application.id)
    applications = session.execute(delete(Application).where(
        Application.purged_at <= cutoff, ~has_journey)).rowcount
    session.commit()
    return receipts, applications


class _Sweeper:
    """The opportunistic sweep in the web process: at most once per PURGE_SWEEP_S."""

    def __init__(self):
        self.last = None
        self._lock = threading.Lock()

    def __call__(self):
        interval = current_app.config["PURGE_SWEEP_S"]
        with self._lock:
            if self.last is not None and time.monotonic() - self.last < interval:
                return
            self.last = time.monotonic()
        try:
            purge_overdue()
        except Exception:  # noqa: BLE001  (the request goes on; the next sweep tries again)
            session.rollback()
            current_app.logger.exception("purge sweep failed")


def init_app(app):
    sweeper = app.extensions["purge_sweeper"] = _Sweeper()

    @app.before_request
    def _sweep_when_due():
        # Not for a probe or a scrape: they answer at once, also while the database is away
        # (a sweep would wait DATABASE_CONNECT_WAIT_S for it, longer than a probe waits).
        if app.config["PURGE_SWEEP_S"] > 0 and request.blueprint not in ("health", "metrics"):
            sweeper()
