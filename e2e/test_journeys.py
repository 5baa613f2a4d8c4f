"""The two journeys of the leaflet in a real browser: desktop + phone with a partner,
and phone only without one."""

import re

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import FATIMA, JAN, SANNE

from .steps import (apply, assert_nothing_kept, digid_login, fetch_sources, gemeente_sign_in,
                    journey_id_of, open_invitation, review_incomes, to_qr_code)

pytestmark = pytest.mark.e2e


def _progress(desktop, step):
    return desktop.locator(f'.steps li[data-step="{step}"]')


def test_desktop_and_phone_with_partner(desktop, phone, database_url, whole_database_is_ours):
    address = apply(desktop, JAN, partner=FATIMA)
    open_invitation(desktop, address)
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    expect(desktop.get_by_text("Let op: u heeft een partner")).to_be_visible()
    desktop.get_by_role("button", name="Ik heb alles bij de hand").click()
    desktop.get_by_role("button", name="Ik heb de Ockto app").click()
    expect(desktop.locator("#pairing-qr")).to_be_visible()
    pairing_url = desktop.get_by_test_id("pairing-url").get_attribute("href")
    journey_id = journey_id_of(desktop)

    # From here the desktop must follow by itself: mark the page, and check the mark
    # is still there at the end (a reload or navigation would have wiped it).
    desktop.evaluate("window.__stillTheSamePage = true")
    gemeente_inbox = desktop.context.new_page()
    gemeente_sign_in(gemeente_inbox, "GM0193")
    dossiers_before = gemeente_inbox.locator("#dossiers tbody tr").count()

    phone.goto(pairing_url)
    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    expect(_progress(desktop, "phone")).to_have_attribute("data-status", "done")

    digid_login(phone, JAN)
    expect(_progress(desktop, "login")).to_have_attribute("data-status", "done")
    live = desktop.locator("#live-status")
    steps = desktop.locator("#step-progress ol.steps").element_handle()

    def source_shown(n):
        expect(live).to_contain_text(f"{n} van de 5 bronnen")
        if n < 5:  # a source's progress swaps only the status line: the rest stays as it is
            assert steps.evaluate("el => el.isConnected")
    fetch_sources(phone, on_each=source_shown)
    expect(_progress(desktop, "sources")).to_have_attribute("data-status", "done")
    expect(live).to_contain_text("Nu is uw partner aan de beurt")

    expect(phone.get_by_role("heading", name="Nu uw partner")).to_be_visible()
    digid_login(phone, FATIMA)
    expect(live).to_contain_text("Uw partner is ingelogd")
    fetch_sources(phone, on_each=lambda n: expect(live).to_contain_text(f"{n} van de 5 bronnen"))
    expect(_progress(desktop, "partner")).to_have_attribute("data-status", "done")
    expect(live).to_contain_text("Bekijk en controleer")

    expect(phone.get_by_role("heading", name="Gegevens van uw partner")).to_be_visible()
    incomes = review_incomes(phone)
    assert len(incomes) == 2
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_role("alert")).to_contain_text("Zet een vinkje als u toestemming geeft")
    phone.get_by_label(re.compile("Ik geef toestemming")).check()
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_role("heading", name="U bent klaar!")).to_be_visible()
    expect(phone.get_by_text("Ockto heeft niets opgeslagen")).to_be_visible()

    expect(desktop.get_by_role("heading", name="Klaar! Uw gegevens zijn verstuurd")).to_be_visible()
    expect(_progress(desktop, "done")).to_have_attribute("data-status", "done")
    assert desktop.evaluate("window.__stillTheSamePage") is True

    gemeente_inbox.reload()
    rows = gemeente_inbox.locator("#dossiers tbody tr")
    expect(rows).to_have_count(dossiers_before + 1)
    rows.first.get_by_role("link").click()
    expect(gemeente_inbox.get_by_text(f"BSN {JAN.bsn}")).to_be_visible()
    expect(gemeente_inbox.get_by_text(f"BSN {FATIMA.bsn}")).to_be_visible()

    if database_url:
        assert_nothing_kept(database_url, [JAN.bsn, FATIMA.bsn, JAN.name, FATIMA.name,
                                           address, *incomes],
                            None if whole_database_is_ours else journey_id)


def test_phone_only_without_partner(phone, database_url, whole_database_is_ours):
    address = apply(phone, SANNE)
    open_invitation(phone, address)
    phone.get_by_role("button", name="Start de Ocktoreis").click()
    expect(phone.get_by_text("Let op: u heeft een partner")).to_have_count(0)
    phone.get_by_role("button", name="Ik heb alles bij de hand").click()
    journey_id = journey_id_of(phone)
    phone.get_by_role("button", name="Ik heb de Ockto app").click()
    # Steps 6 and 7 are skipped: no QR code, the app starts by itself.
    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    expect(phone.locator("#pairing-qr")).to_have_count(0)

    digid_login(phone, SANNE)
    fetch_sources(phone)
    expect(phone.get_by_role("heading", name="Bekijk uw gegevens")).to_be_visible()
    expect(phone.get_by_text("Gegevens van uw partner")).to_have_count(0)
    incomes = review_incomes(phone)
    phone.get_by_label(re.compile("Ik geef toestemming")).check()
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_role("heading", name="U bent klaar!")).to_be_visible()
    phone.get_by_role("button", name="App afsluiten").click()
    expect(phone.get_by_role("heading", name="De app is afgesloten")).to_be_visible()

    if database_url:
        assert_nothing_kept(database_url, [SANNE.bsn, SANNE.name, address, *incomes],
                            None if whole_database_is_ours else journey_id)


def test_a_digid_login_below_midden_is_refused_and_the_phone_can_log_in_again(desktop, phone):
    """DigiD over SAML: the simulator's level Basis (no sms) comes back as
    PasswordProtectedTransport, which the app refuses; the journey waits for a proper login."""
    phone.goto(to_qr_code(desktop, SANNE))
    digid_login(phone, SANNE, basis=True)
    expect(phone.get_by_role("alert")).to_contain_text("te laag DigiD-niveau")
    digid_login(phone, SANNE)
    expect(phone.locator(".source-card")).to_have_count(5)
