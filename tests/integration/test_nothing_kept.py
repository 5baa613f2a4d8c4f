"""Nothing kept: after every way a journey can end, neither the database (every table,
every column) nor the logs hold the journey's BSNs, names, e-mail or income figures; the
queue carries ids only; the consent record remains, without the data."""

import base64
import binascii
import json
import logging
import re
from datetime import timedelta

import dramatiq
import pytest
from sqlalchemy import select

from webapp import journeys, privacy
from webapp.clock import utcnow
from webapp.db import session
from webapp.domain.sources import SOURCES
from webapp.models import Application, Journey, Receipt
from webapp.outbox import Job
from webapp.simulators import population
from webapp.simulators.population import FATIMA, JAN

from .helpers import all_database_text, dossier_count
from .ondisk import fetched_values

pytestmark = pytest.mark.usefixtures("every_view_change_told")

EMAIL = "aanvrager@example.org"


class _Recorder(dramatiq.Middleware):
    def __init__(self):
        self.messages = []

    def before_enqueue(self, broker, message, delay):
        self.messages.append(message)


@pytest.fixture
def queued(broker):
    """Every message the broker is given during the test."""
    recorder = _Recorder()
    broker.middleware.append(recorder)
    yield recorder.messages
    broker.middleware.remove(recorder)


@pytest.fixture
def logs(caplog, capfd):
    """Everything logged (every logger, every level) and written to stdout/stderr."""
    caplog.set_level(logging.DEBUG)

    def text():
        out, err = capfd.readouterr()
        return "\n".join((caplog.text, out, err))
    return text


def personal_data():
    """What must not survive: both BSNs and names, the e-mail, incomes and the address, and
    every other value only the fetched data holds, as sent and as the review screen shows it
    (tests/integration/ondisk.py)."""
    values = [JAN.bsn, FATIMA.bsn, JAN.name, FATIMA.name, EMAIL]
    for citizen in (JAN, FATIMA):
        tax = population.source_data("belastingdienst", citizen.bsn)
        brp = population.source_data("mijnoverheid", citizen.bsn)
        values += [str(tax["verzamelinkomen"]), str(tax["box1"]), brp["adres"]["postcode"],
                   brp["geboortedatum"]]
    return values + [value for value in fetched_values() if value not in values]


def _decoded_tokens(log_text):
    """Log text plus every base64 piece in it decoded: a token in a URL must not hide a BSN."""
    pieces = [log_text]
    for candidate in re.findall(r"[A-Za-z0-9_\-]{12,}", log_text):
        try:
            pieces.append(base64.urlsafe_b64decode(candidate + "=" * (-len(candidate) % 4))
                          .decode("latin-1"))
        except (binascii.Error, ValueError):
            pass
    return "\n".join(pieces)


