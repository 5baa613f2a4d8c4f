"""Ordered live updates in the page (issue 17): an event or a poll's answer older than what
the page shows is never rendered. The stream and the poll are played by Playwright, so the
out-of-order arrival the server prevents can still be shown to the page."""

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import SANNE

from .steps import apply, open_invitation

pytestmark = pytest.mark.e2e

# Every text that reaches the live step, in the order it was rendered.
RECORD_RENDERS = """
document.addEventListener("DOMContentLoaded", function () {
  window.rendered = [];
  var step = document.getElementById("live-step");
  if (!step) { return; }
  new MutationObserver(function () { window.rendered.push(step.textContent.trim()); })
    .observe(step, { childList: true, subtree: true, characterData: true });
});
"""


def _events(*views):
    """A stream body: each (order, text) as a `step` event with that id."""
    return "retry: 500\n\n" + "".join(
        f'event:step\ndata:<p data-testid="shown">{text}</p>\nid:{order}\n\n' for order, text in views)


def test_an_older_event_or_poll_answer_after_a_newer_one_is_not_rendered(page):
    page.add_init_script(RECORD_RENDERS)
    streams, polls = [], [(1095, "poll ouder"), (1120, "poll nieuwer")]

    def stream(route):
        streams.append(route.request.url)
        if len(streams) > 1:  # down from then on: the page polls
            return route.fulfill(status=503, body="")
        route.fulfill(status=200, content_type="text/event-stream", body=_events(
            (1100, "versie 1100"), (1090, "versie 1090"), (1110, "versie 1110")))

    def poll(route):
        order, text = polls.pop(0) if polls else (1120, "poll nieuwer")
        route.fulfill(status=200, content_type="text/html", headers={"X-View-Version": str(order)},
                      body=f'<p data-testid="shown">{text}</p>')

    page.route("**/reis/*/events", stream)
    page.route("**/reis/*/stap", poll)
    open_invitation(page, apply(page, SANNE))
    page.get_by_role("button", name="Start de Ocktoreis").click()
    shown = page.get_by_test_id("shown")
    expect(shown).to_have_text("versie 1110")
    expect(page.locator("[data-poll-url]")).to_have_attribute("data-stream", "down")
    page.evaluate("window.dispatchEvent(new Event('online'))")  # poll now, not in 5 s
    expect(shown).to_have_text("poll nieuwer", timeout=15_000)
    rendered = page.evaluate("window.rendered")
    assert not [text for text in rendered if text in ("versie 1090", "poll ouder")], rendered
    assert "versie 1100" in rendered
