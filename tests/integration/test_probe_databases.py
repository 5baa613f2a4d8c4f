"""The probe's hostile inputs on both databases: a clear answer, never a 500. PostgreSQL
refuses a NUL character in text with an error where SQLite just finds nothing."""

import pytest

from webapp.simulators.population import SANNE

from .conftest import PHONE_UA
from .deployment import HttpClient
from .helpers import application_form

NUL = "\x00"


@pytest.fixture(params=["sqlite", "postgresql"])
def app_config(request, tmp_path):
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url"),
            "INBOX_DATABASE_URL": request.getfixturevalue("postgres_url")}


PATHS = ["/reis/a%00b", "/reis/a%00b/stap", "/reis/a%00b/events", "/uitnodiging/a%00b",
         "/uitnodiging/a%00b/intrekken", "/app/koppel/a%00b", "/gemeente/GM0193/inbox/a%00b",
         "/gemeente/GM%000193/inloggen", "/gemeenten?gemeente=a%00b", "/app/digid/terug?state=a%00b",
         "/digid-sim/sms?t=a%00b", "/dev/outbox/1-a%00b"]


@pytest.mark.parametrize("path", PATHS)
def test_a_nul_in_a_path_or_query_is_a_clear_400(app, path):
    answer = HttpClient(app.config["PUBLIC_URL"], PHONE_UA).get(path)
    assert answer.status_code == 400 and "Dit verzoek klopt niet" in answer.text


@pytest.mark.parametrize("field", ["gemeente", "naam", "email", "bsn", "partner", "partner_naam",
                                   "partner_bsn"])
def test_a_nul_in_any_field_of_the_application_is_a_dutch_message(app, field):
    form = application_form(SANNE, partner="ja", partner_naam="Piet", partner_bsn="")
    form[field] = f"a{NUL}b@example.nl" if field == "email" else f"x{NUL}y"
    answer = HttpClient(app.config["PUBLIC_URL"]).post("/aanvraag", data=form)
    assert answer.status_code == 422 and "Controleer deze gegevens" in answer.text


@pytest.mark.parametrize(("path", "form"), [
    ("/app/code", {"code": f"ABCD{NUL}EFGH"}),
    ("/digid-sim/inloggen?return_url=http://x/&state=s", {"username": f"jan{NUL}", "password": NUL}),
    ("/gemeente/GM0193/inloggen", {"password": f"a{NUL}b"})])
def test_a_nul_in_other_forms_is_refused_cleanly(app, path, form):
    client = HttpClient(app.config["PUBLIC_URL"], PHONE_UA)
    answer = client.post(path, data=form)
    assert answer.status_code in (400, 403, 410, 422), answer.status_code
