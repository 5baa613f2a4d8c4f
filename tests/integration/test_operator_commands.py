"""The operator commands (`flask --app webapp beheer …`) on the embedded services: each does
its job through the use cases and the outbox, refuses what it cannot do with a message on
stderr and a non-zero exit code, and prints no personal data."""

import pytest
from sqlalchemy import select, update

from tests.smtp import personal_link
from webapp import invitations
from webapp.db import session
from webapp.domain.application import ApplicationStatus
from webapp.domain.journey import JourneyState, Outcome
from webapp.models import Application, Journey, Receipt
from webapp.outbox import QUEUE, Job
from webapp.simulators.population import SANNE
from workers import clock as clock_process

from .helpers import all_database_text, application_form, outbox_messages

EMAIL = "aanvrager@example.org"
PERSONAL = (SANNE.name, SANNE.bsn, EMAIL)


@pytest.fixture
def beheer(app):
    """Run `flask --app webapp beheer …` in the test's app; stdout and stderr apart."""
    runner = app.test_cli_runner()

    def run(*args):
        session.expire_all()  # what the workers did meanwhile: the command reads it, as a new process would
        result = runner.invoke(args=["beheer", *args])
        session.expire_all()
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        for value in PERSONAL:
            assert value not in result.output, f"{args} printed personal data"
        return result
    return run


def refused(result, message):
    assert result.exit_code == 1, result.output
    assert message in result.stderr and message not in result.stdout
    return result


def apply(desktop, email=EMAIL):
    assert desktop.post("/aanvraag", data=application_form(SANNE, email=email)).status_code == 303
    return session.scalars(select(Application).where(Application.email == email)).one()


def message_ids(app):
    return [m["Message-ID"] for m in outbox_messages(app)]


def test_resend_sends_the_invitation_again_with_a_working_link_and_the_same_expiry(
        app, beheer, desktop, run_jobs, clock):
    application = apply(desktop)
    run_jobs()
    clock.advance(days=2)
    session.refresh(application)
    before = (application.expires_at, application.reminders_sent, application.next_mail_at)

    result = beheer("resend-invitation", application.id)
    assert result.exit_code == 0, result.output
    assert f"application {application.id}: the invitation queued" in result.stdout
    run_jobs()

    first, again = outbox_messages(app)
    assert again["Subject"] == first["Subject"] == "Lever uw gegevens aan met de Ockto app"
    assert again["Message-ID"] != first["Message-ID"]  # a client that deduplicates shows it
    assert "De link werkt 26 dagen." in again.get_body(("plain",)).get_content()
    assert desktop.get(personal_link(again)).status_code == 200
    session.refresh(application)
    assert (application.expires_at, application.reminders_sent, application.next_mail_at) == before


def test_resend_after_a_reminder_sends_that_reminder_again(app, beheer, desktop, run_jobs, clock):
    application_id = apply(desktop).id
    run_jobs()
    clock.advance(days=5)
    assert clock_process.tick(app)["enqueue_due_mail"] == 1  # (its app context ends the session)
    run_jobs()
    assert len(outbox_messages(app)) == 2

    result = beheer("resend-invitation", application_id)
    assert result.exit_code == 0 and "reminder 1 queued" in result.stdout, result.output
    run_jobs()
    reminder, again = outbox_messages(app)[1:]
    assert again["Subject"] == reminder["Subject"] == "Herinnering: lever uw gegevens aan met de Ockto app"
    assert "De link werkt nog 23 dagen." in again.get_body(("plain",)).get_content()
    assert len(set(message_ids(app))) == 3


def test_resend_of_a_mail_still_due_sends_it_once(app, beheer, desktop, run_jobs):
    application = apply(desktop)  # its invitation is queued, and no worker has sent it yet
    result = beheer("resend-invitation", application.id)
    assert result.exit_code == 0 and "the invitation queued" in result.stdout, result.output
    run_jobs()  # two send_mail jobs: the application's own, and the operator's
    assert len(outbox_messages(app)) == 1


