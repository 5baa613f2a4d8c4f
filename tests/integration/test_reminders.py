"""Invitation and reminders against real PostgreSQL and a real SMTP server on loopback:
what arrives, when, and that several clocks, lost messages, restarts and SMTP downtime
neither duplicate nor lose a mail."""

import json
import threading
from datetime import timedelta

import dramatiq
import pytest
from sqlalchemy import select

from tests.smtp import LoopbackSMTP, html_of, personal_link, text_of
from webapp import invitations
from webapp.db import session
from webapp.domain.application import ApplicationStatus
from webapp.models import Application
from webapp.outbox import QUEUE, Job
from webapp.simulators.population import SANNE
from workers import clock as clock_process

from .helpers import application_form

pytestmark = pytest.mark.usefixtures("every_view_change_told")


@pytest.fixture
def smtp():
    server = LoopbackSMTP()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(postgres_url, smtp):
    return {"DATABASE_URL": postgres_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port,
            "MAIL_SUPPRESS_SEND": False}  # Flask-Mail sends nothing under TESTING otherwise


def apply(desktop, email="aanvrager@example.org"):
    response = desktop.post("/aanvraag", data=application_form(SANNE, email=email))
    assert response.status_code == 303, response.text


def tick(app):
    return clock_process.tick(app)["enqueue_due_mail"]


def actor(app, job):
    return app.extensions["actors"][job]


def reminder_number(message):
    return int(message["Message-ID"].split("@")[0].rsplit(".", 1)[1])


def test_invitation_and_three_reminders_arrive_in_dutch_with_the_link_and_days_left(
        app, desktop, run_jobs, smtp, clock):
    apply(desktop)
    run_jobs()
    invitation = smtp.wait_for(1)[0]
    assert invitation["To"] == "aanvrager@example.org"
    assert invitation["Subject"] == "Lever uw gegevens aan met de Ockto app"
    assert "De link werkt 28 dagen." in text_of(invitation)
    link = personal_link(invitation)
    assert link in html_of(invitation) and "Beste Sanne Bakker" in html_of(invitation)

    for number, days, expected_days_left in ((1, 5, 23), (2, 5, 18), (3, 4, 14)):
        clock.advance(days=days, minutes=-1)
        assert tick(app) == 0
        clock.advance(minutes=1)
        assert tick(app) == 1
        run_jobs()
        reminder = smtp.wait_for(number + 1)[-1]
        assert reminder["Subject"] == "Herinnering: lever uw gegevens aan met de Ockto app"
        assert f"De link werkt nog {expected_days_left} dagen." in text_of(reminder)
        assert f"nog {expected_days_left} dagen" in html_of(reminder)
        assert desktop.get(personal_link(reminder)).status_code == 200
    assert [reminder_number(m) for m in smtp.messages] == [0, 1, 2, 3]

    clock.advance(days=20)
    assert tick(app) == 0
    assert desktop.get(link).status_code == 410  # expired after 28 days
    assert len(smtp.messages) == 4


def test_after_downtime_only_the_latest_due_reminder_is_sent_once(app, desktop, run_jobs, smtp, clock):
    apply(desktop)
    run_jobs()
    clock.advance(days=11)
    assert tick(app) == 1
    assert tick(app) == 0
    run_jobs()
    messages = smtp.wait_for(2)
    assert [reminder_number(m) for m in messages] == [0, 2]
    assert "De link werkt nog 17 dagen." in text_of(messages[1])
    application = session.scalars(select(Application)).one()
    assert application.reminders_sent == 2
    assert application.next_mail_at == application.invitation_sent_at + timedelta(days=14)


