"""Steps 1 and 2: the application, its invitation e-mail with the personal link, and the
reminders; withdrawing the application.

Every mail of an application goes through `send_mail`, however it was asked for: right
after the application, or by the clock's sweep (`enqueue_due_mail`) when the schedule in the
database says it is due. Both sides claim with a compare-and-set on the row, so several
clocks and workers at once send each mail once.
"""

import smtplib
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale, gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import or_, select, update

from messaging import mail

from . import funnel, journeys, metrics, outbox
from .clock import utcnow
from .db import session
from .domain import gemeenten
from .domain.application import ApplicationStatus, link_closed_because
from .domain.funnel import FunnelStep
from .domain.journey import Outcome
from .domain.reminders import INVITATION, Schedule
from .domain.wording import N_
from .journeys import JourneyError
from .models import Application
from .outbox import Job

class MailUndeliverable(Exception):
    """The address refuses this mail for good: the job must not be retried (workers.actors)."""


def _never_deliverable(exc):
    """What no retry mends: an address the mail's encoding cannot carry, or a recipient the
    server refuses for good (5xx). A 4xx refusal (mailbox full, greylisting) is tried again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, UnicodeError)

SENDING_LEASE = timedelta(minutes=10)  # a worker that died while sending is replaced then
SWEEP_BATCH = 2000  # applications claimed per statement, and ids per queued message


class InvitationClosed(JourneyError):
    """The personal link no longer works: `reason` is WITHDRAWN or EXPIRED."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def create_application(form, language="nl"):
    """Save a validated application, in the language it was made in, and ask for its
    invitation e-mail, in one commit.

    The clock asks for the invitation again should this request never be sent.
    """
    now = utcnow()
    application = Application(
        id=journeys.new_id(), created_at=now, gemeente_code=form.gemeente_code,
        has_partner=form.has_partner, name=form.name, email=form.email, bsn=form.bsn,
        partner_name=form.partner_name, partner_bsn=form.partner_bsn, next_mail_at=retry_at(now),
        language=language)
    session.add(application)
    outbox.request(Job.SEND_MAIL, application.id)
    funnel.record(application, FunnelStep.APPLIED)
    session.commit()
    return application


def remember_language(applications, language):
    """The applications' language from now on: their mails, and every device that opens
    their link, speak it."""
    for application in applications:
        application.language = language
    session.commit()


def _invitation_signer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="invitation")


def invitation_url(application_id):
    token = _invitation_signer().dumps(application_id)
    return f"{current_app.config['PUBLIC_URL']}/uitnodiging/{token}"


def application_id_from_token(token):
    """The application id a personal link carries, or None when the link was tampered with."""
    try:
        return _invitation_signer().loads(token)
    except BadSignature:
        return None


def application_from_token(token):
    """The application behind a personal link, or JourneyError with what to do now.

    The link expires with the application (`expires_at`), not with the token: every
    reminder carries a new token, and the expiry stays the one the invitation promised.
    """
    application_id = application_id_from_token(token)
    application = session.get(Application, application_id) if application_id else None
    if application is None:
        raise JourneyError(_("Deze link klopt niet. Gebruik de link uit uw e-mail."))
    reason = link_closed_because(application.status, application.expires_at, utcnow())
    if reason is ApplicationStatus.WITHDRAWN:
        raise InvitationClosed(reason, _("U heeft deze aanvraag ingetrokken."))
    if reason is ApplicationStatus.EXPIRED:
        raise InvitationClosed(reason, _("Deze uitnodiging is verlopen."))
    return application


def open_invitation(token):
    """The applicant opens the personal link: the application behind it (as
    application_from_token), the first opening counted in the funnel."""
    application = application_from_token(token)
    funnel.record(application, FunnelStep.LINK_OPENED)
    session.commit()
    return application


