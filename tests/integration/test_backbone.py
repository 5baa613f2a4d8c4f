"""The same code as a real deployment: several gunicorn (gevent) and Dramatiq processes
on PostgreSQL, RabbitMQ and Redis, and what happens when one of them fails.

These tests need the real services; in CI a missing service fails the test.
"""

import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import redis
import requests
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import create_engine, text

from tests.services import POSTGRES_ADMIN_URL
from webapp.simulators.population import SANNE

from . import crash_after_commit
from .conftest import PHONE_UA
from .deployment import ROOT, STAFF_PASSWORD, EventStream, HttpClient, wait_for
from .helpers import Walk, application_form, local, outbox_messages


def _dossiers_in_inbox(web):
    """Zwolle's staff sign in and count the dossiers in their inbox."""
    staff = HttpClient(web)
    staff.post("/gemeente/GM0193/inloggen", data={"password": STAFF_PASSWORD})
    inbox = staff.get("/gemeente/GM0193/inbox")
    assert inbox.status_code == 200, inbox.text
    return inbox.text.count("Bekijk ")


def _journey_of(walk):
    return walk.journey_url.rsplit("/", 1)[1]


def test_two_web_and_two_worker_processes_follow_live_and_do_each_job_once(deployment):
    system = deployment()
    web_a, web_b = system.start_web(), system.start_web()
    system.start_worker()
    system.start_worker()
    desktop, phone = HttpClient(web_a), HttpClient(web_b, PHONE_UA)
    walk = Walk(system.app, desktop, phone, system.run_jobs)
    walk.start(walk.apply(SANNE))
    stream = EventStream(desktop, f"{walk.journey_url}/events")  # on web A
    assert stream.status_code == 200
    stream.wait_for('data-step="checklist"')
    pairing = walk.to_qr()
    stream.wait_for('id="pairing-qr"')

    assert phone.get(pairing).status_code == 303  # everything the phone does goes to web B
    stream.wait_for('data-step="phone" data-status="done"')
    walk.login(SANNE)
    stream.wait_for('data-step="login" data-status="done"')
    walk.fetch_all()
    stream.wait_for("Bekijk en controleer de gegevens")
    assert phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
    stream.wait_for('data-state="done"')
    stream.close()

    assert outbox_messages(system.app) == []  # the invitation went with the purge, none came again
    journey_id = _journey_of(walk)
    assert system.scalar("SELECT state FROM journey WHERE id = :id", id=journey_id) == "done"
    assert system.scalar("SELECT count(*) FROM outbox") == 0  # every job request was crossed off
    assert system.scalar("SELECT count(*) FROM source_fetch WHERE journey_id = :id", id=journey_id) == 5
    assert _dossiers_in_inbox(web_a) == 1


def test_a_closed_page_gets_heartbeats_and_is_released_at_the_next_one(deployment, redis_server):
    system = deployment(SSE_HEARTBEAT_S=0.5)
    web = system.start_web()
    system.start_worker()
    desktop = HttpClient(web)
    walk = Walk(system.app, desktop, HttpClient(web, PHONE_UA), system.run_jobs)
    walk.start(walk.apply(SANNE))
    channel = f"journey:{_journey_of(walk)}"
    redis_client = redis.Redis.from_url(redis_server.url)

    def subscribers():
        return dict(redis_client.pubsub_numsub(channel))[channel.encode()]

    cookies = "; ".join(f"{c.name}={c.value}" for c in desktop.http.cookies)
    host, port = web.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as page:
        page.sendall(f"GET {walk.journey_url}/events HTTP/1.1\r\nHost: {host}\r\n"
                     f"Accept: text/event-stream\r\nCookie: {cookies}\r\n\r\n".encode())
        received = b""
        while received.count(b": heartbeat") < 2:
            chunk = page.recv(65536)
            assert chunk, f"the stream ended: {received[-200:]!r}"
            received += chunk
        assert b"event:step" in received.split(b": heartbeat")[0]  # the state comes first
        assert subscribers() == 1
    # The page is gone without a word: the next heartbeat's write fails and frees it all.
    wait_for(lambda: subscribers() == 0, 10, "the closed page's subscription to be released")