def holds(text, value):
    """Whether `text` holds `value` as a word of its own: a short figure such as an income
    also turns up by chance inside a random hash."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None


def assert_nothing_kept(app, log_text):
    everything = all_database_text(app)
    logged = _decoded_tokens(log_text)
    for value in personal_data():
        assert not holds(everything, value), f"{value!r} is still in the database"
        assert not holds(logged, value), f"{value!r} is in the logs"


def assert_ids_only_on_the_queue(messages):
    assert messages, "the journey queued nothing?"
    allowed = {"applicant", "partner", *(source.key for source in SOURCES)}
    for message in messages:
        for arg in [*message.args, *message.kwargs.values()]:
            assert isinstance(arg, str) and (arg in allowed or re.fullmatch(r"[A-Za-z0-9_\-]{22}", arg)), \
                f"{message.actor_name} carries {arg!r}"
        body = json.dumps(message.asdict())
        for value in personal_data():
            assert not holds(body, value), f"{value!r} is on the queue"


def to_review(walk):
    """Jan and Fatima, both logged in, every source fetched: the review is on the phone."""
    walk.start(walk.apply(JAN, FATIMA))
    walk.phone.get(walk.to_qr())
    walk.login(JAN)
    walk.fetch_all()
    walk.login(FATIMA)
    assert 'data-screen="review"' in walk.fetch_all().text
    return session.get(Journey, walk.journey_url.rsplit("/", 1)[1]).id


def _receipt(journey_id):
    session.expire_all()
    return session.get(Receipt, journey_id)


def test_after_delivery_nothing_is_kept_and_the_consent_record_remains(app, walk, phone, queued, logs):
    journey_id = to_review(walk)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    receipt = _receipt(journey_id)
    assert receipt.outcome == "delivered" and receipt.purged_at and receipt.delivered_at
    assert receipt.consent_at is not None and receipt.gemeente_code == "GM0193"
    assert receipt.consent_roles == "applicant,partner"
    assert set(receipt.consent_sources.split(",")) == {
        f"{role}:{source}" for role in ("applicant", "partner")
        for source in ("mijnoverheid", "belastingdienst", "uwv", "pensioen", "duo")}
    log_text = logs()
    assert "POST /gemeente/zgw/GM0193/zaken/api/v1/zaken" in log_text  # the logs were captured
    assert_nothing_kept(app, log_text)
    assert_ids_only_on_the_queue(queued)


def test_the_digid_tokens_in_urls_do_not_reveal_the_bsn(walk, phone):
    walk.start(walk.apply(JAN, FATIMA))
    phone.get(walk.to_qr())
    urls = []
    original = phone.open

    def recording_open(*args, **kwargs):
        response = original(*args, **kwargs)
        urls.append(response.headers.get("Location", ""))
        return response
    phone.open = recording_open
    walk.login(JAN)
    urls = "\n".join(urls)
    assert "/digid-sim/sms?t=" in urls and "SAMLart=" in urls and "SAMLRequest=" in urls
    assert JAN.bsn not in _decoded_tokens(urls)


ENDINGS = {  # how the customer ends a journey before delivery: (device, request, outcome)
    "cancel on the phone": ("phone", "/app/stoppen", "cancelled"),
    "cancel on the desktop": ("desktop", "{journey}/stoppen", "cancelled"),
    "refused consent": ("phone", "/app/niet-versturen", "consent_refused"),
    "app closed": ("phone", "/app/afsluiten", "app_closed"),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_when_the_customer_stops_nothing_is_kept(app, walk, queued, logs, ending):
    device, path, outcome = ENDINGS[ending]
    journey_id = to_review(walk)
    client = getattr(walk, device)
    assert client.post(path.format(journey=walk.journey_url)).status_code in (200, 204, 303)
    walk.run_jobs()
    receipt = _receipt(journey_id)
    assert receipt.outcome == outcome and receipt.consent_at is None and receipt.purged_at
    assert_nothing_kept(app, logs())
    assert_ids_only_on_the_queue(queued)


def test_closing_the_app_forgets_the_phone(walk, phone):
    to_review(walk)
    assert "De app is afgesloten" in phone.post("/app/afsluiten", follow_redirects=True).text
    assert phone.get("/app/").status_code == 403


def test_the_time_to_live_purges_an_unfinished_journey(app, walk, queued, logs):
    journey_id = to_review(walk)
    assert privacy.purge_overdue(utcnow() + timedelta(hours=1)) == (0, 0)
    later = utcnow() + timedelta(hours=app.config["JOURNEY_TTL_HOURS"], minutes=1)
    assert privacy.purge_overdue(later) == (1, 0)
    assert _receipt(journey_id).outcome == "expired"
    assert "gestopt" in walk.desktop.get(walk.journey_url).text
    assert_nothing_kept(app, logs())


def test_the_web_process_purges_overdue_journeys_when_no_worker_runs(app, walk, phone, worker, broker,
                                                                    logs):
    """Consent given, but no worker ever delivers: at the time to live the web purges."""
    journey_id = to_review(walk)
    worker.stop()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    assert session.get(Journey, journey_id).state == "sending"
    app.config["JOURNEY_TTL_HOURS"] = 0
    app.extensions["purge_sweeper"].last = None
    walk.desktop.get("/")  # any request: the sweep runs in the web process
    assert _receipt(journey_id).outcome == "undelivered"
    journey = session.get(Journey, journey_id)
    assert journey.state == "cancelled" and all(f.payload is None for f in journey.fetches)
    broker.flush_all()  # the delivery that never ran must not run after the test
    # The application waits again (its link starts a new journey) until its invitation runs out.
    application = session.scalars(select(Application)).one()
    assert application.status == "invited"
    cutoff = timedelta(days=app.config["INVITATION_TTL_DAYS"], minutes=1)
    assert privacy.purge_overdue(utcnow() + cutoff) == (0, 1)
    assert_nothing_kept(app, logs())


def test_an_invitation_never_used_is_purged_when_it_runs_out(app, walk, logs):
    walk.apply(JAN, FATIMA)
    cutoff = timedelta(days=app.config["INVITATION_TTL_DAYS"],
                       hours=app.config["JOURNEY_TTL_HOURS"], minutes=1)
    assert privacy.purge_overdue(utcnow() + cutoff) == (0, 1)
    application = session.scalars(select(Application)).one()
    assert application.status == "expired" and application.purged_at
    assert_nothing_kept(app, logs())


def test_a_delivered_but_unpurged_journey_is_purged_by_the_sweep(app, walk, phone, logs):
    journey_id = to_review(walk)
    purge_journey = app.extensions["actors"][Job.PURGE_JOURNEY]
    purge_journey.fn, original = (lambda journey_id: None), purge_journey.fn  # the purge job is lost
    try:
        phone.post("/app/versturen", data={"toestemming": "ja"})
        walk.run_jobs()
    finally:
        purge_journey.fn = original
    assert session.get(Journey, journey_id).state == "delivered"
    later = utcnow() + timedelta(hours=app.config["JOURNEY_TTL_HOURS"], minutes=1)
    privacy.purge_overdue(later)
    assert _receipt(journey_id).outcome == "delivered" and _receipt(journey_id).purged_at
    assert_nothing_kept(app, logs())


def test_the_receipt_has_no_column_for_personal_data():
    assert {column.name for column in Receipt.__table__.columns} == {
        "journey_id", "gemeente_code", "outcome", "consent_at", "consent_sources",
        "consent_roles", "delivery_reference", "delivered_at", "purged_at"}


def test_nothing_leaves_without_consent(app, walk, run_jobs):
    journey_id = to_review(walk)
    journeys.deliver(journey_id)  # a delivery job that arrives before the consent
    run_jobs()
    assert dossier_count(app) == 0
    assert session.get(Journey, journey_id).state == "reviewing"
