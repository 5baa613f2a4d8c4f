"""A journey on a flaky network (issue 11, defects 1, 3 and 5): the live page reconnects by
itself and polls only while its event stream is down, a live update keeps what the customer
is doing, every failed request says so in Dutch, a stale action shows the journey as it is
now, and Back never asks to send a form again."""

import re

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import HENK, PASSWORD

from .steps import apply, digid_login, fetch_sources, follow_mail, open_invitation, to_qr_code

pytestmark = pytest.mark.e2e


class Requests:
    """The page's requests to one path, counted as they start and as they end."""

    def __init__(self, page, path):
        self.started = self.ended = 0
        match = re.compile(re.escape(path) + r"(\?|$)")

        def started(request):
            if match.search(request.url):
                self.started += 1

        def ended(request):
            if match.search(request.url):
                self.ended += 1
        page.on("request", started)
        page.on("requestfinished", ended)
        page.on("requestfailed", ended)

    def settled(self, page):
        """Wait until every request started has ended."""
        _wait_for(page, lambda: self.ended >= self.started)


def _wait_for(page, condition, timeout_s=15):
    for _ in range(timeout_s * 20):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("the condition never held")


def _advance_until(page, polls, condition, limit_s=120):
    """Move the page's paused clock a second at a time until `condition` holds."""
    for _ in range(limit_s):
        if condition():
            return
        page.clock.run_for(1000)
        polls.settled(page)
    assert condition()


def _phone_only_to_review(page, citizen):
    """A phone opens its invitation, starts, logs in and fetches: the review screen."""
    open_invitation(page, apply(page, citizen))
    page.get_by_role("button", name="Start de Ocktoreis").click()
    page.get_by_role("button", name="Ik heb alles bij de hand").click()
    page.get_by_role("button", name="Ik heb de Ockto app").click()
    digid_login(page, citizen)
    fetch_sources(page)
    expect(page.get_by_role("heading", name="Bekijk uw gegevens")).to_be_visible()


def _without_stream(page, events_path):
    """The page again, its event stream refused at the network (as by a proxy that drops it)."""
    page.route(f"**{events_path}", lambda route: route.abort())
    page.reload()
    expect(page.locator("[data-poll-url]")).to_have_attribute("data-stream", "down")


def test_a_dropped_stream_polls_with_backoff_keeps_the_tick_and_stops_once_back(phone):
    page = phone
    page.clock.install()  # the page's timers, so its polls can be counted in its own time
    _phone_only_to_review(page, HENK)
    polls = Requests(page, "/app/scherm")
    _without_stream(page, "/app/events")
    consent = page.get_by_label(re.compile("Ik geef toestemming"))
    consent.check()
    expect(consent).to_be_focused()
    heading = page.get_by_role("heading", name="Bekijk uw gegevens").element_handle()

    # Two minutes of the page's time without its stream, a second at a time.
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    for _ in range(120):
        page.clock.run_for(1000)
        polls.settled(page)
    # It polled, and backed off: a poll every 2 s would have been 60.
    assert 3 <= polls.started <= 15, polls.started
    expect(consent).to_be_checked()
    expect(consent).to_be_focused()
    assert heading.evaluate("el => el.isConnected")  # nothing was swapped: nothing changed

    # No network at all: the page says so while its polls fail, and no longer once one works.
    notice = page.locator(".connection-notice")
    page.context.set_offline(True)
    _advance_until(page, polls, lambda: notice.count() == 1)
    expect(notice).to_contain_text("De verbinding is even weg")
    page.context.set_offline(False)
    _advance_until(page, polls, lambda: notice.count() == 0)
    expect(consent).to_be_checked()

    page.unroute("**/app/events")
    page.clock.resume()
    expect(page.locator("[data-poll-url]")).to_have_attribute("data-stream", "open",
                                                               timeout=90_000)
    polls.settled(page)
    after_reconnect = polls.started
    for _ in range(3):  # ten minutes, three times: no poll is due any more
        page.clock.fast_forward("10:00")
    marker = Requests(page, "/health/live")  # the page's requests are seen in order
    page.evaluate("fetch('/health/live')")
    _wait_for(page, lambda: marker.ended == 1)
    polls.settled(page)
    assert polls.started == after_reconnect, "the page still polls with its stream back"
    expect(consent).to_be_checked()
    expect(consent).to_be_focused()

    page.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(page.get_by_role("heading", name="U bent klaar!")).to_be_visible()