def test_a_source_taken_down_on_one_web_process_is_down_on_every_one(deployment):
    system = deployment(ACCEPTANCE_MODE=1, SOURCES_TOKEN="sources-token")  # QA's outage switch
    web_a, web_b = HttpClient(system.start_web()), HttpClient(system.start_web())
    fetch = {"json": {"bsn": SANNE.bsn}, "headers": {"Authorization": "Bearer sources-token"}}
    assert web_a.post("/bronnen-sim/api/duo", **fetch).status_code == 200
    assert web_b.post("/bronnen-sim/storing", json={"source": "duo", "down": True}).json() == {
        "down": ["duo"]}
    assert web_a.post("/bronnen-sim/api/duo", **fetch).status_code == 503
    assert web_a.post("/bronnen-sim/api/uwv", **fetch).status_code == 200
    web_a.post("/bronnen-sim/storing", json={"source": "duo", "down": False})
    assert web_b.post("/bronnen-sim/api/duo", **fetch).status_code == 200


def test_a_worker_killed_in_the_middle_of_a_fetch_loses_nothing(deployment):
    system = deployment(SOURCE_SIM_LATENCY_MS=3000)
    web = system.start_web()
    system.start_worker()
    desktop, phone = HttpClient(web), HttpClient(web, PHONE_UA)
    walk = Walk(system.app, desktop, phone, system.run_jobs)
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    phone.post("/app/bronnen/belastingdienst")
    # The worker takes the job at once and the source takes 3 s to answer: kill it meanwhile.
    wait_for(lambda: system.ready_messages() == 0, 20, "the worker to take the fetch")
    system.kill_workers()
    journey_id = _journey_of(walk)
    status = "SELECT status FROM source_fetch WHERE journey_id = :id AND source = 'belastingdienst'"
    assert system.scalar(status, id=journey_id) == "fetching"

    system.start_worker()
    wait_for(lambda: system.scalar(status, id=journey_id) == "fetched", 60, "the fetch to complete")
    walk.fetch_all()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    system.run_jobs()
    assert system.scalar("SELECT state FROM journey WHERE id = :id", id=journey_id) == "done"
    assert _dossiers_in_inbox(web) == 1


def test_jobs_queued_while_rabbitmq_restarts_are_not_lost(deployment):
    system = deployment()
    web = system.start_web()
    client = HttpClient(web)
    walk = Walk(system.app, client, client, system.run_jobs)
    for n in range(3):
        response = client.post("/aanvraag", data=application_form(SANNE, email=f"r{n}@example.org"))
        assert response.status_code == 303
    _rabbitmqctl("stop_app")
    _rabbitmqctl("start_app")
    _rabbitmqctl("await_startup")
    # The web process reconnects by itself: a new application is queued as well.
    assert client.post("/aanvraag", data=application_form(SANNE, email="after@example.org")).status_code == 303
    system.start_worker()
    walk.run_jobs()
    assert sorted(m["To"] for m in outbox_messages(system.app)) == [
        "after@example.org", "r0@example.org", "r1@example.org", "r2@example.org"]


def _rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


# What reached the desktop's live step, for a failure's message: the stream opened or lost,
# each event and each poll's answer with its order, and the order the page then holds.
RECORD_LIVE = """
window.live = [];
function note(what) {
  var container = document.querySelector("[data-poll-url]");
  window.live.push(Math.round(performance.now()) + " ms " + what + " (the page holds " +
                   (container && container.dataset.version) + ")");
}
["htmx:sseOpen", "htmx:sseError", "htmx:sseBeforeMessage"].forEach(function (name) {
  document.addEventListener(name, function (e) {
    var data = e.detail && typeof e.detail.data === "string" ? e.detail.data : "";
    note(name + " " + ((e.detail && e.detail.lastEventId) || "") + " " +
         data.replace(/<[^>]*>/g, " ").replace(/\\s+/g, " ").trim().slice(0, 80));
  }, true);
});
var fetched = window.fetch;
window.fetch = function (url, options) {
  return fetched(url, options).then(function (response) {
    note("poll " + response.status + " " + response.headers.get("X-View-Version"));
    return response;
  });
};
"""


