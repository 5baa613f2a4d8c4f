"""The Content-Security-Policy in a real browser: htmx, the live stream, the QR code and the
dev mail page work without one violation."""

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import SANNE

from .steps import apply, open_invitation

pytestmark = pytest.mark.e2e


def test_the_pages_work_under_the_csp_without_violations(desktop):
    violations = []
    desktop.on("console", lambda message: violations.append(message.text)
               if "Content Security Policy" in message.text else None)
    address = apply(desktop, SANNE)
    desktop.goto("/dev/outbox")
    desktop.locator("#mails tr", has_text=address).get_by_role("link").click()
    framed = desktop.frame_locator("iframe.mail-frame")
    expect(framed.get_by_role("link", name="Start de Ocktoreis")).to_be_visible()
    open_invitation(desktop, address)
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    desktop.get_by_role("button", name="Ik heb alles bij de hand").click()
    desktop.get_by_role("button", name="Ik heb de Ockto app").click()
    expect(desktop.locator("#pairing-qr")).to_be_visible()
    assert desktop.evaluate("document.querySelector('#pairing-qr').naturalWidth") > 0
    assert violations == []
