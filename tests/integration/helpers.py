"""Small helpers that walk the journey with Flask test clients, as a person would."""

import email
import email.policy
import json
import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from webapp import saml
from webapp.domain.sources import SOURCES
from webapp.simulators import population
from webapp.simulators.gemeente import Dossier
from webapp.simulators.zgw import ZgwObject, received_zaken


def application_form(citizen, partner_citizen=None, **overrides):
    form = {"gemeente": "Zwolle", "naam": citizen.name, "email": "aanvrager@example.org",
            "bsn": citizen.bsn, "partner": "ja" if partner_citizen else "nee",
            "partner_naam": partner_citizen.name if partner_citizen else "", "partner_bsn": ""}
    form.update(overrides)
    return form


def outbox_messages(app):
    folder = Path(app.config["OUTBOX_DIR"])
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def invitation_path(app):
    """The path of the personal link in the newest invitation e-mail."""
    text = outbox_messages(app)[-1].get_body(("plain",)).get_content()
    return urlsplit(re.search(r"https?://\S+/uitnodiging/\S+", text).group(0)).path


def all_database_text(app):
    """Every value in every column of every table of Ockto's database, as text."""
    engine = app.extensions["db_engine"]
    values = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                values.extend(str(value) for value in row if value is not None)
    return "\n".join(values)


class Delivered(NamedTuple):
    id: str
    gemeente_code: str
    body: str  # the delivered data as JSON (a zaak's JSON document)


def dossiers(app):
    """What the municipality simulator received: the signed dossiers and the zaken."""
    with Session(app.extensions["gemeente_inbox"]) as inbox:
        return [*inbox.scalars(select(Dossier)).all(),
                *(Delivered(z.id, z.gemeente_code, json.dumps(z.body))
                  for g in inbox.scalars(select(ZgwObject.gemeente_code).distinct())
                  for z in received_zaken(inbox, g))]


def dossier_count(app):
    return len(dossiers(app))


def local(url):
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def digid_login_page(client, location):
    """From the signed AuthnRequest's URL to the simulator's login page: (page, its token)."""
    to_login = client.get(local(location))
    assert to_login.status_code == 303, to_login.text
    page = client.get(local(to_login.headers["Location"]))
    return page, re.search(r'name="t" value="([^"]+)"', page.text).group(1)


def authn_request_url(app, relay_state="s"):
    """The URL of a signed AuthnRequest of this app, as /app/digid makes one."""
    with app.test_request_context():
        return saml.login_redirect(saml.LOGIN, relay_state)[1]


def digid_form(app, client):
    """The simulator's login form for a fresh AuthnRequest (its hidden field)."""
    return {"t": digid_login_page(client, authn_request_url(app))[1]}


def digid(client, location, citizen, basis=False):
    """At DigiD (the simulator) from the AuthnRequest's URL `location`: password, then the sms
    code it shows (at level `basis` no sms); DigiD's redirect back, with the artifact."""
    _, token = digid_login_page(client, location)
    form = {"t": token, "username": citizen.username, "password": population.PASSWORD}
    answer = client.post("/digid-sim/inloggen", data={**form, **({"niveau": "basis"} if basis else {})})
    assert answer.status_code == 303, answer.text
    if basis:
        return answer
    sms_page = client.get(local(answer.headers["Location"]))
    code = re.search(r'data-testid="sms-code">(\d{6})<', sms_page.text).group(1)
    token = re.search(r'name="t" value="([^"]+)"', sms_page.text).group(1)
    back = client.post("/digid-sim/sms", data={"t": token, "code": code})
    assert back.status_code == 303, back.text
    return back


class Walk:
    """One journey walked by a desktop client and a phone client."""

    def __init__(self, app, desktop, phone, run_jobs):
        self.app, self.desktop, self.phone, self.run_jobs = app, desktop, phone, run_jobs
        self.journey_url = None

    def apply(self, citizen, partner=None):
        response = self.desktop.post("/aanvraag", data=application_form(citizen, partner))
        assert response.status_code == 303, response.text
        self.run_jobs()
        return invitation_path(self.app)

    def start(self, invitation, client=None):
        client = client or self.desktop
        response = client.post(f"{invitation}/start")
        assert response.status_code == 303, response.text
        self.journey_url = response.headers["Location"]
        return client.get(self.journey_url)

    def to_qr(self):
        self.desktop.post(f"{self.journey_url}/checklist")
        assert self.desktop.post(f"{self.journey_url}/app-klaar").status_code == 303
        page = self.desktop.get(self.journey_url).text
        return local(re.search(r'href="([^"]+)" data-testid="pairing-url"', page).group(1))

    def login(self, citizen, client=None, basis=False):
        """DigiD in the simulator: password, then the sms code it shows (or, at level
        `basis`, no sms); the page the phone lands on."""
        client = client or self.phone
        back = digid(client, client.get("/app/digid").headers["Location"], citizen, basis)
        return client.get(local(back.headers["Location"]), follow_redirects=True)

    def to_review(self, citizen):
        """One citizen without a partner, from the application to the review on the phone."""
        self.start(self.apply(citizen))
        self.phone.get(self.to_qr())
        self.login(citizen)
        return self.fetch_all()

    def fetch_all(self, client=None):
        client = client or self.phone
        for source in SOURCES:
            client.post(f"/app/bronnen/{source.key}")
        self.run_jobs()
        client.post("/app/bronnen/klaar")  # a plain form: redirected, or 422 with what is missing
        return client.get("/app/")


def staff_password(app, code="GM0193"):
    """A municipality's staff password, as a developer gets it: the simulator's command."""
    result = app.test_cli_runner().invoke(args=["gemeente", "password", code])
    assert result.exit_code == 0, result.output
    return result.output.strip()