@pytest.mark.parametrize("ending, message", [
    ("withdrawn", "is withdrawn: no mail follows"),
    ("delivered", "is delivered: its data reached the municipality, no mail follows"),
    ("expired", "has expired: its link no longer works"),
])
def test_resend_refuses_an_application_that_gets_no_more_mail(
        app, beheer, desktop, run_jobs, clock, ending, message):
    application = apply(desktop)
    run_jobs()
    if ending == "withdrawn":
        invitations.withdraw_application(application)
    elif ending == "delivered":  # what journeys.deliver and purge leave behind
        application.status, application.next_mail_at = ApplicationStatus.DELIVERED, None
        application.name = application.email = application.bsn = None
        session.commit()
    else:
        clock.advance(days=28)  # the link ran out; the purge sweep has not come yet
    mails = len(outbox_messages(app))  # withdrawing took the invitation out of the local outbox
    refused(beheer("resend-invitation", application.id), f"application {application.id} {message}")
    run_jobs()
    assert len(outbox_messages(app)) == mails


def test_commands_refuse_unknown_ids_and_never_repeat_what_is_not_an_id(beheer):
    for command, kind in (("resend-invitation", "application"), ("withdraw", "application"),
                          ("purge-journey", "journey")):
        refused(beheer(command, "x" * 22), f"no {kind} has the id {'x' * 22}")
        result = refused(beheer(command, EMAIL), "that is not a")  # the fixture: never echoed
        assert "22 letters, digits, - and _" in result.stderr
        refused(beheer(command, "-" + "x" * 21), f"no {kind} has the id -{'x' * 21}")  # not an option


def test_withdraw_ends_the_open_journey_and_purges_the_application(
        app, beheer, desktop, walk, run_jobs):
    walk.start(walk.apply(SANNE))
    journey = session.scalars(select(Journey)).one()
    application = journey.application

    result = beheer("withdraw", application.id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"application {application.id}: withdrawn, its personal data purged",
        f"journey {journey.id}: checklist -> cancelled (withdrawn)"]
    session.expire_all()
    assert application.status is ApplicationStatus.WITHDRAWN and application.email is None
    assert journey.state is JourneyState.CANCELLED
    assert session.get(Receipt, journey.id).outcome is Outcome.WITHDRAWN
    assert SANNE.bsn not in all_database_text(app)

    refused(beheer("withdraw", application.id),
            f"application {application.id} is withdrawn already: nothing to withdraw")


def test_withdraw_refuses_while_the_dossier_is_on_its_way(app, beheer, desktop, walk):
    walk.start(walk.apply(SANNE))
    journey = session.scalars(select(Journey)).one()
    session.execute(update(Journey).values(state=JourneyState.SENDING))
    session.commit()
    refused(beheer("withdraw", journey.application.id),
            f"journey {journey.id} is sending, its dossier is on its way to the municipality")
    session.expire_all()
    assert journey.application.status is ApplicationStatus.INVITED


def test_purge_journey_ends_it_now_and_leaves_nothing_personal(app, beheer, walk):
    walk.to_review(SANNE)  # every source fetched: the data is in the database, encrypted
    journey = session.scalars(select(Journey)).one()
    assert journey.state is JourneyState.REVIEWING

    result = beheer("purge-journey", journey.id)
    assert result.exit_code == 0, result.output
    assert (f"journey {journey.id}: reviewing -> cancelled (expired), its personal data and its "
            f"application's purged") in result.stdout
    session.expire_all()
    assert app.extensions["data_keys"].get(journey.id) is None
    assert all(f.payload is None for f in journey.fetches)
    assert journey.application.status is ApplicationStatus.EXPIRED
    text = all_database_text(app)
    assert not [value for value in PERSONAL if value in text]

    refused(beheer("purge-journey", journey.id),
            f"journey {journey.id} is cancelled already: its personal data was purged when it ended")


def test_purge_journey_stops_one_that_is_sending_and_says_a_delivery_may_be_under_way(
        app, beheer, walk):
    walk.start(walk.apply(SANNE))
    journey = session.scalars(select(Journey)).one()
    session.execute(update(Journey).values(state=JourneyState.SENDING))
    session.commit()
    result = beheer("purge-journey", journey.id)
    assert result.exit_code == 0, result.output
    assert "sending -> cancelled (undelivered)" in result.stdout  # as its time to live would
    assert "its application waits again and the customer is mailed" in result.stdout
    assert "a delivery already under way may still have reached the municipality" in result.stderr


