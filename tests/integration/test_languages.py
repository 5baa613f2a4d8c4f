"""Dutch and English: the first visit follows Accept-Language, the switch on every page, the
language kept with the application and followed by its mails and by every device that opens
its link or pairs with its journey; the staff pages stay Dutch."""

import re

from babel.messages.pofile import read_po
from flask_babel import force_locale
from jinja2.ext import _gettext_alias, _make_new_gettext, _make_new_ngettext
from sqlalchemy import select

from webapp import i18n
from webapp.db import session
from webapp.models import Application
from webapp.simulators.population import SANNE
from workers import clock as clock_process

from .helpers import application_form, outbox_messages

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9,nl;q=0.5"}


def lang(response):
    return re.search(r'<html lang="([a-z]+)"', response.text).group(1)


def switch(client, language, back="/"):
    return client.post("/taal", data={"taal": language, "terug": back})


def test_the_first_visit_follows_the_browsers_language(desktop):
    english = desktop.get("/", headers=ENGLISH)
    assert lang(english) == "en" and "Apply for the gemeentepolis" in english.text
    dutch = desktop.get("/")
    assert lang(dutch) == "nl" and "Vraag de gemeentepolis aan" in dutch.text


def test_every_page_offers_both_languages_each_in_its_own_language(desktop):
    page = desktop.get("/privacy").text
    assert re.search(r'<button[^>]*lang="nl"[^>]*>Nederlands</button>', page)
    assert re.search(r'<button[^>]*lang="en"[^>]*>English</button>', page)


def test_the_switch_keeps_the_choice_and_goes_back_to_the_page(desktop):
    answer = switch(desktop, "en", "/privacy")
    assert answer.status_code == 303 and answer.headers["Location"] == "/privacy"
    page = desktop.get("/privacy")
    assert lang(page) == "en" and "Privacy statement" in page.text
    assert lang(desktop.get("/", headers={"Accept-Language": "nl"})) == "en"  # the choice wins
    switch(desktop, "nl")
    assert lang(desktop.get("/", headers=ENGLISH)) == "nl"


def test_the_switch_refuses_an_unknown_language_and_a_way_off_the_site(desktop):
    assert switch(desktop, "de").status_code == 400
    assert switch(desktop, "en", "//evil.example/").headers["Location"] == "/"
    assert switch(desktop, "en", "https://evil.example/").headers["Location"] == "/"
    for way_off in ("/\\evil.example/", "/\t/evil.example/", "\\\\evil.example/"):  # browsers read
        assert switch(desktop, "en", way_off).headers["Location"] == "/"  # these as //evil.example
    assert switch(desktop, "en", "/app/?x=1").headers["Location"] == "/app/?x=1"


def test_an_english_application_gets_its_mails_in_english(app, desktop, run_jobs, clock):
    switch(desktop, "en")
    assert desktop.post("/aanvraag", data=application_form(SANNE)).status_code == 303
    run_jobs()
    clock.advance(days=5)
    clock_process.tick(app)
    run_jobs()
    invitation, reminder = outbox_messages(app)
    assert invitation["Subject"] == "Send your data with the Ockto app"
    assert "The link works for 28 days." in invitation.get_body(("plain",)).get_content()
    assert reminder["Subject"] == "Reminder: send your data with the Ockto app"
    text = reminder.get_body(("plain",)).get_content()
    assert "Dear Sanne" in text and "The link works for 23 more days." in text
    assert 'lang="en"' in reminder.get_body(("html",)).get_content()


def test_a_dutch_application_gets_its_mails_in_dutch_whatever_the_worker_speaks(app, desktop,
                                                                                  run_jobs):
    assert desktop.post("/aanvraag", data=application_form(SANNE), headers=ENGLISH) \
        .status_code == 303  # the form was in English: an English application
    desktop.post("/aanvraag", data=application_form(SANNE, email="nl@example.org"))
    run_jobs()
    subjects = sorted(m["Subject"] for m in outbox_messages(app))
    assert subjects == ["Lever uw gegevens aan met de Ockto app",
                        "Send your data with the Ockto app"]


def test_the_phone_paired_from_an_english_desktop_opens_in_english(walk, desktop, phone):
    switch(desktop, "en")
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())  # the phone's browser says nothing about a language
    home = phone.get("/app/")
    assert lang(home) == "en" and "The app is ready to use" in home.text


