"""What a person does in the browser, step by step; shared by the journeys."""

import json
import os
import re
import time
import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, inspect, text

from webapp.simulators import population


# The application form's words in each language (the English journeys: e2e/test_english.py).
FORM = {
    "nl": {"gemeente": "Uw gemeente", "naam": "Uw naam", "email": "Uw e-mailadres",
           "bsn": "Uw burgerservicenummer (BSN)", "ja": "Ja", "nee": "Nee",
           "partner": "Naam van uw partner", "send": "Aanvraag versturen",
           "sent": "Bedankt, uw aanvraag is ontvangen"},
    "en": {"gemeente": "Your municipality", "naam": "Your name", "email": "Your email address",
           "bsn": "Your citizen service number (BSN)", "ja": "Yes", "nee": "No",
           "partner": "Your partner's name", "send": "Send application",
           "sent": "Thank you, we have received your application"},
}


def apply(page, citizen, partner=None, language="nl"):
    """Step 1 on Gezondverzekerd.nl, the municipality chosen with the keyboard, in `language`
    (chosen with the switch: the browser asks for Dutch). Returns the e-mail."""
    words = FORM[language]
    address = f"e2e-{uuid.uuid4().hex[:10]}@example.org"
    page.goto("/")
    if language != "nl":
        page.locator(f'.language-switch button[lang="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    gemeente = page.get_by_role("combobox", name=words["gemeente"])
    gemeente.press_sequentially("zwo", delay=50)
    expect(page.get_by_role("option", name=re.compile("^Zwolle"))).to_be_visible()
    expect(page.get_by_role("option")).to_have_count(1)  # the answer to "zwo", not to "zw"
    gemeente.press("ArrowDown")
    gemeente.press("Enter")
    expect(gemeente).to_have_value("Zwolle")
    page.get_by_label(words["naam"]).fill(citizen.name)
    page.get_by_label(words["email"]).fill(address)
    page.get_by_label(words["bsn"]).fill(citizen.bsn)
    if partner:
        page.get_by_label(words["ja"], exact=True).check()
        page.get_by_label(words["partner"]).fill(partner.name)
    else:
        page.get_by_label(words["nee"], exact=True).check()
    page.get_by_role("button", name=words["send"]).click()
    expect(page.get_by_role("heading", name=words["sent"])).to_be_visible()
    return address


def open_invitation(page, address):
    """Step 2: find the invitation in the development outbox and follow its link."""
    follow_mail(page, address, "Lever uw gegevens aan met de Ockto app")


def outbox_rows(page, address, subject=None):
    """The development outbox's mails to `address` (with `subject`, if given), newest first.
    An acceptance deployment opens it with its DEV_PAGES_TOKEN (OCKTOREIS_E2E_DEV_TOKEN)."""
    token = os.environ.get("OCKTOREIS_E2E_DEV_TOKEN")
    page.goto(f"/dev/outbox?to={quote(address)}" + (f"&token={token}" if token else ""))
    rows = page.locator("#mails tr", has_text=address)
    return rows.filter(has_text=subject) if subject else rows


def open_mail(page, address, subject, timeout_s=15):
    """Open the newest mail to `address` with `subject`, waiting for it to arrive."""
    deadline = time.monotonic() + timeout_s
    while not (rows := outbox_rows(page, address, subject)).count():
        assert time.monotonic() < deadline, f"no mail {subject!r} to {address}"
        page.wait_for_timeout(250)
    rows.first.get_by_role("link").click()
    return page.locator("pre.mail-body").inner_text()


def follow_mail(page, address, subject):
    """Open the mail and follow its personal link to the invitation page; returns the link."""
    open_mail(page, address, subject)
    link = page.locator("pre.mail-body a", has_text="/uitnodiging/").get_attribute("href")
    page.goto(link)
    expect(page.get_by_role("heading", name="Lever uw gegevens aan met de Ockto app")).to_be_visible()
    return link


def move_time(page, invitation_link, days, skip_without_acceptance_mode=False):
    """Acceptance mode: let `days` pass for this one application; returns what was enqueued.

    With `skip_without_acceptance_mode` (another deployment), a 404 skips the test."""
    token = invitation_link.rsplit("/", 1)[1]
    csrf = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"]
    response = page.request.post(f"/acceptatie/uitnodiging/{token}/tijd", form={"dagen": str(days)},
                                 headers={"X-CSRF-Token": csrf})
    if response.status == 404 and skip_without_acceptance_mode:
        pytest.skip("the deployment under test does not run in ACCEPTANCE_MODE")
    assert response.ok, response.text()
    return response.json()["enqueued"]


def lose_data_key(page, invitation_link, skip_without_acceptance_mode=False):
    """Acceptance mode: lose the data key of this application's journey under way, as a
    restart of Redis without persistence would.

    With `skip_without_acceptance_mode` (another deployment), a 404 skips the test."""
    token = invitation_link.rsplit("/", 1)[1]
    csrf = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"]
    response = page.request.post(f"/acceptatie/uitnodiging/{token}/sleutel-kwijt",
                                 headers={"X-CSRF-Token": csrf})
    if response.status == 404 and skip_without_acceptance_mode:
        pytest.skip("the deployment under test does not run in ACCEPTANCE_MODE")
    assert response.ok, response.text()


# The app's and the DigiD simulator's words in each language.
APP = {"nl": {"login": "Inloggen met DigiD", "username": "DigiD gebruikersnaam",
              "password": "Wachtwoord", "submit": "Inloggen", "sms": "Sms-code",
              "fetched": "Opgehaald", "next": "Verder", "basis": "niveau Basis"},
       "en": {"login": "Log in with DigiD", "username": "DigiD username", "password": "Password",
              "submit": "Log in", "sms": "SMS code", "fetched": "Fetched", "next": "Continue",
              "basis": "level Basis"}}


def digid_login(page, citizen, language="nl", on_each=None, basis=False):
    """DigiD simulator: username and password, then the sms code it shows; `on_each(page)`
    checks each of the simulator's screens. At level `basis` (the simulator's QA choice) the
    login has no sms step."""
    words = APP[language]
    page.get_by_role("link", name=words["login"]).click()
    for fill in ({words["username"]: citizen.username, words["password"]: population.PASSWORD},
                 {words["sms"]: None}):
        if on_each:
            on_each(page)
        for label, value in fill.items():
            page.get_by_label(label).fill(value or page.get_by_test_id("sms-code").inner_text())
        if basis:
            page.get_by_label(words["basis"]).check()
            page.get_by_role("button", name=words["submit"]).click()
            return
        page.get_by_role("button", name=words["submit"]).click()


def fetch_sources(page, on_each=None, language="nl"):
    """Tap each source and wait for its card to say fetched."""
    words = APP[language]
    cards = page.locator(".source-card")
    expect(cards).to_have_count(5)
    keys = [cards.nth(i).get_attribute("data-source") for i in range(5)]
    for done, key in enumerate(keys, start=1):
        card = page.locator(f'.source-card[data-source="{key}"]')
        card.get_by_role("button").click()
        expect(card).to_have_attribute("data-status", "fetched")
        expect(card.locator(".status")).to_have_text(words["fetched"])
        if on_each:
            on_each(done)
    page.get_by_role("button", name=words["next"]).click()


def review_incomes(page):
    """The income figures the review shows (digits only), to look for after the purge."""
    incomes = page.locator("dt:text-is('Verzamelinkomen') + dd")
    expect(incomes.first).to_be_visible()  # the screen may be re-rendered by a live update
    values = incomes.all_inner_texts()
    assert values, "the review shows no income"
    return [re.sub(r"\D", "", value) for value in values]


def gemeente_sign_in(page, code):
    """Municipality staff sign in to their own inbox (the simulator's staff account)."""
    password = os.environ.get("OCKTOREIS_E2E_GEMEENTE_PASSWORD")
    if not password:
        pytest.fail(f"set OCKTOREIS_E2E_GEMEENTE_PASSWORD to the staff password of {code} on the "
                    "deployment under test")
    page.goto(f"/gemeente/{code}/inbox")
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("heading", name="Ontvangen dossiers")).to_be_visible()