def withdraw_application(application):
    """The applicant stops: open journeys end, no more reminders, personal data goes."""
    ended = journeys.end_open_journeys(application, Outcome.WITHDRAWN)
    withdrawn = session.execute(update(Application)
                                .where(Application.id == application.id,
                                       Application.status == ApplicationStatus.INVITED)
                                .values(status=ApplicationStatus.WITHDRAWN, next_mail_at=None))
    if withdrawn.rowcount != 1:
        session.rollback()
        raise JourneyError(_("Deze aanvraag is niet meer actief."))
    journeys.purge_application(application, Outcome.WITHDRAWN)
    journeys.publish_all(ended)


def schedule():
    config = current_app.config
    return Schedule(config["REMINDER_DAYS"], config["INVITATION_TTL_DAYS"])


def retry_at(now):
    """When the clock enqueues mail again that it enqueued at `now` but nobody sent."""
    return now + timedelta(minutes=current_app.config["MAIL_RETRY_AFTER_MIN"])


def enqueue_due_mail():
    """The clock's sweep: claim the applications whose mail is due and ask for it in batches.

    A claim moves `next_mail_at` on to the retry time, in one statement that skips rows
    another clock holds, so no two clocks queue the same mail, and mail no worker sends
    (a lost message, a job that failed every retry) comes round again.
    """
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
        if claimed:
            outbox.request(Job.QUEUE_MAIL, claimed)
        session.commit()
        claimed_total += len(claimed)
        if len(claimed) < SWEEP_BATCH:
            return claimed_total


def queue_mails(application_ids):
    """Worker: ask for each application's mail as a job of its own."""
    outbox.request_each(Job.SEND_MAIL, [(application_id,) for application_id in application_ids])
    session.commit()


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
    except Exception as exc:
        if _never_deliverable(exc):
            _give_up(application.id, number, exc)
            raise MailUndeliverable(f"application {application.id}: {type(exc).__name__}") from None
        _release(application.id)
        raise  # Dramatiq retries with backoff; after the last retry the clock does
    metrics.MAILS_SENT.labels(str(number)).inc()
    if number == INVITATION:
        application.invitation_sent_at = now
        application.expires_at = plan.expires_at(now)
        funnel.record(application, FunnelStep.INVITED)
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


def _give_up(application_id, number, exc):
    """This mail can never be sent: no more tries, by Dramatiq or the clock; operators hear."""
    session.rollback()
    session.execute(update(Application).where(Application.id == application_id)
                    .values(mail_claimed_until=None, next_mail_at=None))
    session.commit()
    current_app.logger.error("mail %d of application %s can never be sent (%s): given up",
                             number, application_id, type(exc).__name__)


def _release(application_id):
    session.rollback()
    session.execute(update(Application).where(Application.id == application_id)
                    .values(mail_claimed_until=None))
    session.commit()


def _send(application, number, plan, now):
    # The same Message-ID on a resend lets mail clients drop the copy (see README).
    _mail(application, *_invitation_or_reminder(number), message_key=str(number),
          days=plan.days_left(application.expires_at or plan.expires_at(now), now))


def _invitation_or_reminder(number):
    """(template, subject) of mail `number`: 0 the invitation, then the reminders."""
    if number == INVITATION:
        return "invitation", N_("Lever uw gegevens aan met de Ockto app")
    return "reminder", N_("Herinnering: lever uw gegevens aan met de Ockto app")


def _mail(application, template, subject, message_key, days):
    """One of the application's mails, with its personal link, to its address, in its
    language; tagged with the application, so its purge takes it out of the embedded
    default's outbox. `subject` is the Dutch source text, marked with N_."""
    context = {"name": application.name, "link": invitation_url(application.id),
               "gemeente": gemeenten.by_code(application.gemeente_code), "days": days}
    with force_locale(application.language):
        subject, text, html = (_(subject), render_template(f"mail/{template}.txt", **context),
                               render_template(f"mail/{template}.html", **context))
    mail.send(subject, application.email, text, html,
              message_id=f"<ocktoreis.{application.id}.{message_key}@gezondverzekerd.nl>",
              about=application.id)