def test_switching_on_the_invitation_page_changes_the_applications_language(app, walk, desktop,
                                                                             phone):
    invitation = walk.apply(SANNE)  # in Dutch
    token = invitation.rsplit("/", 1)[1]
    desktop.post("/taal", data={"taal": "en", "terug": invitation, "uitnodiging": token})
    assert lang(phone.get(invitation)) == "en"  # another device with the link follows


def test_switching_during_the_journey_changes_the_applications_language(app, walk, desktop,
                                                                         phone):
    walk.start(walk.apply(SANNE))
    pairing = walk.to_qr()
    switch(desktop, "en", walk.journey_url)
    assert [a.language for a in session.scalars(select(Application))] == ["en"]
    phone.get(pairing)
    assert lang(phone.get("/app/")) == "en"


def test_the_municipalitys_staff_pages_stay_dutch(app, desktop):
    switch(desktop, "en")
    page = desktop.get("/gemeente/GM0193/inloggen", headers=ENGLISH)
    assert lang(page) == "nl" and ">Toegankelijkheid<" in page.text
    assert 'lang="en"' not in page.text  # and no switch to a language it does not have


def test_amounts_and_dates_on_the_review_read_the_english_way(walk, desktop, phone):
    switch(desktop, "en")  # the application is English; the phone follows it
    review = walk.to_review(SANNE).text
    assert "Tax year" in review and re.search(r"€[0-9]{1,3},[0-9]{3}", review)
    assert not re.search(r"€\s?[0-9]{1,3}\.[0-9]{3}", review)


def test_a_citizens_page_says_its_language_and_what_chose_it(desktop):
    """Caches keep a page per language (Vary), and the answer names its language."""
    english = desktop.get("/", headers=ENGLISH)
    assert english.headers["Content-Language"] == "en"
    assert {"Accept-Language", "Cookie"} <= set(english.vary)
    assert desktop.get("/", headers={"Accept-Language": "nl"}).headers["Content-Language"] == "nl"




def test_the_templates_strings_are_jinjas_newstyle_gettext_in_both_languages(app):
    """The templates' gettext (webapp.i18n, without Jinja's copy of the context per call in
    a loop) answers what Jinja's own newstyle callables answer, or fails as they fail: every
    catalogue entry, in a loop, escaped and not, with variables, in both languages."""
    with open("webapp/translations/en/LC_MESSAGES/messages.po", "rb") as po:
        entries = [message.id for message in read_po(po) if message.id]
    values = {name: "<b>x</b>" for name in re.findall(r"%\((\w+)\)", str(entries)) if name != "num"}
    values.update(string="<i>s</i>", number="<i>n</i>")  # named like the callables' parameters
    # and what a template may say that no entry says yet: a percent sign, the plural's number
    entries += ["Voor 100%% zeker", ("%(num)s dag", "%(num)s dagen")]
    calls = {str: "{{ gettext(s, **values) }}|{{ _(s, **values) }}|{{ _(s) }}",
             tuple: "{{ ngettext(s[0], s[1], 1, **values) }}|{{ ngettext(s[0], s[1], 2, **values) }}"}
    assert app.jinja_env.globals["_"] is not _gettext_alias
    jinjas = app.jinja_env.overlay()
    jinjas.globals = {**app.jinja_env.globals, "_": _gettext_alias,
                      "gettext": _make_new_gettext(lambda s: i18n.translations().ugettext(s)),
                      "ngettext": _make_new_ngettext(
                          lambda s, p, n: i18n.translations().ungettext(s, p, n))}
    compared = 0
    with app.test_request_context("/"):
        for language in i18n.LANGUAGES:
            with force_locale(language):
                for autoescape in (True, False):
                    for kind, call in calls.items():
                        source = "{% for once in [1] %}" + call + "{% endfor %}"
                        ours = app.jinja_env.overlay(autoescape=autoescape).from_string(source)
                        theirs = jinjas.overlay(autoescape=autoescape).from_string(source)
                        for msgid in (entry for entry in entries if isinstance(entry, kind)):
                            answers = [_answer(template, s=msgid, values=values)
                                       for template in (ours, theirs)]
                            assert answers[0] == answers[1], msgid
                            compared += isinstance(answers[0], str)
    assert compared > 2 * len(entries)  # most render: the comparison is of strings, not failures


def _answer(template, **context):
    try:
        return template.render(context)
    except Exception as exc:  # noqa: BLE001  (a string that is no format string fails alike)
        return type(exc)
