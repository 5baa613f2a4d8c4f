"""The pages a resident reads before typing a BSN: the privacy statement and the
accessibility statement, reached from the application form and every page's footer."""

import pytest
from playwright.sync_api import expect

from .a11y import assert_no_horizontal_scroll, check_axe

pytestmark = pytest.mark.e2e


def test_the_privacy_statement_is_linked_from_the_form_and_passes_axe(desktop):
    desktop.goto("/")
    desktop.locator("#application-form").get_by_role("link", name="privacyverklaring").click()
    expect(desktop.get_by_role("heading", level=1)).to_have_text("Privacyverklaring")
    expect(desktop.locator("main")).to_contain_text("24 uur nadat u begon")
    expect(desktop.locator("main")).to_contain_text("90 dagen")
    check_axe(desktop, "privacyverklaring")


def test_both_statements_are_in_the_footer_of_the_app_and_pass_axe_on_a_phone(phone):
    phone.goto("/app/installeren")
    phone.locator("footer").get_by_role("link", name="Toegankelijkheid").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Toegankelijkheid")
    expect(phone.locator("main")).to_contain_text("WCAG")
    check_axe(phone, "toegankelijkheidsverklaring (telefoon)")
    assert_no_horizontal_scroll(phone)
    phone.locator("footer").get_by_role("link", name="Privacy").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Privacyverklaring")
    check_axe(phone, "privacyverklaring (telefoon)")
    assert_no_horizontal_scroll(phone)
