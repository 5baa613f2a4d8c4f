"""Acceptance mode (ACCEPTANCE_MODE=1, QA only, never in production): move one
application's time forward, so a journey test can wait five days in a second; lose one
journey's data key, so QA can see what a customer sees after Redis lost its keys.

Moving forward is done by back-dating that application's own timestamps (the invitation,
the expiry, the schedule): to that application the days have passed; nothing else changes.
Then the clock's sweep runs at once, as the clock process would within a minute.
"""

from datetime import timedelta

from flask import Blueprint, abort, current_app, request

from . import invitations, journeys, keys
from .db import session
from .models import Application

bp = Blueprint("acceptance", __name__, url_prefix="/acceptatie")

SHIFTED = ("created_at", "invitation_sent_at", "expires_at", "next_mail_at", "mail_claimed_until")


def move_time(application, days):
    """Let `days` pass for this application only."""
    for name in SHIFTED:
        if (value := getattr(application, name)) is not None:
            setattr(application, name, value - timedelta(days=days))
    session.commit()


def _application(token):
    application_id = invitations.application_id_from_token(token)
    application = session.get(Application, application_id) if application_id else None
    if application is None:
        abort(404)
    return application


@bp.post("/uitnodiging/<token>/tijd")
def advance_time(token):
    """Move the application of this personal link `dagen` days on, then run the sweep."""
    days = request.form.get("dagen", type=float)
    application = _application(token)
    if days is None or not 0 < days <= 60:
        abort(400)
    move_time(application, days)
    return {"application": application.id, "moved_days": days,
            "enqueued": invitations.enqueue_due_mail()}


@bp.post("/uitnodiging/<token>/sleutel-kwijt")
def lose_key(token):
    """Lose the data key of this application's journey under way, as a restart of Redis
    without persistence would: the journey then ends as it would in production, at the next
    step that needs the key (the review, the delivery), with the customer told."""
    journey = journeys.open_journey(_application(token))
    if journey is None:
        abort(404)
    if journey.key_made_at is None:  # nobody logged in yet: there is no key to lose
        return {"error": "this journey has no data key yet"}, 409
    keys.store(current_app).delete(journey.id)
    return {"journey": journey.id}
