"""Step 2: the invitation e-mail with the personal link, and its reminders.

Every mail of an application goes through `send_mail`, however it was queued: right after
the application, or by the clock's sweep (`enqueue_due_mail`) when the schedule in the
database says it is due. Both sides claim with a compare-and-set on the row, so several
clocks and workers at once send each mail once.
"""

from datetime import timedelta

from flask import current_app, render_template
from sqlalchemy import or_, select, update

from messaging import mail
from webapp.db import session
from webapp.domain import gemeenten
from webapp.domain.reminders import INVITATION, Schedule
from webapp.journeys import invitation_url, utcnow
from webapp.models import Application

SENDING_LEASE = timedelta(minutes=10)  # a worker that died while sending is replaced then
SWEEP_BATCH = 2000  # applications claimed per statement, and ids per queued message


def schedule():
    config = current_app.config
    return Schedule(config["REMINDER_DAYS"], config["INVITATION_TTL_DAYS"])


def retry_at(now):
    """When the clock enqueues mail again that it enqueued at `now` but nobody sent."""
    return now + timedelta(minutes=current_app.config["MAIL_RETRY_AFTER_MIN"])


def enqueue_due_mail():
    """The clock's sweep: claim the applications whose mail is due and queue it in batches.

    A claim moves `next_mail_at` on to the retry time, in one statement that skips rows
    another clock holds, so no two clocks queue the same mail, and mail no worker sends
    (a lost message, a clock that died before enqueueing) comes round again.
    """
    from workers.mail import queue_mail
    now = utcnow()
    claimed_total = 0
    while True:
        # PostgreSQL locks the batch and skips rows another clock holds; SQLite has one
        # writer at a time. The update's own condition is the compare-and-set for both.
        due = (select(Application.id).where(Application.next_mail_at <= now)
               .order_by(Application.next_mail_at).limit(SWEEP_BATCH)
               .with_for_update(skip_locked=True).cte("due"))
        claimed = session.scalars(
            update(Application).where(Application.id == due.c.id, Application.next_mail_at <= now)
            .values(next_mail_at=retry_at(now)).returning(Application.id)
            .execution_options(synchronize_session=False)).all()
        session.commit()
        if claimed:
            queue_mail.send(claimed)
        claimed_total += len(claimed)
        if len(claimed) < SWEEP_BATCH:
            return claimed_total


def send_mail(application_id):
    """Worker: send the invitation, or the latest reminder that is due; each once."""
    now = utcnow()
    application = session.get(Application, application_id)
    if application is None:
        return
    plan = schedule()
    number = plan.mail_due(application.status, application.invitation_sent_at,
                           application.expires_at, application.reminders_sent, now)
    if number is None or application.email is None:
        application.next_mail_at = _next_mail_at(plan, application)
        session.commit()
        return
    if not _claim(application, number, now):
        return  # another worker sends it, or has sent it
    try:
        _send(application, number, plan, now)
    except Exception:
        _release(application.id)
        raise  # Dramatiq retries with backoff; after the last retry the clock does
    if number == INVITATION:
        application.invitation_sent_at = now
        application.expires_at = plan.expires_at(now)
    else:
        application.reminders_sent = number
    application.mail_claimed_until = None
    application.next_mail_at = _next_mail_at(plan, application)
    session.commit()


def _next_mail_at(plan, application):
    return plan.next_mail_at(application.status, application.invitation_sent_at,
                             application.expires_at, application.reminders_sent)


def _claim(application, number, now):
    """Take the sending lease, if the mail is still unsent and nobody else holds the lease."""
    unsent = (Application.invitation_sent_at.is_(None) if number == INVITATION
              else Application.reminders_sent == application.reminders_sent)
    claimed = session.execute(
        update(Application)
        .where(Application.id == application.id, unsent,
               or_(Application.mail_claimed_until.is_(None), Application.mail_claimed_until <= now))
        .values(mail_claimed_until=now + SENDING_LEASE))
    session.commit()
    return claimed.rowcount == 1


def _release(application_id):
    session.rollback()
    session.execute(update(Application).where(Application.id == application_id)
                    .values(mail_claimed_until=None))
    session.commit()


def _send(application, number, plan, now):
    expires_at = application.expires_at or plan.expires_at(now)
    context = {"name": application.name, "link": invitation_url(application.id),
               "gemeente": gemeenten.by_code(application.gemeente_code),
               "days": plan.days_left(expires_at, now)}
    template = "invitation" if number == INVITATION else "reminder"
    subject = ("Lever uw gegevens aan met de Ockto app" if number == INVITATION
               else "Herinnering: lever uw gegevens aan met de Ockto app")
    # The same Message-ID on a resend lets mail clients drop the copy (see README).
    mail.send(subject, application.email,
              render_template(f"mail/{template}.txt", **context),
              render_template(f"mail/{template}.html", **context),
              message_id=f"<ocktoreis.{application.id}.{number}@gezondverzekerd.nl>")
