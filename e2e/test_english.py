"""The two journeys of the leaflet in English, in a real browser (switched to English on the
first page: the contexts ask for Dutch, see conftest): every page says
`lang="en"`, offers both languages, and is clean for axe. The phone paired from an English
desktop opens in English although its own browser asks for Dutch; the phone-only journey also
in landscape (WCAG 1.3.4: the app does not lock the orientation)."""

import re

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import FATIMA, JAN, SANNE

from .a11y import assert_no_horizontal_scroll, check_axe
from .conftest import DESKTOP_VIEWPORT, TIMEOUT_MS, phone_device
from .steps import apply, digid_login, fetch_sources, open_mail

pytestmark = pytest.mark.e2e



def english_page(page, name):
    """The page is English throughout: its lang, the switch with each language's own, axe."""
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch = page.locator(".language-switch")
    if switch.count():  # every citizen page; not the DigiD simulator's frame around it
        expect(switch.locator('button[lang="nl"]')).to_have_text("Nederlands")
        expect(switch.locator('button[lang="en"]')).to_have_attribute("aria-pressed", "true")
    check_axe(page, f"{name} (English)")


def apply_in_english(page, citizen, partner=None):
    address = apply(page, citizen, partner, "en")
    english_page(page, "application received")
    return address


def press(page, button, then, name=None):
    """Press a button, wait for the heading of what follows; check it when `name` is given."""
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("heading", name=then)).to_be_visible()
    if name:
        english_page(page, name)


def open_english_invitation(page, address):
    body = open_mail(page, address, "Send your data with the Ockto app")
    assert "Dear " in body and "The link works for 28 days." in body
    link = page.locator("pre.mail-body a", has_text="/uitnodiging/").get_attribute("href")
    page.goto(link)
    expect(page.get_by_role("heading", name="Send your data with the Ockto app")).to_be_visible()
    english_page(page, "invitation")


def digid_login_in_english(page, citizen):
    digid_login(page, citizen, "en", lambda screen: english_page(screen, "DigiD simulator"))


def fetch_sources_in_english(page, on_each=None):
    expect(page.locator(".source-card")).to_have_count(5)
    english_page(page, "app: sources")
    fetch_sources(page, on_each, "en")


def test_desktop_and_phone_with_partner_in_english(new_context, playwright):
    desktop = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    desktop.set_default_timeout(TIMEOUT_MS)
    address = apply_in_english(desktop, JAN, partner=FATIMA)
    open_english_invitation(desktop, address)
    press(desktop, "Start the Ocktoreis", "Do you have everything at hand?", "checklist")
    expect(desktop.get_by_text("Please note: you have a partner")).to_be_visible()
    press(desktop, "I have everything at hand", "Download the Ockto app", "download")
    press(desktop, "I have the Ockto app", "Scan the QR code with the Ockto app", "QR code")
    pairing_url = desktop.get_by_test_id("pairing-url").get_attribute("href")

    # The phone's own browser asks for Dutch: it follows the application's language.
    phone_context = new_context(**phone_device(playwright, "Pixel 7"))
    phone_context.set_default_timeout(TIMEOUT_MS)
    phone = phone_context.new_page()
    phone.goto(pairing_url)
    expect(phone.get_by_role("heading", name="The app is ready to use")).to_be_visible()
    english_page(phone, "app: log in")
    live = desktop.locator("#live-status")
    expect(live).to_contain_text("Your phone is connected")
    english_page(desktop, "progress")

    digid_login_in_english(phone, JAN)
    fetch_sources_in_english(phone, lambda n: expect(live).to_contain_text(f"{n} of the 5 sources"))
    expect(phone.get_by_role("heading", name="Now your partner")).to_be_visible()
    expect(live).to_contain_text("Now it is your partner's turn")
    english_page(phone, "app: partner logs in")
    digid_login_in_english(phone, FATIMA)
    fetch_sources_in_english(phone)

    expect(phone.get_by_role("heading", name="Your partner's data")).to_be_visible()
    expect(phone.locator("dt", has_text="Aggregate income").first).to_be_visible()
    expect(phone.locator("dd", has_text=re.compile(r"^€[0-9]{1,3},[0-9]{3}$")).first).to_be_visible()
    english_page(phone, "app: review")
    phone.get_by_role("button", name="Send to the municipality").click()
    expect(phone.get_by_role("alert")).to_contain_text("Tick the box if you give consent")
    english_page(phone, "app: review with an error")
    phone.get_by_label(re.compile("I give consent")).check()
    press(phone, "Send to the municipality", "You are done!", "app: done")
    expect(desktop.get_by_role("heading", name="Done! Your data has been sent")).to_be_visible()
    english_page(desktop, "done")


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_phone_only_in_english(new_context, playwright, orientation):
    device = phone_device(playwright, "Pixel 7")
    if orientation == "landscape":  # the phone turned: the app follows (no orientation lock)
        size = device["viewport"]
        device = {**device, "viewport": {"width": size["height"], "height": size["width"]},
                  "screen": {"width": device["screen"]["height"],
                             "height": device["screen"]["width"]}}
    context = new_context(**device)
    context.set_default_timeout(TIMEOUT_MS)
    phone = context.new_page()

    def screen(button, heading, name):
        press(phone, button, heading, f"{name}, {orientation}")
        assert_no_horizontal_scroll(phone, f"{name}, {orientation}")

    address = apply_in_english(phone, SANNE)
    open_english_invitation(phone, address)
    screen("Start the Ocktoreis", "Do you have everything at hand?", "checklist")
    screen("I have everything at hand", "Download the Ockto app", "download")
    screen("I have the Ockto app", "The app is ready to use", "app: log in")
    digid_login_in_english(phone, SANNE)
    fetch_sources_in_english(phone)
    expect(phone.get_by_role("heading", name="Check your data")).to_be_visible()
    english_page(phone, f"app: review, {orientation}")
    assert_no_horizontal_scroll(phone, f"app: review, {orientation}")
    phone.get_by_label(re.compile("I give consent")).check()
    screen("Send to the municipality", "You are done!", "app: done")
    screen("Close the app", "The app has been closed", "app: closed")


def test_the_switch_changes_the_language_of_the_page(page):
    page.goto("/privacy")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    page.locator('.language-switch button[lang="en"]').click()
    expect(page.get_by_role("heading", name="Privacy statement")).to_be_visible()
    english_page(page, "privacy statement")
    page.goto("/")
    english_page(page, "application form")
    page.locator('.language-switch button[lang="nl"]').click()
    expect(page.get_by_role("heading", name="Vraag de gemeentepolis aan")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "nl")