def _to_fetching(desktop, phone, citizen):
    """Desktop and phone until the first source is fetched; returns the invitation link."""
    address = apply(desktop, citizen)
    link = follow_mail(desktop, address, "Lever uw gegevens aan met de Ockto app")
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    desktop.get_by_role("button", name="Ik heb alles bij de hand").click()
    desktop.get_by_role("button", name="Ik heb de Ockto app").click()
    phone.goto(desktop.get_by_test_id("pairing-url").get_attribute("href"))
    digid_login(phone, citizen)
    card = phone.locator(".source-card").first
    card.get_by_role("button").click()
    expect(card).to_have_attribute("data-status", "fetched")
    expect(desktop.locator("#live-status")).to_contain_text("1 van de 5 bronnen opgehaald")
    return link


def _withdraw(new_context, link):
    """The applicant withdraws the application from another browser."""
    elsewhere = new_context().new_page()
    elsewhere.goto(f"{link}/intrekken")
    elsewhere.get_by_role("button", name="Ja, trek mijn aanvraag in").click()
    expect(elsewhere.get_by_role("heading", name=re.compile("ingetrokken"))).to_be_visible()


def test_a_stale_stop_shows_the_journey_as_it_is_now(desktop, phone, new_context):
    desktop.clock.install()
    desktop.on("dialog", lambda dialog: dialog.accept())
    link = _to_fetching(desktop, phone, HENK)
    # The desktop loses its stream, and its page's time stands still: it polls nothing.
    _without_stream(desktop, "/events")
    desktop.clock.pause_at(desktop.evaluate("Date.now()") + 100)
    _withdraw(new_context, link)
    expect(desktop.locator("#live-status")).to_contain_text("1 van de 5 bronnen opgehaald")

    with desktop.expect_response(re.compile(r"/stoppen$")) as stale:
        desktop.get_by_role("button", name="Stoppen met de Ocktoreis").click()
    assert stale.value.status == 409
    expect(desktop.get_by_role("heading", name="De Ocktoreis is gestopt")).to_be_visible()
    expect(desktop.get_by_role("alert")).to_contain_text("Dat kan nu niet meer")


def test_the_desktop_follows_its_journey_being_replaced_mid_fetch(desktop, phone, new_context):
    link = _to_fetching(desktop, phone, HENK)
    # Another browser starts the Ocktoreis anew with the same invitation link.
    elsewhere = new_context().new_page()
    elsewhere.goto(link)
    elsewhere.get_by_role("button", name="Opnieuw beginnen").click()  # the choice with a warning
    expect(elsewhere.get_by_role("heading", name="Heeft u alles bij de hand?")).to_be_visible()
    replaced = "U bent op een ander apparaat opnieuw begonnen"
    expect(desktop.get_by_role("heading", name=replaced)).to_be_visible()
    expect(phone.get_by_role("heading", name=replaced)).to_be_visible()