@pytest.fixture
def mail_fails(app, monkeypatch, tmp_path):
    """Mail cannot be written (the outbox folder is a file) and a failed send_mail is not
    retried: it is a dead letter at once. Returns the function that mends the mail."""
    monkeypatch.setitem(app.extensions["actors"][Job.SEND_MAIL].options, "retry_when",
                        lambda retries, exc: False)
    folder = app.config["OUTBOX_DIR"]
    (tmp_path / "not-a-folder").write_text("")
    app.config["OUTBOX_DIR"] = str(tmp_path / "not-a-folder" / "outbox")
    return lambda: app.config.update(OUTBOX_DIR=folder)


def test_dead_letters_are_listed_and_retried_one_by_id_then_all(
        app, beheer, desktop, broker, worker, mail_fails):
    first, second = apply(desktop, "een@example.org"), apply(desktop, "twee@example.org")
    broker.join(QUEUE, fail_fast=False, timeout=15_000)
    assert len(broker.dead_letters) == 2

    listed = beheer("dead-letters")
    assert listed.exit_code == 0, listed.output
    *lines, total = listed.stdout.splitlines()
    assert total == "2 dead letter(s)"
    line_of = {line.split()[1]: line for line in lines}
    assert sorted(line_of) == sorted([f"send_mail('{first.id}',)", f"send_mail('{second.id}',)"])
    first_line = line_of[f"send_mail('{first.id}',)"]
    assert first_line.split()[2] == "NotADirectoryError"  # the error's class, not its text
    assert "no RABBITMQ_URL" in listed.stderr
    assert beheer("dead-letters").stdout == listed.stdout  # listing leaves them where they are

    mail_fails()  # mended
    retried = beheer("retry-dead-letters", first_line.split()[0])
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.splitlines() == [f"retried: {first_line}", "1 dead letter(s) retried"]
    broker.join(QUEUE, fail_fast=False, timeout=15_000)
    assert len(outbox_messages(app)) == 1
    assert beheer("dead-letters").stdout.splitlines()[-1] == "1 dead letter(s)"

    assert beheer("retry-dead-letters", "--all").stdout.splitlines()[-1] == "1 dead letter(s) retried"
    broker.join(QUEUE, fail_fast=False, timeout=15_000)
    assert len(outbox_messages(app)) == 2 and broker.dead_letters == []
    assert beheer("dead-letters").stdout.splitlines() == ["0 dead letter(s)"]


def test_retrying_dead_letters_refuses_unknown_ids_and_a_call_without_ids_or_all(beheer):
    for args in ((), ("--all", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")):
        result = beheer("retry-dead-letters", *args)
        assert result.exit_code == 2 and "give the message ids" in result.stderr
    refused(beheer("retry-dead-letters", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
            "no dead letter has the message id 1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    refused(beheer("retry-dead-letters", EMAIL), "a message id is a UUID")


def test_the_funnel_is_printed_per_period_and_municipality(app, beheer, walk, phone):
    walk.to_review(SANNE)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    walk.apply(SANNE)  # a second application, invited only
    walk.run_jobs()
    printed = beheer("funnel", "--gemeente", "GM0193").stdout
    assert "Zwolle" in printed
    rows = {line[2:34].strip(): line[34:].split() for line in printed.splitlines()[1:]}
    assert rows["Aangevraagd"][0] == "2" and rows["Uitgenodigd"][0] == "2"
    assert rows["Afgeleverd"][0] == "1"
    assert beheer("funnel", "--gemeente", "GM0363").stdout.splitlines()[1].split()[-1] == "0"
    assert "Gestart na de uitnodiging" in printed
    refused(beheer("funnel", "--van", "morgen"), "jjjj-mm-dd")
    refused(beheer("funnel", "--gemeente", "GM9999"), "CBS code")
