"""Operator commands: `flask --app webapp beheer …`, run with the deployment's settings.

They take ids (an application's or a journey's, as the logs and receipts name them; a job's
message id), never personal data, and print only ids, states and counts. Anything they
cannot do (an unknown id, an application or journey that has already ended) is refused
with a message on stderr and exit code 1; a wrong call with usage help and exit code 2.

    beheer resend-invitation APPLICATION_ID    the mail due now, else the latest one again
    beheer withdraw APPLICATION_ID             as the applicant's own withdrawal
    beheer purge-journey JOURNEY_ID            end it now, as its time to live running out would
    beheer dead-letters                        the jobs that failed all their retries
    beheer retry-dead-letters (MESSAGE_ID… | --all)
    beheer funnel [--van DAY] [--tot DAY] [--gemeente CODE]
    beheer password                            the dashboard's password in development
    beheer new-password                        a new dashboard password and its hash
"""

import re
import secrets
import uuid

import click
import dramatiq
import pika
from flask import current_app
from flask.cli import AppGroup

from messaging import deadletters

from . import invitations, journeys, operations
from .db import session
from .domain import funnel as funnel_domain, gemeenten
from .domain.application import ApplicationStatus
from .domain.journey import IllegalTransition, JourneyState, Outcome
from .domain.reminders import INVITATION
from .journeys import JourneyError
from .models import Application, Journey, Receipt
from .outbox import QUEUE

operator_commands = AppGroup("beheer", help="Operator commands: ids in; ids, states and counts out.")

# An id may begin with "-": it is an argument all the same, not an unknown option.
TAKES_AN_ID = {"context_settings": {"ignore_unknown_options": True}}
ID = re.compile(r"[A-Za-z0-9_-]{22}")  # journeys.new_id()
UNREACHABLE = (pika.exceptions.AMQPError, dramatiq.errors.BrokerConnectionError)
ON_ITS_WAY = (JourneyState.SENDING, JourneyState.DELIVERED)
NO_MAIL = {
    ApplicationStatus.DELIVERED: "is delivered: its data reached the municipality, no mail follows",
    ApplicationStatus.WITHDRAWN: "is withdrawn: no mail follows",
    ApplicationStatus.EXPIRED: "has expired: its link no longer works, no mail follows",
}


class Refused(click.ClickException):
    """What the command cannot do: said on stderr, exit code 1."""


def _load(model, kind, given):
    # A mistyped argument may be anything (an e-mail address, a BSN): never repeat it.
    if not ID.fullmatch(given):
        raise Refused(f"that is not {kind} id (22 letters, digits, - and _)")
    found = session.get(model, given)
    if found is None:
        raise Refused(f"no {kind.split()[-1]} has the id {given}")
    return found


def _mail_name(number):
    return "the invitation" if number == INVITATION else f"reminder {number}"


@operator_commands.command("resend-invitation", **TAKES_AN_ID)
@click.argument("application_id")
def resend_invitation(application_id):
    """Send an application's mail again: the one due now, else the latest it got.

    The link in it is new; it still expires when the invitation said, and the reminders
    keep their days.
    """
    application = _load(Application, "an application", application_id)
    try:
        number = invitations.resend_invitation(application)
    except invitations.NoMailToResend as refused:
        raise Refused(f"application {application_id} {NO_MAIL[refused.reason]}") from None
    expiry = (f"its link works until {application.expires_at:%Y-%m-%d %H:%M} UTC"
              if application.expires_at else
              f"its link works {current_app.config['INVITATION_TTL_DAYS']} days from the invitation")
    click.echo(f"application {application_id}: {_mail_name(number)} queued; {expiry}")


@operator_commands.command("withdraw", **TAKES_AN_ID)
@click.argument("application_id")
def withdraw(application_id):
    """Withdraw an application as its applicant would: its open journey ends, no more mail,
    and its personal data goes now."""
    application = _load(Application, "an application", application_id)
    if not application.status.is_open:
        raise Refused(f"application {application_id} is {application.status} already: "
                      f"nothing to withdraw")
    for journey in application.journeys:
        if journey.state in ON_ITS_WAY:
            raise Refused(f"application {application_id}: journey {journey.id} is {journey.state}, "
                          f"its dossier is on its way to the municipality; not withdrawn "
                          f"(`beheer purge-journey {journey.id}` stops it all the same)")
    ending = [(journey.id, journey.state) for journey in application.journeys
              if not journey.state.is_final]
    try:
        invitations.withdraw_application(application)
    except (JourneyError, IllegalTransition):
        session.rollback()
        raise Refused(f"application {application_id} changed meanwhile: not withdrawn, "
                      f"try again") from None
    click.echo(f"application {application_id}: withdrawn, its personal data purged")
    for journey_id, state in ending:
        click.echo(f"journey {journey_id}: {state} -> {JourneyState.CANCELLED} (withdrawn)")