def _shows(page, text):
    """The desktop's status line comes to show `text`; if not, the message says what reached it."""
    try:
        expect(page.locator("#live-status")).to_contain_text(text)
    except AssertionError as error:
        raise AssertionError(f"{error}\nthe desktop's live updates:\n" +
                             "\n".join(page.evaluate("window.live"))) from None


def test_with_redis_unreachable_the_desktop_polls_and_the_journey_pauses_until_it_is_back(
        deployment, redis_proxy):
    """Redis holds the journeys' data keys: while it cannot be reached (its data kept), the
    desktop in Chromium falls back to polling, the fetches wait; when it is back they
    complete without a click, and the journey ends as usual."""
    system = deployment(SOURCE_SIM_LATENCY_MS=200, REDIS_URL=redis_proxy.url)
    web_a, web_b = system.start_web(), system.start_web()
    system.start_worker()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(base_url=web_a).new_page()
            page.add_init_script(RECORD_LIVE)
            page.set_default_timeout(20_000)
            phone = HttpClient(web_b, PHONE_UA)
            desktop = HttpClient(web_a)
            walk = Walk(system.app, desktop, phone, system.run_jobs)
            invitation = walk.apply(SANNE)
            page.goto(invitation)
            page.get_by_role("button", name="Start de Ocktoreis").click()
            page.get_by_role("button", name="Ik heb alles bij de hand").click()
            page.get_by_role("button", name="Ik heb de Ockto app").click()
            pairing = page.get_by_test_id("pairing-url").get_attribute("href")
            phone.get(pairing[len(web_a):])
            expect(page.locator('[data-step="phone"]')).to_have_attribute("data-status", "done")
            walk.login(SANNE)
            expect(page.locator('[data-step="login"]')).to_have_attribute("data-status", "done")
            journey_id = system.scalar("SELECT id FROM journey")  # the browser started it
            fetched = "SELECT count(*) FROM source_fetch WHERE journey_id = :id AND status = 'fetched'"

            redis_proxy.cut()
            for source in ("mijnoverheid", "belastingdienst", "uwv", "pensioen", "duo"):
                tapped = phone.post(f"/app/bronnen/{source}", follow_redirects=True)
                assert tapped.status_code == 200 and "Bezig met ophalen" in tapped.text
            worker_log = system.tmp_path / "worker-0.log"
            wait_for(lambda: "KeysUnavailable" in worker_log.read_text(), 30,
                     "the worker's fetches to wait for Redis")
            assert system.scalar(fetched, id=journey_id) == 0
            _shows(page, "0 van de 5")

            redis_proxy.open()
            wait_for(lambda: system.scalar(fetched, id=journey_id) == 5, 60, "the fetches after Redis")
            _shows(page, "5 van de 5")
            assert 'data-screen="review"' in phone.post("/app/bronnen/klaar", follow_redirects=True).text
            expect(page.locator("#live-status")).to_contain_text("Bekijk en controleer")
            phone.post("/app/versturen", data={"toestemming": "ja"})
            expect(page.get_by_role("heading", name="Klaar! Uw gegevens zijn verstuurd")).to_be_visible()
        finally:
            browser.close()
    assert _dossiers_in_inbox(web_a) == 1


