"""The reminder journey in a real browser, with time moved forward in acceptance mode:
apply, wait five days, the reminder arrives, follow it, deliver, no more reminders."""

import re

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import SANNE

from .steps import (apply, digid_login, fetch_sources, follow_mail, move_time, open_invitation,
                    open_mail, outbox_rows)

REMINDER = "Herinnering: lever uw gegevens aan met de Ockto app"

pytestmark = pytest.mark.e2e


def test_a_reminder_after_five_days_leads_to_delivery_and_then_no_more_reminders(phone, self_started):
    address = apply(phone, SANNE)
    open_invitation(phone, address)
    link = phone.url

    def days_pass(days):  # another deployment may run without ACCEPTANCE_MODE: then skip
        return move_time(phone, link, days, skip_without_acceptance_mode=not self_started)

    assert days_pass(4) == 0
    assert outbox_rows(phone, address, REMINDER).count() == 0
    assert days_pass(1) == 1
    assert "De link werkt nog 23 dagen." in open_mail(phone, address, REMINDER)
    follow_mail(phone, address, REMINDER)  # its personal link opens the invitation page

    phone.get_by_role("button", name="Start de Ocktoreis").click()
    phone.get_by_role("button", name="Ik heb alles bij de hand").click()
    phone.get_by_role("button", name="Ik heb de Ockto app").click()
    digid_login(phone, SANNE)
    fetch_sources(phone)
    phone.get_by_label(re.compile("Ik geef toestemming")).check()
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_role("heading", name="U bent klaar!")).to_be_visible()

    assert days_pass(10) == 0
    # No more reminders; the invitation and the reminder went with the application's purge.
    assert outbox_rows(phone, address).count() == 0
