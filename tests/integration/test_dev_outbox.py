"""The development outbox: QA finds one applicant's invitation directly (`?to=`), however
many mails came after it (issue 17)."""

import hashlib
import re
from pathlib import Path

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


def test_the_recipients_folder_names_no_address_and_goes_with_their_last_mail(app):
    """The index folder is keyed with SECRET_KEY (no plain hash of the address, which anyone
    could compute from a guess) and is removed when the purge forgets the mails in it."""
    mail.send("Uitnodiging", APPLICANT, "tekst", "<p>tekst</p>", about="journey-1")
    index = Path(app.config["OUTBOX_DIR"]) / mail.TO
    [folder] = list(index.iterdir())
    assert hashlib.sha256(APPLICANT.encode()).hexdigest()[:8] not in folder.name
    mail.forget("journey-1")
    assert list(index.iterdir()) == []
