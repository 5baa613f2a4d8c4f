"""The deployment as it runs for real: nginx (ops/nginx/ocktoreis.conf.template) terminating
TLS in front of two web processes (the Procfile's `web` line, TRUSTED_PROXIES=1) and a
Dramatiq worker, on PostgreSQL, RabbitMQ and Redis, with the rate limits on.

The certificate comes from a throw-away CA that Chromium trusts through the NSS database of a
HOME of its own, as a real certificate is trusted: service workers work (Chromium refuses
them on an ignored certificate error). In CI a missing service or nginx fails these tests.
"""

import http.client
import json
import os
import re
import secrets
import signal
import ssl
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from tests.integration.deployment import Deployment, wait_for
from tests.nginx import Nginx, make_certificates, trust_in_nss
from tests.services import PrivateRedis, free_port, fresh_postgres_database, fresh_rabbitmq_vhost
from webapp.simulators.population import HENK, SANNE

from .camera import write_y4m
from .conftest import DESKTOP_VIEWPORT, LOCALE, phone_device
from .steps import (apply, digid_login, fetch_sources, follow_mail, journey_id_of,
                    phone_step_done, review_incomes)

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 20_000
RECONNECT_CEILING_MS = 60_000  # generous: the browser retries after 2 s
# Counts a page's stream connections and failures, from its first script on.
COUNT_STREAMS = """
window.__streams = {opened: 0, failed: 0};
document.addEventListener("htmx:sseOpen", function () { window.__streams.opened++; });
document.addEventListener("htmx:sseError", function () { window.__streams.failed++; });
"""


@pytest.fixture
def site(tmp_path):
    """nginx over TLS in front of two web processes and a worker; (its URL, the CA file, the
    deployment, the nginx, the web processes' ports)."""
    ca_file, cert_file, key_file = make_certificates(tmp_path / "tls")
    ports = [free_port(), free_port()]
    (tmp_path / "nginx").mkdir()
    # First: without nginx the test ends here (skipped, or failed in CI), before it has
    # started anything that would then be left running.
    nginx = Nginx(tmp_path / "nginx", [f"127.0.0.1:{port}" for port in ports], cert_file, key_file)
    database_url, drop = fresh_postgres_database()
    rabbitmq_url, delete = fresh_rabbitmq_vhost()
    redis = PrivateRedis(tmp_path)
    redis.start()
    system = Deployment(tmp_path, database_url, rabbitmq_url, redis.url, PUBLIC_URL=nginx.url,
                        TRUSTED_PROXIES=1, SSL_CERT_FILE=ca_file, SOURCE_SIM_LATENCY_MS=200)
    try:
        webs = [system.start_procfile_web(port)[1] for port in ports]
        system.start_worker()
        nginx.start()
        yield SimpleNamespace(url=nginx.url, ca_file=ca_file, system=system, nginx=nginx,
                              ports=ports, webs=webs)
    finally:
        nginx.stop()
        system.stop()
        redis.stop()
        delete()
        drop()


@pytest.fixture
def browsers(site, tmp_path, launch_browser, browser_type_launch_args, _artifacts_recorder,
             playwright):
    """Opens pages at the site in Chromiums that trust its CA as a real one (and a phone whose
    fake camera films a picture); each context traced like the plugin's own."""
    home = trust_in_nss(tmp_path / "home", site.ca_file)
    launched, contexts = {}, []

    def open_page(kind="desktop", camera_picture=None):
        args = list(browser_type_launch_args.get("args", []))
        if camera_picture:
            video = write_y4m(camera_picture, tmp_path / "camera.y4m")
            args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-video-capture={video}"]
        key = camera_picture or "plain"
        if key not in launched:
            launched[key] = launch_browser(args=args, env={**os.environ, "HOME": str(home)})
        device = ({"viewport": DESKTOP_VIEWPORT} if kind == "desktop"
                  else phone_device(playwright, "Pixel 7"))
        context = launched[key].new_context(
            **device, base_url=site.url, locale=LOCALE,
            permissions=["camera"] if camera_picture else [])
        _artifacts_recorder.on_did_create_browser_context(context)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()

    yield open_page
    try:
        for context in contexts:
            _artifacts_recorder.on_will_close_browser_context(context)
            context.close()
    finally:
        for browser in launched.values():
            browser.close()


def get_from(address, site, path, headers=None):
    """A GET from another client address on this machine (127.0.0.2, ...): its status."""
    port = int(site.url.rsplit(":", 1)[1])
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, source_address=(address, 0), timeout=15,
        context=ssl.create_default_context(cafile=str(site.ca_file)))
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


