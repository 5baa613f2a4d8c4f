"""Every read-then-act in pairing holds under concurrency (issue 11, defect 7), on SQLite and
on PostgreSQL. Each test forces one interleaving: this thread reads the journey on its own
connection, another connection (the phone's request, served by the server's thread) acts and
commits, and only then does this thread act on what it read."""

import threading
from datetime import timedelta

import pytest

from tests.services import fresh_postgres_database
from webapp import journeys, live
from webapp.db import session
from webapp.domain.journey import JourneyState
from webapp.journeys import JourneyError
from webapp.models import Application, Journey, PairingToken
from webapp.simulators.population import SANNE

from .helpers import local

pytestmark = pytest.mark.usefixtures("every_view_change_told")


@pytest.fixture(params=["sqlite", "postgresql"])
def app_config(request):
    if request.param == "sqlite":
        yield {}
        return
    url, drop = fresh_postgres_database()
    yield {"DATABASE_URL": url}
    drop()


def elsewhere(request, *args, **kwargs):
    """Make a request in another thread (the test client serves it there): its own session
    and database connection, while this thread's session keeps what it read."""
    answer = []
    thread = threading.Thread(target=lambda: answer.append(request(*args, **kwargs)))
    thread.start()
    thread.join(30)
    return answer[0]


def _journey(walk):
    return session.get(Journey, walk.journey_url.rsplit("/", 1)[1])


def _read_as_the_desktop_does(walk):
    """The journey as a page loaded it: every column read, held in this thread's session."""
    session.expire_all()
    journey = _journey(walk)
    _ = (journey.state, journey.pairing_nonce, journey.pairing_expires_at,
         journey.phone_secret_hash, journey.application.status)
    return journey


def test_a_phone_pairing_while_the_desktop_renews_its_qr_code(app, walk, phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    journey = _journey(walk)
    journey.pairing_expires_at -= timedelta(seconds=app.config["PAIRING_TTL_S"])  # due for renewal
    session.commit()
    stale = _read_as_the_desktop_does(walk)
    assert stale.state is JourneyState.AWAITING_PHONE

    assert elsewhere(phone.get, pairing).status_code == 303  # the phone pairs meanwhile

    assert journeys.pairing_token(stale) is None  # was: _pairing_token_from(None), AttributeError
    with app.test_request_context("/"):
        context = live.desktop_step_context(journeys.progress_view(stale), stale)
    assert context["view"].state is JourneyState.PHONE_CONNECTED and "pairing_url" not in context
    session.expire_all()
    assert session.query(PairingToken).filter_by(journey_id=stale.id).count() == 1  # no new code
    assert _journey(walk).pairing_nonce is None


def test_a_renewal_never_brings_back_a_qr_code_after_the_phone_paired(app, walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    journey = _read_as_the_desktop_does(walk)
    assert journey.state is JourneyState.PHONE_CONNECTED
    assert journeys.pairing_token(journey) is None and journeys.pairing_code(journey) is None
    assert session.get(Journey, journey.id).pairing_nonce is None


def test_two_phones_scanning_one_qr_code_at_once_one_pairs_the_other_is_told(app, walk, phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    token = pairing.rsplit("/", 1)[1]
    stale = _read_as_the_desktop_does(walk)
    session.get(PairingToken, journeys.digest(token)).valid_until  # noqa: B018  (read, as pair_phone does)

    assert elsewhere(phone.get, pairing).status_code == 303  # the first phone wins

    with pytest.raises(JourneyError, match="al gebruikt"):  # was: IllegalTransition, a 500
        journeys.pair_phone(token)
    session.expire_all()
    assert _journey(walk).state is JourneyState.PHONE_CONNECTED
    assert 'data-screen="login-applicant"' in phone.get("/app/").text
    assert stale.id == _journey(walk).id


def test_two_phones_pairing_in_parallel_threads_never_fail(app, walk):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    phones = [app.test_client() for _ in range(2)]
    start, answers = threading.Barrier(2), []

    def scan(client):
        start.wait()
        answers.append(client.get(pairing).status_code)
    threads = [threading.Thread(target=scan, args=(client,)) for client in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [303, 410]


def test_the_invitation_link_and_the_qr_code_at_once_pair_one_phone(app, walk, phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    pairing = walk.to_qr()
    stale = _read_as_the_desktop_does(walk)
    application = session.get(Application, stale.application_id)
    _ = [j.state for j in application.journeys]

    assert elsewhere(phone.get, pairing).status_code == 303  # the QR code pairs first

    with pytest.raises(JourneyError, match="net een andere telefoon"):
        journeys.continue_on_this_phone(application)
    assert 'data-screen="login-applicant"' in phone.get("/app/").text


def test_two_devices_taking_over_a_paired_journey_at_once_one_wins(app, walk, phone):
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    phone.get(walk.to_qr())
    stale = _read_as_the_desktop_does(walk)
    application = session.get(Application, stale.application_id)
    _ = [j.state for j in application.journeys]
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = phone.environ_base["HTTP_USER_AGENT"]

    taken = elsewhere(other.post, f"/app/verder/{invitation.rsplit('/', 1)[1]}")
    assert taken.status_code == 303 and local(taken.headers["Location"]) == "/app/"

    with pytest.raises(JourneyError, match="ergens anders verdergegaan"):
        journeys.continue_on_this_phone(application)  # read the old phone's secret: too late
    assert 'data-screen="login-applicant"' in other.get("/app/").text
    assert "gaat op een ander apparaat verder" in phone.get("/app/").text
