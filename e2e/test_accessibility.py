"""WCAG 2.1 AA in a real browser: axe-core on every page and state of the journey, the
desktop steps with the keyboard alone at 200 % zoom, focus and announcements after swaps."""

import re

import pytest
from playwright.sync_api import expect

from webapp.simulators.population import FATIMA, HENK, JAN, PASSWORD

from .a11y import assert_no_horizontal_scroll, check_axe
from .steps import (
    apply, digid_login, fetch_sources, follow_mail, lose_data_key, open_invitation, phone_step_done,
    to_qr_code,
)

pytestmark = pytest.mark.e2e


def _accept_confirmations(*pages):
    for page in pages:
        page.on("dialog", lambda dialog: dialog.accept())


def test_every_page_and_state_of_the_journey_passes_axe(desktop, phone):
    _accept_confirmations(desktop, phone)
    # Step 1 on Gezondverzekerd.nl: the form, its error state, the open combobox.
    desktop.goto("/")
    check_axe(desktop, "1 aanvraagformulier")
    desktop.get_by_role("button", name="Aanvraag versturen").click()
    expect(desktop.locator("#error-summary")).to_be_visible()
    check_axe(desktop, "1 aanvraagformulier met fouten")
    desktop.get_by_role("combobox", name="Uw gemeente").press_sequentially("zw", delay=50)
    expect(desktop.get_by_role("listbox")).to_be_visible()
    desktop.get_by_role("combobox", name="Uw gemeente").press("ArrowDown")
    check_axe(desktop, "1 gemeente-keuzelijst open")
    address = apply(desktop, JAN, partner=FATIMA)
    check_axe(desktop, "1 aanvraag verstuurd")
    desktop.goto("/uitnodiging/onzin")
    check_axe(desktop, "3 probleempagina: link werkt niet")

    # Steps 3 to 6 on the desktop.
    open_invitation(desktop, address)
    check_axe(desktop, "3 informatie")
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    expect(desktop.locator("#step-checklist")).to_be_visible()
    check_axe(desktop, "4 checklist")
    desktop.get_by_role("button", name="Ik heb alles bij de hand").click()
    expect(desktop.locator("#step-download")).to_be_visible()
    check_axe(desktop, "5 download")
    desktop.get_by_text("Op een iPhone of iPad").click()
    check_axe(desktop, "5 download, iPhone-uitleg open")
    desktop.get_by_role("button", name="Ik heb de Ockto app").click()
    expect(desktop.locator("#pairing-qr")).to_be_visible()
    check_axe(desktop, "6 QR-code en koppelcode")
    pairing_url = desktop.get_by_test_id("pairing-url").get_attribute("href")

    # Step 7 in the app: install page, scanner (no camera here), wrong code, problem page.
    phone.goto("/app/installeren")
    check_axe(phone, "app: installeren")
    phone.goto("/app/scan")
    expect(phone.locator("#scan-status")).to_contain_text("koppelcode")
    check_axe(phone, "7 app: scannen, geen camera")
    phone.get_by_label("Koppelcode").fill("ABCD-EFGH")
    phone.get_by_role("button", name="Koppelen").click()
    expect(phone.get_by_role("alert")).to_be_visible()
    check_axe(phone, "7 app: koppelcode fout")
    phone.goto("/app/koppel/onbekend")
    check_axe(phone, "7 probleempagina: koppellink onbekend")
    phone.goto(pairing_url)
    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    check_axe(phone, "8 app: inloggen aanvrager")
    phone_step_done(desktop, "phone")
    check_axe(desktop, "6 voortgang: telefoon gekoppeld")

    # Step 8: DigiD simulator (with a wrong password first), then the sources.
    phone.get_by_role("link", name="Inloggen met DigiD").click()
    check_axe(phone, "8 DigiD-simulator: inloggen")
    phone.get_by_label("DigiD gebruikersnaam").fill(JAN.username)
    phone.get_by_label("Wachtwoord").fill("fout")
    phone.get_by_role("button", name="Inloggen").click()
    expect(phone.locator("#digid-error")).to_be_visible()
    check_axe(phone, "8 DigiD-simulator: fout wachtwoord")
    phone.get_by_label("Wachtwoord").fill(PASSWORD)
    phone.get_by_role("button", name="Inloggen").click()
    code = phone.get_by_test_id("sms-code").inner_text()
    check_axe(phone, "8 DigiD-simulator: sms-code")
    phone.get_by_label("Sms-code").fill(code)
    phone.get_by_role("button", name="Inloggen").click()
    expect(phone.locator(".source-card")).to_have_count(5)
    check_axe(phone, "8 app: bronnen aanvrager")

    def after_first(done):
        if done == 1:
            check_axe(phone, "8 app: bronnen, één opgehaald")
            expect(desktop.locator("#live-status")).to_contain_text("1 van de 5 bronnen")
            expect(desktop.locator("#announcer")).to_contain_text("1 van de 5 bronnen")
            check_axe(desktop, "8 voortgang: bronnen ophalen")
    fetch_sources(phone, on_each=after_first)

    # Step 9: the partner.
    expect(phone.get_by_role("heading", name="Nu uw partner")).to_be_visible()
    check_axe(phone, "9 app: inloggen partner")
    expect(desktop.locator("#live-status")).to_contain_text("Nu is uw partner aan de beurt")
    check_axe(desktop, "9 voortgang: partner aan de beurt")
    digid_login(phone, FATIMA)
    fetch_sources(phone)

    # Steps 10 and 11: review, consent missing, sending (held there), done.
    expect(phone.get_by_role("heading", name="Bekijk uw gegevens")).to_be_visible()
    check_axe(phone, "10 app: gegevens bekijken")
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_role("alert")).to_contain_text("Zet een vinkje")
    check_axe(phone, "10 app: toestemming ontbreekt")
    phone.route("**/app/scherm", lambda route: route.abort())  # hold the screen at "sending"
    phone.get_by_label(re.compile("Ik geef toestemming")).check()
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.locator('[data-screen="sending"]')).to_be_visible()
    check_axe(phone, "11 app: versturen")
    phone.unroute("**/app/scherm")
    expect(desktop.get_by_role("heading", name="Klaar! Uw gegevens zijn verstuurd")).to_be_visible()
    check_axe(desktop, "11 voortgang: klaar")
    phone.reload()
    expect(phone.get_by_role("heading", name="U bent klaar!")).to_be_visible()
    check_axe(phone, "11 app: klaar")
    phone.get_by_role("button", name="App afsluiten").click()
    expect(phone.get_by_role("heading", name="De app is afgesloten")).to_be_visible()
    check_axe(phone, "11 app: afgesloten")
    phone.goto("/app/")
    check_axe(phone, "probleempagina: telefoon niet gekoppeld")
    phone.goto("/app/offline")
    check_axe(phone, "app: offline-pagina")

    # Stopped: on the phone, and the desktop follows.
    pairing_url = to_qr_code(desktop, HENK)
    phone.goto(pairing_url)
    phone.get_by_role("button", name="Stoppen").click()
    expect(phone.get_by_role("heading", name="De Ocktoreis is gestopt")).to_be_visible()
    check_axe(phone, "app: gestopt")
    expect(desktop.get_by_role("heading", name="De Ocktoreis is gestopt")).to_be_visible()
    check_axe(desktop, "desktop: gestopt")