def test_two_clocks_at_once_send_each_reminder_once(app, desktop, run_jobs, smtp, clock, monkeypatch):
    for n in range(30):
        apply(desktop, email=f"aanvrager{n}@example.org")
    run_jobs()
    smtp.wait_for(30)
    monkeypatch.setattr(invitations, "SWEEP_BATCH", 2)  # many small claims, interleaved
    clock.advance(days=5)
    start = threading.Barrier(2)
    counts = []

    def one_clock():
        start.wait()
        counts.append(tick(app))

    clocks = [threading.Thread(target=one_clock) for _ in range(2)]
    for thread in clocks:
        thread.start()
    for thread in clocks:
        thread.join()
    assert sum(counts) == 30
    run_jobs()  # every job has run: nothing more can arrive
    reminders = smtp.wait_for(60)[30:]
    assert len(smtp.messages) == 60
    assert len({m["Message-ID"] for m in reminders}) == 30
    assert sorted(m["To"] for m in reminders) == sorted(f"aanvrager{n}@example.org" for n in range(30))


def test_a_reminder_lost_after_the_claim_comes_round_again_once(app, desktop, run_jobs, smtp, clock,
                                                                 monkeypatch):
    """The batch's message is lost after the claim (the broker lost it, or it failed every
    retry): the mail comes round again at the retry time."""
    apply(desktop)
    run_jobs()
    clock.advance(days=5)
    monkeypatch.setattr(actor(app, Job.QUEUE_MAIL), "fn", lambda application_ids: None)
    assert tick(app) == 1
    run_jobs()
    monkeypatch.undo()
    clock.advance(minutes=app.config["MAIL_RETRY_AFTER_MIN"] - 1)
    assert tick(app) == 0
    clock.advance(minutes=1)
    assert tick(app) == 1
    run_jobs()
    assert tick(app) == 0
    run_jobs()
    assert [reminder_number(m) for m in smtp.wait_for(2)] == [0, 1]


def test_a_clock_whose_broker_is_down_loses_nothing(app, broker, desktop, run_jobs, smtp, clock,
                                                    monkeypatch):
    apply(desktop)
    run_jobs()
    clock.advance(days=5)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(broker, "enqueue", broker_down)
    assert tick(app) == 1  # claimed; the batch's job is committed with the claim, not sent
    monkeypatch.undo()
    assert clock_process.tick(app)["relay_overdue"] == 0  # not overdue yet
    clock.advance(seconds=app.config["OUTBOX_RETRY_S"])
    assert clock_process.tick(app)["relay_overdue"] == 1
    run_jobs()
    assert [reminder_number(m) for m in smtp.wait_for(2)] == [0, 1]


def test_a_second_message_for_the_same_mail_sends_nothing(app, desktop, run_jobs, smtp, clock):
    apply(desktop)
    run_jobs()
    application_id = session.scalars(select(Application.id)).one()
    clock.advance(days=5)
    for _ in range(3):
        actor(app, Job.SEND_MAIL).send(application_id)
    run_jobs()  # all three have run
    assert [reminder_number(m) for m in smtp.messages] == [0, 1]


def test_smtp_down_retries_with_backoff_and_the_journey_keeps_working(
        app, desktop, run_jobs, job_log, smtp, clock, monkeypatch):
    apply(desktop, email="eerste@example.org")
    run_jobs()
    link = personal_link(smtp.wait_for(1)[0])
    smtp.stop()
    monkeypatch.setitem(actor(app, Job.SEND_MAIL).options, "min_backoff", 100)
    monkeypatch.setitem(actor(app, Job.SEND_MAIL).options, "max_backoff", 400)

    apply(desktop, email="tweede@example.org")  # applying works while mail is down
    assert desktop.post(f"{link}/start").status_code == 303  # so does the journey
    job_log.wait_for(lambda: len(job_log.failures(Job.SEND_MAIL)) >= 3, "three failed attempts")
    assert len(smtp.messages) == 1
    smtp.start()
    messages = smtp.wait_for(2)
    run_jobs()
    assert [m["To"] for m in messages] == ["eerste@example.org", "tweede@example.org"]
    assert len(smtp.messages) == 2


