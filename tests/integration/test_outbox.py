"""No job lost between the commit and the queue: a change and the job it needs commit
together; the job is sent right after the commit and, if that failed, by the clock; sent
twice it takes effect once. (The same against real RabbitMQ and PostgreSQL processes:
test_backbone.py.)"""

from sqlalchemy import event, func, select

from webapp import invitations, journeys, outbox
from webapp.db import session
from webapp.domain.sources import FetchStatus
from webapp.models import Journey, OutboxMessage, SourceFetch
from webapp.outbox import Job
from webapp.simulators.population import SANNE
from workers import clock as clock_process

from .helpers import dossier_count


def _waiting_requests():
    session.expire_all()
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def _journey_id(walk):
    return walk.journey_url.rsplit("/", 1)[1]


def _state(walk):
    session.expire_all()
    return session.get(Journey, _journey_id(walk)).state


def _status(journey_id, source):
    session.expire_all()
    return session.scalar(select(SourceFetch.status).filter_by(journey_id=journey_id, source=source))


def _broker_down(*args, **kwargs):
    raise ConnectionError("the broker refuses")


def test_a_whole_journey_leaves_no_job_request_behind(app, walk, phone):
    walk.to_review(SANNE)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    assert _state(walk) == "done"
    assert _waiting_requests() == 0


def test_a_job_the_broker_refused_is_sent_by_the_clock_without_a_click(
        app, walk, phone, broker, clock, monkeypatch):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    journey_id = _journey_id(walk)

    monkeypatch.setattr(broker, "enqueue", _broker_down)
    assert phone.post("/app/bronnen/uwv").status_code == 303
    assert "Bezig met ophalen" in phone.get("/app/").text
    walk.run_jobs()
    assert _status(journey_id, "uwv") is FetchStatus.FETCHING
    assert _waiting_requests() == 1
    assert phone.post("/app/bronnen/uwv").status_code == 303  # tapping again asks for nothing new
    assert _waiting_requests() == 1
    monkeypatch.undo()

    clock.advance(seconds=app.config["OUTBOX_RETRY_S"] - 1)
    assert clock_process.tick(app, [outbox.relay_overdue]) == {"relay_overdue": 0}
    clock.advance(seconds=1)
    assert clock_process.tick(app, [outbox.relay_overdue]) == {"relay_overdue": 1}
    walk.run_jobs()
    assert _status(journey_id, "uwv") is FetchStatus.FETCHED
    assert _waiting_requests() == 0


def test_consent_whose_delivery_the_broker_refused_is_delivered_later(
        app, walk, phone, broker, clock, monkeypatch):
    walk.to_review(SANNE)
    monkeypatch.setattr(broker, "enqueue", _broker_down)
    assert 'data-screen="sending"' in phone.post("/app/versturen", data={"toestemming": "ja"},
                                                 follow_redirects=True).text
    monkeypatch.undo()
    walk.run_jobs()
    assert _state(walk) == "sending" and dossier_count(app) == 0

    clock.advance(seconds=app.config["OUTBOX_RETRY_S"])
    clock_process.tick(app, [outbox.relay_overdue])
    walk.run_jobs()
    assert _state(walk) == "done" and dossier_count(app) == 1
    assert _waiting_requests() == 0


def test_a_change_that_is_rolled_back_asks_for_no_job(app, walk, phone, job_log):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    journey_id = _journey_id(walk)
    outbox.request(Job.FETCH_SOURCE, journey_id, "applicant", "duo")
    session.rollback()
    session.commit()  # nothing left to send
    walk.run_jobs()
    assert _waiting_requests() == 0
    assert [name for name, _ in job_log.done if name == Job.FETCH_SOURCE] == []


def test_every_job_sent_twice_takes_effect_once(app, walk, phone, job_log):
    """What the outbox may do (send a job again after its first send was not crossed off)
    changes nothing: the second fetch, delivery and purge find their work done."""
    actors = app.extensions["actors"]
    walk.to_review(SANNE)
    journey_id = _journey_id(walk)
    actors[Job.FETCH_SOURCE].send(journey_id, "applicant", "duo")
    walk.run_jobs()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    actors[Job.DELIVER_DOSSIER].send(journey_id)
    actors[Job.PURGE_JOURNEY].send(journey_id)
    walk.run_jobs()
    assert _state(walk) == "done" and dossier_count(app) == 1
    assert sum(name == Job.DELIVER_DOSSIER for name, _ in job_log.done) == 2
    assert [error for _, error in job_log.done if error] == []


def test_the_job_is_sent_after_the_commit_that_holds_it(app, walk, phone):
    """When the job reaches the broker, the fetch's new state and the job's request are
    both committed: a worker never finds the state it acts on missing."""
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    journey_id = _journey_id(walk)
    seen = []

    def look(*args, **kwargs):
        with app.extensions["db_engine"].connect() as connection:  # what another process sees
            seen.append((connection.scalar(select(SourceFetch.status).filter_by(
                journey_id=journey_id, source="duo")),
                connection.scalar(select(func.count()).select_from(OutboxMessage))))
        raise ConnectionError("look only")

    broker = app.extensions["broker"]
    broker.enqueue, original = look, broker.enqueue
    try:
        journeys.request_fetch(session.get(Journey, journey_id), "duo")
    finally:
        broker.enqueue = original
    assert seen == [(FetchStatus.FETCHING, 1)]


def test_after_a_failed_send_requests_leave_it_to_the_clock_until_a_send_succeeds(
        app, walk, phone, broker, clock, monkeypatch):
    """An unreachable broker may take seconds per attempt: one request tries, the next ones
    in OUTBOX_RETRY_S do not; the clock's first successful send ends the pause."""
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    attempts = []

    def unreachable(*args, **kwargs):
        attempts.append(args)
        raise ConnectionError("the broker does not answer")

    monkeypatch.setattr(broker, "enqueue", unreachable)
    for source in ("uwv", "duo", "pensioen"):
        assert phone.post(f"/app/bronnen/{source}").status_code == 303
    assert len(attempts) == 1 and _waiting_requests() == 3
    monkeypatch.undo()

    clock.advance(seconds=app.config["OUTBOX_RETRY_S"])
    assert clock_process.tick(app, [outbox.relay_overdue]) == {"relay_overdue": 3}
    phone.post("/app/bronnen/mijnoverheid")
    assert _waiting_requests() == 0  # sent at once again
    walk.run_jobs()
    assert _status(_journey_id(walk), "mijnoverheid") is FetchStatus.FETCHED


def test_a_batch_of_mail_is_asked_for_in_one_statement_each_mail_a_job_of_its_own(
        app, broker, monkeypatch):
    """The clock's batches hold up to 2,000 applications: their requests are one statement,
    not one each (2,000 round trips in one transaction), and each is sent as its own job."""
    sent, inserts = [], []
    monkeypatch.setattr(broker, "enqueue", lambda message, **_kw: sent.append(message))
    count = lambda _c, _cur, statement, *_a: inserts.append(statement)  # noqa: E731
    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        invitations.queue_mails([f"application-{n}" for n in range(300)])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([s for s in inserts if s.startswith("INSERT INTO outbox")]) == 1
    assert [(m.actor_name, m.args) for m in sent] == [
        (Job.SEND_MAIL.value, (f"application-{n}",)) for n in range(300)]
    assert len({m.message_id for m in sent}) == 300
    assert _waiting_requests() == 0
