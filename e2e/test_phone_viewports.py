"""The phone-only journey on a small Android screen and an iPhone screen (emulated in
Chromium: WebKit is not installed): the QR steps are skipped, nothing scrolls sideways."""

import re

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import HENK

from .a11y import assert_no_horizontal_scroll
from .conftest import phone_device
from .steps import apply, digid_login, fetch_sources, open_invitation

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["Android 360x640", "iPhone 13"])
def small_phone(request, new_context, playwright):
    context = new_context(**phone_device(playwright, request.param))
    context.set_default_timeout(15_000)
    return context.new_page()


def test_a_journey_opened_on_a_phone_starts_the_app_by_itself(small_phone):
    page = small_phone
    address = apply(page, HENK)
    assert_no_horizontal_scroll(page, "aanvraag verstuurd")
    open_invitation(page, address)
    assert_no_horizontal_scroll(page, "informatie")
    page.get_by_role("button", name="Start de Ocktoreis").click()
    page.get_by_role("button", name="Ik heb alles bij de hand").click()
    expect(page.get_by_role("heading", name="Download de Ockto app")).to_be_visible()
    assert_no_horizontal_scroll(page, "download")
    page.get_by_role("button", name="Ik heb de Ockto app").click()

    expect(page.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    expect(page.locator("#pairing-qr")).to_have_count(0)
    assert page.url.endswith("/app/")
    assert_no_horizontal_scroll(page, "app: inloggen")
    digid_login(page, HENK)
    expect(page.locator(".source-card")).to_have_count(5)
    assert_no_horizontal_scroll(page, "app: bronnen")
    fetch_sources(page)
    expect(page.get_by_role("heading", name="Bekijk uw gegevens")).to_be_visible()
    assert_no_horizontal_scroll(page, "app: gegevens bekijken")
    page.get_by_label(re.compile("Ik geef toestemming")).check()
    page.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(page.get_by_role("heading", name="U bent klaar!")).to_be_visible()
    assert_no_horizontal_scroll(page, "app: klaar")