@operator_commands.command("purge-journey", **TAKES_AN_ID)
@click.argument("journey_id")
def purge_journey(journey_id):
    """End a journey now and purge its personal data and its application's, as when its time
    to live runs out: the receipt says expired (a delivered journey is purged as after any
    delivery)."""
    journey = _load(Journey, "a journey", journey_id)
    before = journey.state
    if before.is_final:
        raise Refused(f"journey {journey_id} is {before} already: its personal data was "
                      f"purged when it ended")
    try:
        journeys.expire(journey)
    except IllegalTransition:
        session.rollback()
        raise Refused(f"journey {journey_id} moved on meanwhile: not purged, try again") from None
    session.refresh(journey)
    outcome = session.get(Receipt, journey_id).outcome
    if outcome is Outcome.UNDELIVERED:
        click.echo(f"journey {journey_id}: {before} -> {journey.state} ({outcome}), its personal "
                   f"data purged; its application waits again and the customer is mailed")
    else:
        click.echo(f"journey {journey_id}: {before} -> {journey.state} ({outcome}), "
                   f"its personal data and its application's purged")
    if before is JourneyState.SENDING:
        click.echo("note: it was sending; a delivery already under way may still have reached "
                   "the municipality", err=True)


def _broker():
    broker = current_app.extensions["broker"]
    if deadletters.is_embedded(broker):
        click.echo("note: no RABBITMQ_URL, so these are the embedded broker's dead letters in "
                   "this process; a running `python -m webapp` keeps its own in memory", err=True)
    return broker


def _line(dead):
    return f"{dead.message_id} {dead.actor_name}{dead.args} {dead.error}"


def _unreachable(exc):
    return Refused(f"RabbitMQ is not reachable ({type(exc).__name__})")


@operator_commands.command("dead-letters")
def list_dead_letters():
    """List the jobs that failed all their retries: message id, job with its ids, error class.
    They stay where they are."""
    try:
        found = deadletters.dead_letters(_broker(), QUEUE)
    except UNREACHABLE as exc:
        raise _unreachable(exc) from None
    for dead in found:
        click.echo(_line(dead))
    click.echo(f"{len(found)} dead letter(s)")


@operator_commands.command("retry-dead-letters")
@click.argument("message_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Retry every dead letter.")
def retry_dead_letters(message_ids, everything):
    """Put dead letters back on the queue as new jobs with fresh retries: those with the given
    message ids, or --all."""
    if bool(message_ids) == everything:
        raise click.UsageError("give the message ids of the dead letters to retry, or --all")
    if any(not _is_message_id(given) for given in message_ids):
        raise Refused("a message id is a UUID, as `beheer dead-letters` lists them: nothing retried")
    try:
        requeued = deadletters.requeue(_broker(), QUEUE, set(message_ids) if message_ids else None)
    except UNREACHABLE as exc:
        raise _unreachable(exc) from None
    for dead in requeued:
        click.echo(f"retried: {_line(dead)}")
    click.echo(f"{len(requeued)} dead letter(s) retried")
    missing = sorted(set(message_ids) - {dead.message_id for dead in requeued})
    if missing:
        raise Refused(f"no dead letter has the message id {', '.join(missing)}")


def _is_message_id(given):
    try:
        return str(uuid.UUID(given)) == given
    except ValueError:
        return False


@operator_commands.command("funnel")
@click.option("--van", "first", help="first application day, jjjj-mm-dd (default: 30 days ago)")
@click.option("--tot", "last", help="last application day, jjjj-mm-dd (default: today)")
@click.option("--gemeente", "code", help="a municipality's CBS code, e.g. GM0193 (default: all)")
def print_funnel(first, last, code):
    """The funnel of the applications made in a period, in Dutch as the dashboard shows it:
    each step's count and drop-off, the endings, and the starts after each mail."""
    period, problem = funnel_domain.period_from(first, last, operations.today())
    if problem:
        raise Refused(problem)
    if code is not None and gemeenten.by_code(code) is None:
        raise Refused("that is not a municipality's CBS code (GM followed by four digits)")
    figures = operations.funnel_report(period, code)
    where = gemeenten.by_code(code).naam if code else "alle gemeenten"
    click.echo(f"Trechter van de aanvragen van {period.first} tot en met {period.last}, {where}")
    for step in figures.steps:
        dropped = "" if step.dropped is None else f"  (-{step.dropped})"
        median = ("" if step.median_s is None
                  else f"  mediaan {funnel_domain.dutch_duration(step.median_s)} na de stap ervoor")
        click.echo(f"  {step.label:<32} {step.count:>7}{dropped}{median}")
    for ending in figures.endings:
        click.echo(f"  {ending.label:<32} {ending.count:>7}")
    for start in figures.starts:
        click.echo(f"  {'Gestart ' + start.label.lower():<32} {start.count:>7}")


@operator_commands.command("password")
def print_password():
    """Print the operators' password in this configuration (derived from SECRET_KEY)."""
    if current_app.config["OPERATOR_PASSWORD_HASH"]:
        raise click.ClickException("OPERATOR_PASSWORD_HASH holds only a hash: the password is "
                                   "known to whoever configured it")
    click.echo(operations.development_password(current_app.config["SECRET_KEY"]))


@operator_commands.command("new-password")
def new_password():
    """Make a new operators' password: shown once, with the hash to configure."""
    password = secrets.token_urlsafe(12)
    click.echo(f"password: {password}  (shown only now)")
    click.echo(f"OPERATOR_PASSWORD_HASH='{operations.password_hash(password)}'")