def _focused(page):
    """What has the keyboard focus: its text, or the id or radio value of a field."""
    return page.evaluate("""() => {
      const el = document.activeElement;
      if (el.type === "radio") return el.name + "=" + el.value;
      return (el.innerText || "").trim() || el.id;
    }""")


def _tab_to(page, name, limit=40):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page) == name:
            return
    raise AssertionError(f"the Tab key never reached {name!r}")


def _press_to_next_step(page, button, heading):
    """Tab to the button, press Enter: the focus is on the new step's heading after the swap."""
    _tab_to(page, button)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=heading)).to_be_focused()
    assert_no_horizontal_scroll(page, heading)


def _follow_invitation(page, address):
    """Open the invitation link from the development outbox (reading links, no clicks)."""
    page.goto("/dev/outbox")
    page.goto(page.locator("#mails tr", has_text=address).get_by_role("link").get_attribute("href"))
    page.goto(page.locator("pre.mail-body a", has_text="/uitnodiging/").get_attribute("href"))


def test_the_screens_after_a_lost_data_key_say_to_start_again_and_pass_axe(desktop, phone,
                                                                          self_started):
    """Redis restarted without persistence (QA's acceptance hook loses the key): the journey
    ends when the delivery after the consent needs the key, and both screens say what
    happened and to start again with the invitation's link."""
    link = follow_mail(desktop, apply(desktop, HENK), "Lever uw gegevens aan met de Ockto app")
    desktop.get_by_role("button", name="Start de Ocktoreis").click()
    desktop.get_by_role("button", name="Ik heb alles bij de hand").click()
    desktop.get_by_role("button", name="Ik heb de Ockto app").click()
    phone.goto(desktop.get_by_test_id("pairing-url").get_attribute("href"))
    digid_login(phone, HENK)
    fetch_sources(phone)
    expect(phone.get_by_role("heading", name="Bekijk uw gegevens")).to_be_visible()
    lose_data_key(desktop, link, skip_without_acceptance_mode=not self_started)
    phone.get_by_label(re.compile("Ik geef toestemming")).check()
    phone.get_by_role("button", name="Versturen naar de gemeente").click()
    expect(phone.get_by_test_id("restart")).to_have_text("Begin opnieuw met de link uit uw uitnodiging.")
    check_axe(phone, "app: gestopt, gegevens niet meer te lezen")
    expect(desktop.get_by_test_id("restart")).to_be_visible()
    check_axe(desktop, "desktop: gestopt, gegevens niet meer te lezen")


