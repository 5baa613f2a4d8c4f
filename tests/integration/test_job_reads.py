"""What a job reads of its journey: in one query each time it needs it, not a query per
relation as each is touched (issue 17: the workers' CPU went mostly to statements)."""

import re

import pytest
from sqlalchemy import event

from webapp import journeys
from webapp.db import session
from webapp.domain.journey import JourneyState
from webapp.domain.sources import SOURCES, FetchStatus
from webapp.models import Journey, SourceFetch
from webapp.simulators.population import SANNE

_TABLE_READ = re.compile(r"\s*SELECT (\w+)\.")


@pytest.fixture
def reads():
    """The SELECTs run inside `with reads() as read:`, by the table each names first."""
    engine = session.get_bind()

    class Reads(list):
        def __enter__(self):
            session.remove()
            event.listen(engine, "before_cursor_execute", self._count)
            return self

        def __exit__(self, *_exc):
            event.remove(engine, "before_cursor_execute", self._count)
            session.remove()

        def _count(self, conn, cursor, statement, parameters, context, executemany):
            if found := _TABLE_READ.match(statement):
                self.append(found.group(1))

    return Reads


@pytest.fixture
def reviewing(walk, phone, worker):
    """The id of a journey at its review, every source fetched; no worker runs its jobs."""
    walk.to_review(SANNE)
    worker.stop()
    return walk.journey_url.rsplit("/", 1)[1]


def test_a_fetch_job_reads_its_fetch_with_the_journey_and_people_at_once(walk, phone, worker, reads):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    worker.stop()
    source = SOURCES[0].key
    phone.post(f"/app/bronnen/{source}")
    journey_id = walk.journey_url.rsplit("/", 1)[1]
    with reads() as read:
        journeys.fetch_source(journey_id, "applicant", source)  # its job, as a worker runs it
    # the fetch, its journey and people; then the view the pages are told
    assert read == ["source_fetch", "journey"]
    assert session.get(Journey, journey_id).fetches[0].status is FetchStatus.FETCHED


def test_the_delivery_reads_the_journey_whole_once_after_taking_its_hold(reviewing, phone, reads):
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
    with reads() as read:
        journeys.deliver(reviewing)
    # its state (to take the hold); all that is delivered (after the hold's commit); the receipt
    assert read == ["journey", "journey", "receipt"]
    assert session.get(Journey, reviewing).state is JourneyState.DELIVERED


def test_the_purge_reads_the_journey_whole_once(reviewing, phone, reads):
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
    journeys.deliver(reviewing)
    session.remove()
    with reads() as read:
        journeys.purge(reviewing)
    assert read == ["journey", "receipt"]
    assert session.get(Journey, reviewing).state is JourneyState.DONE
    assert all(fetch.payload is None for fetch in session.query(SourceFetch).filter_by(journey_id=reviewing))