def test_mail_that_failed_every_retry_is_sent_by_the_clock(app, broker, desktop, worker, smtp, clock,
                                                           monkeypatch):
    smtp.stop()
    monkeypatch.setitem(actor(app, Job.SEND_MAIL).options, "retry_when", lambda retries, exc: False)
    apply(desktop)
    broker.join(QUEUE, fail_fast=False, timeout=15_000)  # the one attempt failed: it is dead
    assert len(broker.dead_letters) == 1
    application = session.scalars(select(Application)).one()
    assert application.invitation_sent_at is None and application.mail_claimed_until is None
    smtp.start()
    clock.advance(minutes=app.config["MAIL_RETRY_AFTER_MIN"])
    assert tick(app) == 1
    assert reminder_number(smtp.wait_for(1)[0]) == 0


@pytest.mark.parametrize("ending", ["deliver", "withdraw"])
def test_delivered_or_withdrawn_applications_get_no_reminder(app, desktop, run_jobs, smtp, clock, ending):
    apply(desktop)
    run_jobs()
    application = session.scalars(select(Application)).one()
    clock.advance(days=3)
    if ending == "withdraw":
        invitations.withdraw_application(application)
    else:  # what journeys.deliver and purge leave behind
        application.status, application.next_mail_at = ApplicationStatus.DELIVERED, None
        application.name = application.email = None
        session.commit()
    application_id = application.id
    for _ in range(4):
        clock.advance(days=4)
        assert tick(app) == 0
    actor(app, Job.SEND_MAIL).send(application_id)  # a message queued before the ending
    run_jobs()
    assert len(smtp.messages) == 1


def test_a_mail_refused_for_good_ends_as_a_visible_failure_not_a_retry_loop(
        app, broker, desktop, worker, smtp, clock, caplog):
    smtp.refused.add("bestaat-niet@example.org")
    apply(desktop, email="bestaat-niet@example.org")
    broker.join(QUEUE, fail_fast=False, timeout=15_000)
    assert len(broker.dead_letters) == 1  # at once, no retries: operators see it there
    assert "can never be sent (SMTPRecipientsRefused): given up" in caplog.text
    application = session.scalars(select(Application)).one()
    assert application.next_mail_at is None and application.mail_claimed_until is None
    for _ in range(3):  # and the clock does not ask for it again
        clock.advance(days=5)
        assert tick(app) == 0
    assert smtp.messages == []


def test_a_failed_mail_job_keeps_no_address_in_the_broker(app, broker, desktop, worker, smtp,
                                                          job_log, monkeypatch):
    """Dramatiq keeps an error's traceback in the message it retries or buries: the text of a
    refused recipient is the address. The broker gets the error's class only."""
    enqueued = []

    class Recorder(dramatiq.Middleware):  # after the broker's own middleware: what it stores
        def before_enqueue(self, broker, message, delay):
            enqueued.append(message)

    broker.add_middleware(Recorder())
    monkeypatch.setitem(actor(app, Job.SEND_MAIL).options, "min_backoff", 10)
    monkeypatch.setitem(actor(app, Job.SEND_MAIL).options, "max_backoff", 20)
    smtp.deferred.add("even-geduld@example.org")
    smtp.refused.add("bestaat-niet@example.org")
    apply(desktop, email="even-geduld@example.org")
    apply(desktop, email="bestaat-niet@example.org")
    job_log.wait_for(lambda: len(job_log.failures(Job.SEND_MAIL)) >= 3, "failed mail jobs")
    broker.join(QUEUE, fail_fast=False, timeout=15_000)
    retried = [m for m in enqueued if m.options.get("traceback")]
    assert retried and broker.dead_letters
    for message in [*retried, *broker.dead_letters]:
        body = json.dumps(message.asdict())
        assert "@example.org" not in body, body
        assert message.options["traceback"] in ("smtplib.SMTPRecipientsRefused",
                                                "webapp.invitations.MailUndeliverable")
