"""The operators' dashboard in a real browser: sign in, see a journey in the funnel, axe."""

import os

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import HENK

from .a11y import check_axe
from .conftest import DESKTOP_VIEWPORT, TIMEOUT_MS
from .steps import to_qr_code

pytestmark = pytest.mark.e2e

# What a journey stopped on the phone right after pairing adds to the funnel.
STOPPED_AFTER_PAIRING = ("applied", "invited", "link_opened", "started", "phone_paired", "stopped")


def sign_in(page):
    password = os.environ.get("OCKTOREIS_E2E_OPERATOR_PASSWORD")
    if not password:
        pytest.fail("set OCKTOREIS_E2E_OPERATOR_PASSWORD to the operators' password of the "
                    "deployment under test")
    page.goto("/beheer/")
    expect(page.get_by_role("heading", name="Inloggen voor beheerders")).to_be_visible()
    check_axe(page, "beheer: inloggen")
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("heading", name="Trechter en storingen")).to_be_visible()


def show_zwolle(page):
    page.get_by_label("Gemeente", exact=True).select_option("Zwolle")
    page.get_by_role("button", name="Toon").click()
    expect(page.locator("#period")).to_contain_text("gemeente Zwolle")


def counts(page):
    """{step: count} in the funnel's and the endings' tables (none yet: no tables)."""
    cells = page.locator("#funnel-table tr[data-step], #endings-table tr[data-step]")
    return {cells.nth(i).get_attribute("data-step"):
            int(cells.nth(i).locator("td[data-count]").get_attribute("data-count"))
            for i in range(cells.count())}


def test_an_operator_sees_a_stopped_journey_in_the_funnel(desktop, phone, new_context):
    operator = new_context(viewport=DESKTOP_VIEWPORT)  # another person's browser
    operator.set_default_timeout(TIMEOUT_MS)
    dashboard = operator.new_page()
    sign_in(dashboard)
    show_zwolle(dashboard)
    before = counts(dashboard)

    pairing_url = to_qr_code(desktop, HENK)
    phone.goto(pairing_url)
    phone.on("dialog", lambda dialog: dialog.accept())  # "Weet u zeker dat u wilt stoppen?"
    phone.get_by_role("button", name="Stoppen").click()
    expect(phone.get_by_role("heading", name="De Ocktoreis is gestopt")).to_be_visible()

    dashboard.reload()
    chart = dashboard.get_by_role("img", name="Trechter: aantal aanvragen per stap")
    expect(chart).to_be_visible()
    after = counts(dashboard)
    for step in STOPPED_AFTER_PAIRING:
        assert after[step] == before.get(step, 0) + 1, (step, before, after)
    assert after["delivered"] == before.get("delivered", 0)
    expect(dashboard.locator("#starts-table tr[data-mail='0'] td[data-count]")).not_to_have_attribute(
        "data-count", "0")
    check_axe(dashboard, "beheer: trechter en storingen")
    dashboard.get_by_label("Gemeente", exact=True).select_option("Alle gemeenten")
    dashboard.get_by_role("button", name="Toon").click()
    expect(dashboard.locator("#gemeenten-table tr[data-gemeente='GM0193']")).to_be_visible()
    check_axe(dashboard, "beheer: alle gemeenten")

    dashboard.get_by_role("button", name="Uitloggen").click()
    expect(dashboard.get_by_role("heading", name="Inloggen voor beheerders")).to_be_visible()
    dashboard.goto("/beheer/")
    expect(dashboard.get_by_role("heading", name="Inloggen voor beheerders")).to_be_visible()