def test_a_redis_restart_after_consent_ends_the_journey_with_a_mail_and_nothing_delivered(
        deployment, redis_server):
    """The worker processes find the journey's key gone (Redis restarted without its data):
    the delivery is not made, the customer is mailed, both screens say to begin again."""
    system = deployment()
    web = system.start_web()
    system.start_worker()
    desktop, phone = HttpClient(web), HttpClient(web, PHONE_UA)
    walk = Walk(system.app, desktop, phone, system.run_jobs)
    walk.to_review(SANNE)
    journey_id = _journey_of(walk)
    system.kill_workers()  # the delivery waits on the queue
    assert 'data-screen="sending"' in phone.post("/app/versturen", data={"toestemming": "ja"},
                                                 follow_redirects=True).text
    redis_server.stop()
    redis_server.start()
    system.start_worker()
    wait_for(lambda: system.scalar("SELECT state FROM journey WHERE id = :id", id=journey_id)
             == "cancelled", 60, "the journey to end")
    system.run_jobs()
    assert system.scalar("SELECT outcome FROM receipt WHERE journey_id = :id", id=journey_id) == "key_lost"
    wait_for(lambda: len(outbox_messages(system.app)) == 2, 60, "the mail to the customer")
    assert "Begin opnieuw met de link uit uw uitnodiging" in outbox_messages(system.app)[-1].get_body(
        ("plain",)).get_content()
    assert "Begin opnieuw met de link uit uw uitnodiging" in phone.get("/app/").text
    assert "Begin opnieuw met de link uit uw uitnodiging" in desktop.get(walk.journey_url).text
    assert _dossiers_in_inbox(web) == 0


def _at_the_checklist(deployment, **settings):
    """A web and a worker process, and Sanne's journey at its checklist: (web, desktop, walk)."""
    system = deployment(**settings)
    web = system.start_web()
    desktop = HttpClient(web)
    walk = Walk(system.app, desktop, desktop, system.run_jobs)
    system.start_worker()
    walk.start(walk.apply(SANNE))
    return web, desktop, walk


def _database_admin(postgres_url):
    """(the app's database name, an engine on another database to act on its sessions)."""
    return postgres_url.rsplit("/", 1)[1], create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def test_a_dropped_database_connection_gives_a_clear_page_and_the_app_recovers(deployment, postgres_url):
    _web, desktop, walk = _at_the_checklist(deployment, DATABASE_CONNECT_WAIT_S=1)
    assert desktop.get(walk.journey_url).status_code == 200

    database, admin = _database_admin(postgres_url)
    allow = f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS '
    try:
        with admin.connect() as connection:
            connection.execute(text(allow + "false"))
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :db"), {"db": database})
        failed = desktop.get(walk.journey_url)
        assert failed.status_code == 503
        assert "Even niet bereikbaar" in failed.text and "Opnieuw proberen" in failed.text
    finally:
        with admin.connect() as connection:
            connection.execute(text(allow + "true"))
        admin.dispose()
    recovered = desktop.get(walk.journey_url)
    assert recovered.status_code == 200 and 'data-step="checklist"' in recovered.text