def no_server_errors(site):
    return [line for status, line in site.nginx.statuses() if status >= 500]


def to_qr_code(desktop, citizen):
    """Apply, follow the invitation mail's link, start, on to the QR code; returns the link."""
    link = follow_mail(desktop, apply(desktop, citizen), "Lever uw gegevens aan met de Ockto app")
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    desktop.get_by_role("button", name="Ik heb alles bij de hand").click()
    desktop.get_by_role("button", name="Ik heb de Ockto app").click()
    expect(desktop.locator("#pairing-qr")).to_be_visible()
    return link


def test_the_whole_journey_over_https_with_each_client_rate_limited_on_its_own(site, browsers, tmp_path):
    desktop = browsers("desktop")
    invitation = to_qr_code(desktop, SANNE)
    assert invitation.startswith(f"{site.url}/uitnodiging/")  # the mail: PUBLIC_URL
    pairing_url = desktop.get_by_test_id("pairing-url").get_attribute("href")
    assert pairing_url.startswith(f"{site.url}/app/koppel/")  # the QR code: https, this host

    # Another client (127.0.0.2) guesses pairing links until it is refused, pretending in
    # X-Forwarded-For to be the desktop's address; the desktop's phone is not refused.
    guesses = [get_from("127.0.0.2", site, f"/app/koppel/{secrets.token_urlsafe(32)}",
                        {"X-Forwarded-For": "127.0.0.1"}) for _ in range(11)]
    assert guesses == [410] * 10 + [429], guesses

    desktop.locator("#pairing-qr").screenshot(path=str(tmp_path / "qr.png"))
    phone = browsers("phone", camera_picture=tmp_path / "qr.png")
    phone.goto("/app/scan")  # the in-app scanner follows only a QR code of its own origin
    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    phone_step_done(desktop, "phone")
    assert phone.evaluate("navigator.serviceWorker.ready.then(r => Boolean(r.active))") is True
    assert all(cookie["secure"] for cookie in phone.context.cookies())

    digid_login(phone, SANNE)  # DigiD's simulator sends the phone back to https
    assert phone.url.startswith(f"{site.url}/app/")
    phone_step_done(desktop, "login")
    fetch_sources(phone, on_each=lambda n: expect(desktop.locator("#live-status")).to_contain_text(
        f"{n} van de 5 bronnen"))
    expect(phone.get_by_role("heading", name="Bekijk uw gegevens")).to_be_visible()
    review_incomes(phone)  # the review as the live update renders it
    phone.get_by_label(re.compile("Ik geef toestemming")).check()
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_role("heading", name="U bent klaar!")).to_be_visible()
    expect(desktop.get_by_role("heading", name="Klaar! Uw gegevens zijn verstuurd")).to_be_visible()

    assert get_from("127.0.0.2", site, "/") == 200  # refused only where it was limited
    assert no_server_errors(site) == []
    assert any('"GET /app/koppel/' in line and " 429 " in line and line.startswith("127.0.0.2 ")
               for _, line in site.nginx.statuses())


class LiveJourney:
    """A journey with its desktop page open in Chromium and its phone; `advance()` takes it one
    step further from the phone and returns a check that the desktop shows that step."""

    def __init__(self, browsers, citizen, steps):
        self.desktop = browsers("desktop")
        self.desktop.context.add_init_script(COUNT_STREAMS)
        self.errors = []
        self.desktop.on("pageerror", lambda error: self.errors.append(error))
        self.citizen = citizen
        to_qr_code(self.desktop, citizen)
        self.id = journey_id_of(self.desktop)
        self.phone = browsers("phone")
        self._steps = iter(steps)
        self.desktop.evaluate("window.__stillTheSamePage = true")

    def advance(self):
        return next(self._steps)(self)

    def streams(self):
        return self.desktop.evaluate("window.__streams")


