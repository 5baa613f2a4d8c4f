"""A source still being fetched when the customer is done (an optional one, tapped last): the
step waits for it, so no data reaches the review, the consent or the municipality without
having been shown."""

from sqlalchemy import event, select

from webapp import journeys
from webapp.db import session
from webapp.domain.journey import JourneyState
from webapp.domain.sources import DEFAULT_REQUIRED, SOURCES, FetchStatus
from webapp.models import Journey, SourceFetch
from webapp.simulators.population import SANNE

OPTIONAL = next(source.key for source in SOURCES if source.key not in DEFAULT_REQUIRED)


def _journey(walk):
    session.expire_all()
    return session.get(Journey, walk.journey_url.rsplit("/", 1)[1])


def _fetch(walk, source):
    session.expire_all()
    return session.scalar(select(SourceFetch).filter_by(journey_id=_journey(walk).id, source=source))


def _required_fetched(walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    for source in DEFAULT_REQUIRED:
        phone.post(f"/app/bronnen/{source}")
    walk.run_jobs()


def test_done_waits_for_a_source_still_being_fetched(walk, phone, worker):
    _required_fetched(walk, phone)
    worker.stop()  # the optional source's fetch waits on the queue
    phone.post(f"/app/bronnen/{OPTIONAL}")
    assert _fetch(walk, OPTIONAL).status is FetchStatus.FETCHING

    answer = phone.post("/app/bronnen/klaar", headers={"HX-Request": "true"})
    assert answer.status_code == 422
    assert "wordt nog opgehaald" in answer.text
    assert _journey(walk).state is JourneyState.FETCHING_APPLICANT

    journeys.fetch_source(_journey(walk).id, "applicant", OPTIONAL)  # its job, as a worker runs it
    session.remove()
    assert _fetch(walk, OPTIONAL).status is FetchStatus.FETCHED
    phone.post("/app/bronnen/klaar")
    assert _journey(walk).state is JourneyState.REVIEWING


def test_done_sees_a_tap_made_after_it_read_the_journey(walk, phone, worker):
    """The check is made under the transition's lock: a tap between the customer's "klaar"
    reading the journey and its transition is seen, and the step waits."""
    _required_fetched(walk, phone)
    worker.stop()
    read_before_the_tap = journeys.journey_for_view(_journey(walk).id)
    assert all(f.status is not FetchStatus.FETCHING for f in read_before_the_tap.fetches)
    phone.post(f"/app/bronnen/{OPTIONAL}")  # another tab, a moment earlier
    try:
        journeys.finish_sources(read_before_the_tap)
    except journeys.JourneyError as error:
        assert "wordt nog opgehaald" in str(error)
    else:
        raise AssertionError("the step moved on with a source still being fetched")
    assert _journey(walk).state is JourneyState.FETCHING_APPLICANT


def test_a_tap_after_the_step_moved_on_fetches_nothing(walk, phone, worker):
    """A tap that read the journey before "klaar" moved it on finds the step gone under the
    lock: no fetch starts, no job is asked for."""
    _required_fetched(walk, phone)
    read_before_done = journeys.journey_for_view(_journey(walk).id)
    session.expunge(read_before_done)  # as that request read it: not read again
    assert phone.post("/app/bronnen/klaar").status_code == 303
    assert _journey(walk).state is JourneyState.REVIEWING
    try:
        journeys.request_fetch(read_before_done, OPTIONAL)
    except journeys.JourneyError as error:
        assert "kan nu niet meer" in str(error)
    else:
        raise AssertionError("a fetch started after the step moved on")
    assert _fetch(walk, OPTIONAL).status is not FetchStatus.FETCHING


def test_a_fetch_reads_its_row_once_not_again_after_the_source_answered(walk, phone, worker):
    """fetch_source commits before it asks the source (no transaction open meanwhile) and
    writes the fetch after it: the row read before is not read again to be written."""
    _required_fetched(walk, phone)
    worker.stop()
    phone.post(f"/app/bronnen/{OPTIONAL}")
    journey_id = _journey(walk).id
    session.remove()
    reads = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT source_fetch."):
            reads.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        journeys.fetch_source(journey_id, "applicant", OPTIONAL)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    session.remove()
    assert _fetch(walk, OPTIONAL).status is FetchStatus.FETCHED
    assert len(reads) == 1
