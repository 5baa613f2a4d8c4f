"""The development outbox: QA finds one applicant's invitation directly (`?to=`), however
many mails came after it (issue 17)."""

import email
import email.policy
import hashlib
import re
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from messaging import mail
from webapp import dev
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


def _by_default_policy(path):
    """What the outbox page showed before it parsed mails as plain bytes: email's default
    policy, its get_body and get_content."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    return {"id": path.stem, "subject": message["subject"], "to": message["to"], "date": message["date"],
            "text": text.get_content() if text else "", "html": html.get_content() if html else ""}


def test_a_mail_reads_as_emails_default_policy_reads_it(app, tmp_path):
    """Encoded words in the headers, quoted-printable and base64 bodies in other charsets,
    an attached text that is not the body: the page shows what email's default policy
    finds, at a sixth of its cost."""
    message = EmailMessage()
    message["Subject"] = "Uw gegevens – één keer aanleveren ✓"
    message["To"] = "Fatima de Vries-El Amrani <fätima@example.org>"
    message["Date"] = "Tue, 01 Dec 2026 00:09:16 +0100"
    message.set_content("Beste Fatima,\n\nÉén regel met é en ë." + " lang" * 40 + "\n", charset="iso-8859-1")
    message.add_alternative("<p>Één <b>keer</b> – ✓</p>\n", subtype="html", cte="base64")
    message.add_attachment("niet de tekst van de mail\n", filename="bijlage.txt")
    ascii_only = EmailMessage()
    ascii_only["Subject"], ascii_only["To"] = "Alleen tekst", "iemand@example.org"
    ascii_only.set_content("Gewone tekst.\n", cte="base64")
    attached_first = MIMEMultipart()
    attached_first["Subject"], attached_first["To"] = "Bijlage eerst", "iemand@example.org"
    attachment = MIMEText("niet de tekst van de mail\n")
    attachment.add_header("Content-Disposition", "attachment", filename="bijlage.txt")
    attached_first.attach(attachment)
    attached_first.attach(MIMEText("De tekst.\n"))
    for n, sent in enumerate((message, attached_first, ascii_only)):
        path = tmp_path / f"{n}.eml"
        path.write_bytes(sent.as_bytes())
        read = dev._read(path)
        assert read == _by_default_policy(path)
        assert {key: str(value) for key, value in dev._headers(path).items()} == {
            key: str(read[key]) for key in ("id", "subject", "to", "date")}
    assert read["html"] == "" and read["text"].strip() == "Gewone tekst."
    forwarded = MIMEMultipart()
    forwarded["Subject"], forwarded["To"] = "Doorgestuurd", "iemand@example.org"
    forwarded.attach(MIMEText("Zie de bijlage.\n"))
    inner = MIMEMultipart("alternative")
    inner.attach(MIMEText("<p>Het doorgestuurde bericht</p>", "html"))
    attached = MIMEMessage(inner)
    attached.add_header("Content-Disposition", "attachment")
    forwarded.attach(attached)
    badly_labelled = (b"Subject: Slecht gelabeld\r\nTo: iemand@example.org\r\nMIME-Version: 1.0\r\n"
                      b"Content-Type: multipart/alternative; boundary=X\r\n\r\n--X\r\n"
                      b"Content-Type: text/plain\r\n\r\nZonder charset: caf\xe9\r\n--X\r\n"
                      b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Latin-1 als UTF-8: caf\xe9</p>\r\n"
                      b"--X--\r\n")
    for n, sent in ((3, forwarded.as_bytes()), (4, badly_labelled)):
        path = tmp_path / f"{n}.eml"
        path.write_bytes(sent)
        assert dev._read(path) == _by_default_policy(path)
    assert dev._read(tmp_path / "3.eml")["html"] == ""  # not the attached message's
    assert dev._read(tmp_path / "1.eml")["text"] == "De tekst.\n"
    first = dev._read(tmp_path / "0.eml")
    assert first["subject"] == "Uw gegevens – één keer aanleveren ✓"
    assert "niet de tekst" not in first["text"] and "<b>keer</b>" in first["html"]


def test_a_header_with_undeclared_8bit_bytes_is_shown_not_an_error(app, desktop):
    """A mail written by something other than this app: its list and its page still open."""
    outbox = Path(app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = "1796083756459096195-74f9aa23"
    (outbox / f"{name}.eml").write_bytes(b"Subject: Caf\xc3\xa9 zonder codering\r\nTo: iemand@example.org\r\n"
                                         b"Content-Type: text/plain; charset=utf-8\r\n\r\nTekst\r\n")
    listed = desktop.get("/dev/outbox")
    assert listed.status_code == 200 and "zonder codering" in listed.text
    page = desktop.get(f"/dev/outbox/{name}")
    assert page.status_code == 200 and "Tekst" in page.text