def journey_id_of(page):
    """The journey id in a desktop page's address (/reis/<id>)."""
    return re.search(r"/reis/([^/?#]+)", page.url).group(1)


def holds(text, value):
    """Whether `text` holds `value` as a word of its own: a short figure such as an income
    also turns up by chance inside a random hash (it did, in a phone secret's hash)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None


def assert_nothing_kept(database_url, secrets, journey_id=None):
    """Search every column of every table for the journey's personal data.

    With `journey_id`, only rows of that journey and its application are searched: a shared
    deployment may hold other, unfinished journeys of the same test citizens.
    """
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            linked = {journey_id}
            if journey_id:
                linked.add(connection.scalar(text("SELECT application_id FROM journey WHERE id = :id"),
                                             {"id": journey_id}))
            for table in inspect(engine).get_table_names():
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    values = [str(value) for value in row]
                    if journey_id and not linked.intersection(values):
                        continue
                    for value in values:
                        for secret in secrets:
                            assert not holds(value, secret), f"{secret!r} still in table {table}"
    finally:
        engine.dispose()


# The journeys of test_journeys.py search the whole database for Jan's, Fatima's and Sanne's
# data after their purge: a test that leaves an application unfinished applies as Henk.

def to_qr_code(page, citizen, partner=None):
    """Steps 1 to 6 on the desktop: apply, open the invitation, start, on to the QR code."""
    open_invitation(page, apply(page, citizen, partner))
    page.get_by_role("button", name="Start de Ocktoreis").click()
    page.get_by_role("button", name="Ik heb alles bij de hand").click()
    page.get_by_role("button", name="Ik heb de Ockto app").click()
    expect(page.locator("#pairing-qr")).to_be_visible()
    return page.get_by_test_id("pairing-url").get_attribute("href")


def phone_step_done(desktop, step):
    """The desktop's progress list marks this step done."""
    expect(desktop.locator(f'.steps li[data-step="{step}"]')).to_have_attribute("data-status", "done")