class _Browsers:
    """Four browsers reading Sanne's journey page over and over: [(started, status)]."""

    def __init__(self, web, desktop, walk, count=4):
        self.answers, self._stop = [], threading.Event()
        self._threads = [threading.Thread(target=self._browse, args=(web, desktop, walk))
                         for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def _browse(self, web, desktop, walk):
        browser = HttpClient(web)
        browser.http.cookies.update(desktop.http.cookies)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = browser.get(walk.journey_url).status_code
            except requests.RequestException as error:  # no answer in time counts too
                status = type(error).__name__
            self.answers.append((started, status))

    def started_after(self, moment):
        return [status for started, status in self.answers if started > moment]

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _end_sessions(connection, database):
    return connection.execute(text(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
        "WHERE datname = :db"), {"db": database}).scalar()


def test_sessions_the_database_ends_under_traffic_cost_no_500_and_the_pages_after_are_answered(
        deployment, postgres_url):
    """PostgreSQL ends every session of the app three times (as an operator would) while
    four browsers keep reading their journey page: a request under way at that moment may
    get the clear 503 page, none a 500 (not even one whose page was drawn before its
    connection's end: webapp.db.end_session), and every request after it is answered."""
    browsers = _Browsers(*_at_the_checklist(deployment))
    database, admin = _database_admin(postgres_url)
    ends = []
    try:
        for _ in range(3):
            wait_for(lambda: len(browsers.answers) >= 40 * (len(ends) + 1), 30, "pages read")
            with admin.connect() as connection:
                ends.append((_end_sessions(connection, database), time.monotonic()))
        wait_for(lambda: len(browsers.started_after(ends[-1][1])) >= 40, 30, "pages after")
    finally:
        browsers.stop()
        admin.dispose()
    assert all(ended >= 1 for ended, _ in ends)
    assert 500 not in {status for _, status in browsers.answers}
    assert set(browsers.started_after(ends[-1][1])) == {200}


def test_a_database_restart_under_traffic_is_a_wait_not_an_error_page(deployment, postgres_url):
    """As a restart does, PostgreSQL ends every session and refuses new ones for a second
    and a half while four browsers read their journey page: a page asked for meanwhile waits
    and is answered (DATABASE_CONNECT_WAIT_S), no request gets a 500, and every one after is
    answered."""
    web, desktop, walk = _at_the_checklist(deployment, DATABASE_CONNECT_WAIT_S=10)
    browsers = _Browsers(web, desktop, walk)
    database, admin = _database_admin(postgres_url)
    allow = f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS '
    late = []
    asks = threading.Thread(target=lambda: late.append(desktop.get(walk.journey_url).status_code))
    try:
        wait_for(lambda: len(browsers.answers) >= 40, 30, "pages read")
        with admin.connect() as connection:
            connection.execute(text(allow + "false"))
            try:
                assert _end_sessions(connection, database) >= 1
                asks.start()  # while the database refuses connections
                time.sleep(1.5)  # the restart's length, not a wait for something
            finally:
                connection.execute(text(allow + "true"))
            up = time.monotonic()
        asks.join()
        wait_for(lambda: len(browsers.started_after(up)) >= 40, 30, "pages after")
    finally:
        browsers.stop()
        admin.dispose()
    assert late == [200]
    assert 500 not in {status for _, status in browsers.answers}
    assert set(browsers.started_after(up)) == {200}


class Customer:
    """One applicant's desktop (on web A, its page following live) and phone (on web B)."""

    def __init__(self, system, web_a, web_b, citizen=SANNE):
        self.desktop, self.phone = HttpClient(web_a), HttpClient(web_b, PHONE_UA)
        self.walk = Walk(system.app, self.desktop, self.phone, system.run_jobs)
        self.walk.start(self.walk.apply(citizen))
        self.journey_id = _journey_of(self.walk)
        self.page = EventStream(self.desktop, f"{self.walk.journey_url}/events")
        self.page.wait_for('data-step="checklist"')
        self.citizen = citizen

    def to_sources(self):
        self.phone.get(self.walk.to_qr())
        self.walk.login(self.citizen)
        self.page.wait_for('data-step="login" data-status="done"')
        return self


def _fetch_status(system, customer, source):
    return system.scalar("SELECT status FROM source_fetch WHERE journey_id = :id AND source = :s",
                         id=customer.journey_id, s=source)


def _state(system, customer):
    return system.scalar("SELECT state FROM journey WHERE id = :id", id=customer.journey_id)


def test_jobs_asked_for_while_rabbitmq_refuses_run_once_it_is_back_without_a_click(deployment):
    """Four journeys at different steps, each desktop following live, one fetch in flight at
    the worker: RabbitMQ stops; a phone taps a source and another customer consents. Both
    answer at once; when RabbitMQ is back the fetch and the delivery complete by themselves."""
    system = deployment(SOURCE_SIM_LATENCY_MS=1500, OUTBOX_RETRY_S=1)
    web_a, web_b = system.start_web(), system.start_web()
    system.start_worker()
    system.start_clock()
    tapping = Customer(system, web_a, web_b).to_sources()
    consenting = Customer(system, web_a, web_b).to_sources()
    consenting.walk.fetch_all()
    consenting.page.wait_for("Bekijk en controleer de gegevens")
    in_flight = Customer(system, web_a, web_b).to_sources()
    waiting = Customer(system, web_a, web_b)
    waiting.walk.to_qr()
    in_flight.phone.post("/app/bronnen/duo")
    wait_for(lambda: system.ready_messages() == 0, 20, "the worker to take the in-flight fetch")

    _rabbitmqctl("stop_app")
    try:
        tapped = tapping.phone.post("/app/bronnen/uwv", follow_redirects=True)
        assert tapped.status_code == 200 and "Bezig met ophalen" in tapped.text
        consented = consenting.phone.post("/app/versturen", data={"toestemming": "ja"},
                                          follow_redirects=True)
        assert consented.status_code == 200 and 'data-screen="sending"' in consented.text
        assert system.scalar("SELECT count(*) FROM outbox") == 2  # committed with their changes
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")

    wait_for(lambda: _fetch_status(system, tapping, "uwv") == "fetched", 60, "the tapped fetch")
    tapping.page.wait_for("1 van de 5 bronnen opgehaald")
    wait_for(lambda: _state(system, consenting) == "done", 60, "the consented delivery")
    consenting.page.wait_for('data-state="done"')
    wait_for(lambda: _fetch_status(system, in_flight, "duo") == "fetched", 60, "the in-flight fetch")
    page = waiting.desktop.get(waiting.walk.journey_url).text  # the QR code shown now
    pairing = local(re.search(r'href="([^"]+)" data-testid="pairing-url"', page).group(1))
    assert waiting.phone.get(pairing).status_code == 303  # still pairs
    waiting.page.wait_for('data-step="phone" data-status="done"')
    system.run_jobs()
    assert _dossiers_in_inbox(web_a) == 1
    assert system.scalar("SELECT count(*) FROM outbox") == 0
    for customer in (tapping, consenting, in_flight, waiting):
        customer.page.close()


def test_a_web_process_killed_between_commit_and_send_loses_no_job(deployment):
    """The process dies inside its first send to the broker, right after the commit: the
    clock sends the committed job, and the fetch and the delivery run without a click."""
    system = deployment(OUTBOX_RETRY_S=1)
    web_a, web_b = system.start_web(), system.start_web()
    system.start_worker()
    tapping = Customer(system, web_a, web_b).to_sources()
    consenting = Customer(system, web_a, web_b).to_sources()
    consenting.walk.fetch_all()

    def crash(customer, path, *fields):
        result = subprocess.run(
            [sys.executable, "-m", "tests.integration.crash_after_commit", "POST", path,
             customer.phone.http.cookies.get("ocktoreis"), customer.phone._csrf_token(), *fields],
            cwd=ROOT, env=system.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == crash_after_commit.CRASHED, result.stderr[-2000:]

    crash(tapping, "/app/bronnen/pensioen")
    crash(consenting, "/app/versturen", "toestemming=ja")
    assert _fetch_status(system, tapping, "pensioen") == "fetching"
    assert _state(system, consenting) == "sending"
    assert system.scalar("SELECT count(*) FROM outbox") == 2
    assert system.ready_messages() == 0  # nothing reached RabbitMQ

    system.start_clock()
    wait_for(lambda: _fetch_status(system, tapping, "pensioen") == "fetched", 60, "the fetch")
    tapping.page.wait_for("1 van de 5 bronnen opgehaald")
    wait_for(lambda: _state(system, consenting) == "done", 60, "the delivery")
    consenting.page.wait_for('data-state="done"')
    assert _dossiers_in_inbox(web_a) == 1
    assert system.scalar("SELECT count(*) FROM outbox") == 0
    tapping.page.close()
    consenting.page.close()
