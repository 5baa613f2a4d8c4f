"""The development outbox: QA finds one applicant's invitation directly (`?to=`), however
many mails came after it (issue 17)."""

import re

from messaging import mail
from webapp.simulators.population import SANNE

from .helpers import application_form

APPLICANT = "sanne.outbox@example.org"


def _others(n):
    for i in range(n):
        mail.send("Iets anders", f"iemand{i}@example.org", "tekst", "<p>tekst</p>")


def test_one_applicants_mails_are_found_by_address_among_many_newer(app, desktop, run_jobs):
    desktop.post("/aanvraag", data=application_form(SANNE, email=APPLICANT))
    run_jobs()
    _others(120)  # more than the whole outbox's page shows
    assert APPLICANT not in desktop.get("/dev/outbox").text
    found = desktop.get(f"/dev/outbox?to={APPLICANT.upper()}")  # as typed, any case
    rows = re.findall(r"<tr><td>([^<]+)</td><td><a href=\"(/dev/outbox/[^\"]+)\">([^<]+)<", found.text)
    assert [(to, subject) for to, _, subject in rows] == [
        (APPLICANT, "Lever uw gegevens aan met de Ockto app")]
    assert "/uitnodiging/" in desktop.get(rows[0][1]).text  # its page opens, link and all


def test_an_address_without_mail_says_so(app, desktop):
    _others(2)
    page = desktop.get("/dev/outbox?to=niemand@example.org")
    assert page.status_code == 200
    assert "Nog geen e-mail aan niemand@example.org" in page.text
    assert "iemand0@example.org" not in page.text