@pytest.fixture
def zoomed_desktop(new_context):
    """A 1280 px wide window at 200 % zoom: 640 CSS pixels at device scale factor 2."""
    context = new_context(viewport={"width": 640, "height": 720}, device_scale_factor=2)
    context.set_default_timeout(15_000)
    return context.new_page()


def test_the_desktop_steps_work_with_the_keyboard_alone_at_200_percent_zoom(zoomed_desktop, phone):
    page, keyboard = zoomed_desktop, zoomed_desktop.keyboard
    page.on("dialog", lambda dialog: dialog.accept())
    address = f"toetsenbord-{id(page)}@example.org"
    page.goto("/")
    assert_no_horizontal_scroll(page, "aanvraagformulier")
    _tab_to(page, "gemeente")
    keyboard.type("zwo", delay=50)
    expect(page.get_by_role("option")).to_have_count(1)
    keyboard.press("ArrowDown")
    keyboard.press("Enter")
    expect(page.get_by_role("combobox", name="Uw gemeente")).to_have_value("Zwolle")
    for field, text in (("naam", HENK.name), ("email", address), ("bsn", HENK.bsn)):
        _tab_to(page, field)
        keyboard.type(text)
    _tab_to(page, "partner=ja")
    keyboard.press("ArrowDown")
    assert _focused(page) == "partner=nee"
    _tab_to(page, "Aanvraag versturen")
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Bedankt, uw aanvraag is ontvangen")).to_be_visible()
    assert_no_horizontal_scroll(page, "aanvraag verstuurd")

    _follow_invitation(page, address)
    assert_no_horizontal_scroll(page, "informatie")
    _tab_to(page, "Start de Ocktoreis")
    keyboard.press("Enter")
    expect(page.locator("#step-checklist")).to_be_visible()
    assert_no_horizontal_scroll(page, "checklist")
    _press_to_next_step(page, "Ik heb alles bij de hand", "Download de Ockto app")
    _press_to_next_step(page, "Ik heb de Ockto app", "Scan de QR-code met de Ockto app")

    # The live region is on the page before the update and gets the new text.
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    announcer_handle = announcer.element_handle()
    phone.goto(page.get_by_test_id("pairing-url").get_attribute("href"))
    phone_step_done(page, "phone")
    expect(announcer).to_contain_text("Uw telefoon is gekoppeld")
    assert announcer_handle.evaluate("el => el.isConnected")
    expect(page.get_by_role("heading", name="Ga verder op uw telefoon")).to_be_focused()
    assert_no_horizontal_scroll(page, "voortgang")

    _press_to_next_step(page, "Stoppen met de Ocktoreis", "De Ocktoreis is gestopt")