def _mail_or_dead_letter(application, *args, **kwargs):
    """`_mail`; one that can never be sent raises MailUndeliverable (a dead letter at once),
    any other failure is retried by Dramatiq."""
    try:
        _mail(application, *args, **kwargs)
    except Exception as exc:
        if _never_deliverable(exc):
            raise MailUndeliverable(f"application {application.id}: {type(exc).__name__}") from None
        raise


# Operators: an application's mail again, on request (flask --app webapp beheer resend-invitation).

class NoMailToResend(Exception):
    """The application gets no more mail: `reason` is its status (EXPIRED also when the link
    ran out before the sweep marked it)."""

    def __init__(self, reason):
        super().__init__(f"the application is {reason}")
        self.reason = reason


def resend_invitation(application):
    """Ask for the application's mail again; returns its number (0: the invitation).

    A mail that is due now (also an invitation never sent) goes the usual way, `send_mail`.
    Otherwise the latest mail it got is sent again by `resend_mail`, with a fresh link. The
    schedule stands either way: the link keeps the expiry the invitation promised, the
    reminders keep their days.
    """
    now = utcnow()
    if reason := _no_mail_because(application, now):
        raise NoMailToResend(reason)
    number = schedule().mail_due(application.status, application.invitation_sent_at,
                                 application.expires_at, application.reminders_sent, now)
    if number is not None:
        application.next_mail_at = retry_at(now)  # the clock asks again should this job be lost
        outbox.request(Job.SEND_MAIL, application.id)
    else:
        number = application.reminders_sent
        outbox.request(Job.RESEND_MAIL, application.id, number, journeys.new_id())
    session.commit()
    return number


def resend_mail(application_id, number, resend_id):
    """Worker: send mail `number` again while it is the latest the application got and its
    link works. The copy has a Message-ID of its own (a client that deduplicates would hide
    a copy of the original); a redelivery of this job has the same one."""
    now = utcnow()
    application = session.get(Application, application_id)
    if (application is None or _no_mail_because(application, now)
            or application.invitation_sent_at is None or application.reminders_sent != number):
        return  # it ended meanwhile, or a newer mail went out
    _mail_or_dead_letter(application, *_invitation_or_reminder(number),
                         message_key=f"{number}.{resend_id}",
                         days=schedule().days_left(application.expires_at, now))


def send_restart_mail(application_id, journey_id):
    """Worker: a journey ended after consent because its data key was lost (webapp.journeys
    `end_with_lost_key`): tell the customer nothing was sent and to start again with the link
    from the invitation, while that link works. One Message-ID per journey."""
    now = utcnow()
    application = session.get(Application, application_id)
    if application is None or _no_mail_because(application, now):
        return  # delivered by a new journey meanwhile, withdrawn or expired: nothing to say
    _mail_or_dead_letter(application, "restart", N_("Uw gegevens zijn niet verstuurd: begin opnieuw"),
                         message_key=f"opnieuw.{journey_id}",
                         days=schedule().days_left(application.expires_at, now))


def _no_mail_because(application, now):
    """Why the application gets no mail (DELIVERED, WITHDRAWN or EXPIRED), or None."""
    if application.status is ApplicationStatus.DELIVERED:
        return ApplicationStatus.DELIVERED
    return link_closed_because(application.status, application.expires_at, now)


def mail_undelivered(application_id, journey_id):
    """Worker: tell the customer that the dossier never reached the municipality and that
    the same link starts again (while it works). A redelivery of this job sends a copy with
    the same Message-ID, which mail clients drop."""
    now = utcnow()
    application = session.get(Application, application_id)
    if application is None or application.email is None or _no_mail_because(application, now):
        return
    plan = schedule()
    _mail_or_dead_letter(application, "undelivered", N_("Uw gegevens zijn niet bij de gemeente aangekomen"),
                         message_key=f"undelivered.{journey_id}",
                         days=plan.days_left(application.expires_at or plan.expires_at(now), now))