def pair(journey):
    journey.phone.goto(journey.desktop.get_by_test_id("pairing-url").get_attribute("href"))  # the QR
    # code shown now: it is renewed every PAIRING_TTL_S
    expect(journey.phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible(
        timeout=TIMEOUT_MS)
    return lambda: expect(journey.desktop.locator('.steps li[data-step="phone"]')).to_have_attribute(
        "data-status", "done", timeout=RECONNECT_CEILING_MS)


def log_in(journey):
    digid_login(journey.phone, journey.citizen)
    expect(journey.phone.locator(".source-card")).to_have_count(5, timeout=TIMEOUT_MS)
    return lambda: expect(journey.desktop.locator('.steps li[data-step="login"]')).to_have_attribute(
        "data-status", "done", timeout=RECONNECT_CEILING_MS)


def fetch_one(journey):
    key = journey.phone.locator('.source-card[data-status="waiting"]').first.get_attribute("data-source")
    card = journey.phone.locator(f'.source-card[data-source="{key}"]')
    card.get_by_role("button").click()
    expect(card).to_have_attribute("data-status", "fetched", timeout=TIMEOUT_MS)
    done = journey.phone.locator('.source-card[data-status="fetched"]').count()
    return lambda: expect(journey.desktop.locator("#live-status")).to_contain_text(
        f"{done} van de 5 bronnen", timeout=RECONNECT_CEILING_MS)


def streams_opened(log):
    """The journeys whose desktop stream a web process opened, from its log (the app's access
    line of a stream is written at its first byte)."""
    return {json.loads(line)["path"].split("/")[2] for line in log.read_text().splitlines()
            if '"ocktoreis.access"' in line and re.search(r'"path": "/reis/[^/"]+/events"', line)}


def test_rolling_restart_every_desktop_reconnects_misses_nothing_and_no_request_fails(site, browsers):
    """Each web process in turn: SIGTERM, then started again, as a rolling deploy does. The
    desktops whose stream it held reconnect through nginx to the other process. Their
    reconnect is held back until every journey has moved on, so what they show afterwards
    came with the reconnect's first state (they do not poll meanwhile)."""
    journeys = [LiveJourney(browsers, HENK, [pair, log_in]),
                LiveJourney(browsers, HENK, [pair, log_in, fetch_one]),
                LiveJourney(browsers, HENK, [pair, log_in, fetch_one, fetch_one, fetch_one])]
    for journey, steps_before in zip(journeys, (0, 1, 3)):  # at the QR code, paired, fetching
        for _ in range(steps_before):
            journey.advance()()
    held, held_polls, holding = [], [], [False]

    def hold(route):
        held.append(route) if holding[0] else route.continue_()

    def hold_poll(route):  # a page polls when its reconnect takes long: not before its
        held_polls.append(route) if holding[0] else route.continue_()  # stream showed the state
    for journey in journeys:
        journey.desktop.route("**/reis/*/events", hold)
        journey.desktop.route("**/reis/*/stap", hold_poll)
    cut_in_total = set()

    for index, port in enumerate(site.ports):
        before = {journey.id: journey.streams() for journey in journeys}
        log = site.system.tmp_path / f"web-{port}.log"
        holding[0] = True
        site.webs[index].send_signal(signal.SIGTERM)
        assert site.webs[index].wait(timeout=60) == 0
        wait = journeys[0].desktop
        cut = [journey for journey in journeys if journey.id in streams_opened(log)]  # (its log
        # is complete: it has exited)
        for journey in cut:  # its page saw the end, and asks again (held back here)
            journey.desktop.wait_for_function(
                f"window.__streams.failed > {before[journey.id]['failed']}", timeout=RECONNECT_CEILING_MS)
            while not any(f"/reis/{journey.id}/events" in route.request.url for route in held):
                wait.wait_for_timeout(100)
        shown = [journey.advance() for journey in journeys]  # meanwhile, every journey moves on

        for route in held:  # the reconnects go on; the polls stay held back
            route.continue_()
        held.clear()
        for journey, show in zip(journeys, shown):
            show()
            if journey in cut:
                journey.desktop.wait_for_function(
                    f"window.__streams.opened > {before[journey.id]['opened']}",
                    timeout=RECONNECT_CEILING_MS)
        holding[0] = False
        for route in held_polls:
            route.continue_()
        held_polls.clear()
        cut_in_total.update(journey.id for journey in cut)
        site.webs[index] = site.system.start_procfile_web(port)[1]
        # As a rolling deploy does: the next process stops once nginx uses this one again.
        wait_for(lambda: get_from("127.0.0.1", site, "/health/live") == 200 and any(
            "/health/live " in line and f"upstream=127.0.0.1:{port}:200" in line
            for _, line in site.nginx.statuses()), 60, f"nginx to use the web process on {port} again")

    assert cut_in_total == {journey.id for journey in journeys}  # each restart cut some
    for journey in journeys:
        expect(journey.desktop.locator("[data-poll-url][data-stream=down]")).to_have_count(0)  # streaming
        assert journey.errors == []
        expect(journey.desktop.locator("#problem")).to_have_count(0)
        assert journey.desktop.evaluate("window.__stillTheSamePage") is True  # never reloaded
    assert no_server_errors(site) == []
    cut_off = [line for line in site.nginx.error_log.read_text().splitlines()
               if "upstream prematurely closed" in line]
    assert cut_off == [], cut_off  # every stream ended cleanly, none was cut when its process died