@pytest.mark.parametrize("failure, says", [
    (500, "door een fout bij ons"),
    (503, "Dat lukte even niet"),
    (403, "hoort bij een andere browser"),
    ("network", "er is even geen verbinding"),
])
def test_a_failed_request_says_so_where_the_customer_is_looking(desktop, failure, says):
    open_invitation(desktop, apply(desktop, HENK))
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    button = desktop.get_by_role("button", name="Ik heb alles bij de hand")
    expect(button).to_be_visible()
    desktop.wait_for_load_state()  # htmx has taken over the form
    if failure == "network":
        desktop.context.set_offline(True)
    else:
        desktop.route("**/checklist", lambda route: route.fulfill(
            status=failure, content_type="text/html", body="<h1>Fout</h1>"))
    button.click()
    problem = desktop.get_by_role("alert")
    expect(problem).to_contain_text(says)
    # Just above the button that failed, and the step is still there to try again.
    assert problem.evaluate("el => el.nextElementSibling.contains(document.activeElement) "
                            "|| !!el.nextElementSibling.querySelector('button')")
    expect(desktop.get_by_role("heading", name="Heeft u alles bij de hand?")).to_be_visible()

    desktop.context.set_offline(False)
    desktop.unroute("**/checklist")
    button.click()
    expect(desktop.get_by_role("heading", name="Download de Ockto app")).to_be_visible()
    expect(desktop.locator(".request-problem")).to_have_count(0)


def test_back_after_a_wrong_sms_code_shows_no_resubmission_page(phone):
    page = phone
    open_invitation(page, apply(page, HENK))
    page.get_by_role("button", name="Start de Ocktoreis").click()
    page.get_by_role("button", name="Ik heb alles bij de hand").click()
    page.get_by_role("button", name="Ik heb de Ockto app").click()
    page.get_by_role("link", name="Inloggen met DigiD").click()
    page.get_by_label("DigiD gebruikersnaam").fill(HENK.username)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    code = page.get_by_test_id("sms-code").inner_text()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    page.get_by_label("Sms-code").fill(wrong)
    with page.expect_response(re.compile(r"/digid-sim/sms")) as refused:
        page.get_by_role("button", name="Inloggen").click()
    assert refused.value.status == 422
    assert refused.value.headers["cache-control"] == "no-store"
    expect(page.get_by_role("alert")).to_contain_text("Deze sms-code klopt niet")
    expect(page.get_by_label("Sms-code")).to_have_value(wrong)  # what was typed stays

    page.get_by_label("Sms-code").fill(code)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.locator(".source-card")).to_have_count(5)

    back = page.go_back()  # Chromium's "Confirm Form Resubmission" fails this (ERR_CACHE_MISS)
    assert back is not None and back.request.method == "GET" and back.status == 200
    expect(page.get_by_role("heading", name="Controle via sms")).to_be_visible()


def test_focus_stays_through_a_change_seen_by_polling_and_through_the_reconnect(desktop, phone):
    to_qr_code(desktop, HENK)
    phone.goto(desktop.get_by_test_id("pairing-url").get_attribute("href"))
    digid_login(phone, HENK)
    expect(desktop.locator("#live-status")).to_contain_text("0 van de 5 bronnen opgehaald")

    _without_stream(desktop, "/events")
    stop = desktop.get_by_role("button", name="Stoppen met de Ocktoreis")
    stop.focus()
    card = phone.locator(".source-card").first
    card.get_by_role("button").click()
    expect(card).to_have_attribute("data-status", "fetched")
    # A poll brings the change: the step is swapped, the focus stays on the same button.
    expect(desktop.locator("#live-status")).to_contain_text("1 van de 5 bronnen opgehaald",
                                                            timeout=30_000)
    expect(stop).to_be_focused()
    heading = desktop.get_by_role("heading", name="Ga verder op uw telefoon").element_handle()

    desktop.evaluate("""() => { window.stepsReceived = 0;
      document.addEventListener("htmx:sseBeforeMessage", e => {
        if (e.detail.type === "step") { window.stepsReceived += 1; } }); }""")
    desktop.unroute("**/events")
    expect(desktop.locator("[data-poll-url]")).to_have_attribute("data-stream", "open",
                                                                  timeout=90_000)
    desktop.wait_for_function("window.stepsReceived > 0")
    # The stream's fresh state on connect shows nothing new: nothing is swapped.
    expect(stop).to_be_focused()
    assert heading.evaluate("el => el.isConnected")
    expect(desktop.locator("#announcer")).to_contain_text("1 van de 5 bronnen opgehaald")
