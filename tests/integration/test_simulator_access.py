"""Who may use the simulators: each municipality's own staff, for as long as their session
lasts; the journey service at the sources' API; QA alone switches a source off."""

import pytest
import requests

from webapp import create_app
from webapp.simulators.gemeente import staff_password_hash
from webapp.simulators.population import SANNE

from .conftest import embedded_settings
from .deployment import HttpClient
from .helpers import Walk, staff_password

FETCH = {"bsn": SANNE.bsn}


def _signed_in(app, code, password):
    """A browser over real HTTP in which staff of `code` signed in with `password`."""
    staff = HttpClient(app.config["PUBLIC_URL"])
    response = staff.post(f"/gemeente/{code}/inloggen", data={"password": password})
    return staff, response


def _deliver(app, desktop, phone, run_jobs):
    Walk(app, desktop, phone, run_jobs).to_review(SANNE)
    phone.post("/app/versturen", data={"toestemming": "ja"})
    run_jobs()


def test_staff_must_sign_in_and_see_only_their_own_municipality(app, desktop, phone, run_jobs):
    _deliver(app, desktop, phone, run_jobs)
    staff = HttpClient(app.config["PUBLIC_URL"])
    assert staff.get("/gemeente/GM0193/inbox").headers["Location"] == "/gemeente/GM0193/inloggen"
    wrong = staff.post("/gemeente/GM0193/inloggen", data={"password": "geraden"})
    assert wrong.status_code == 422 and "Dit wachtwoord klopt niet" in wrong.text
    signed_in = staff.post("/gemeente/GM0193/inloggen",
                           data={"password": staff_password(app, "GM0193")})
    assert signed_in.status_code == 303
    inbox = staff.get("/gemeente/GM0193/inbox").text
    assert "Sanne Bakker" in inbox
    dossier_id = inbox.split('href="/gemeente/GM0193/inbox/')[1].split('"')[0]

    other, response = _signed_in(app, "GM0363", staff_password(app, "GM0363"))  # Amsterdam
    assert response.status_code == 303
    assert "Nog geen dossiers" in other.get("/gemeente/GM0363/inbox").text
    for path in ("/gemeente/GM0193/inbox", f"/gemeente/GM0193/inbox/{dossier_id}",
                 f"/gemeente/GM0363/inbox/{dossier_id}"):
        response = other.get(path)
        assert response.status_code in (303, 404), path
        assert "Sanne Bakker" not in response.text


def test_one_municipalitys_password_does_not_open_another(app):
    zwolle = staff_password(app, "GM0193")
    assert zwolle != staff_password(app, "GM0363")
    _, response = _signed_in(app, "GM0363", zwolle)
    assert response.status_code == 422 and "Dit wachtwoord klopt niet" in response.text
    _, response = _signed_in(app, "GM0193", zwolle)
    assert response.status_code == 303


def test_each_municipality_has_its_own_development_password_from_the_secret_key(app):
    first = staff_password(app, "GM0193")
    app.config["SECRET_KEY"] = "another-deployment"
    assert staff_password(app, "GM0193") not in (first, staff_password(app, "GM0363"))


@pytest.mark.parametrize("app_config", [{"GEMEENTE_STAFF_PASSWORDS": {
    "GM0193": staff_password_hash("GM0193", "zwolle-geheim"),
    "GM0363": staff_password_hash("GM0193", "zwolle-geheim")}}])  # pasted under another code
def test_a_configured_password_hash_opens_its_own_municipality_only(app):
    assert _signed_in(app, "GM0193", "zwolle-geheim")[1].status_code == 303
    assert _signed_in(app, "GM0363", "zwolle-geheim")[1].status_code == 422
    derived = staff_password(app, "GM0014")  # not configured: its own derived password
    assert _signed_in(app, "GM0014", derived)[1].status_code == 303
    result = app.test_cli_runner().invoke(args=["gemeente", "password", "GM0193"])
    assert result.exit_code != 0 and "GEMEENTE_STAFF_PASSWORDS" in result.output


def test_a_new_password_is_printed_once_with_the_hash_to_configure(app):
    result = app.test_cli_runner().invoke(args=["gemeente", "new-password", "GM0193"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ")[1].split()[0]
    configured = result.output.split('"GM0193": "')[1].split('"')[0]
    app.config["GEMEENTE_STAFF_PASSWORDS"] = {"GM0193": configured}
    assert password not in configured
    assert _signed_in(app, "GM0193", password)[1].status_code == 303


def test_a_plain_password_in_the_configuration_stops_the_start(tmp_path):
    with pytest.raises(ValueError, match="GM0193"):
        create_app({**embedded_settings(tmp_path),
                    "GEMEENTE_STAFF_PASSWORDS": {"GM0193": "Gemeente01!"}})


def test_a_copied_cookie_no_longer_opens_the_inbox_after_signing_out(app):
    staff, _ = _signed_in(app, "GM0193", staff_password(app, "GM0193"))
    copy = requests.Session()
    copy.cookies.update(staff.http.cookies)
    inbox = f"{app.config['PUBLIC_URL']}/gemeente/GM0193/inbox"
    assert copy.get(inbox, allow_redirects=False, timeout=10).status_code == 200
    assert "Uitloggen" in staff.get("/gemeente/GM0193/inbox").text
    assert staff.post("/gemeente/GM0193/uitloggen").status_code == 303
    for who, browser in (("the signed-out browser", staff.http), ("the copied cookie", copy)):
        response = browser.get(inbox, allow_redirects=False, timeout=10)
        assert response.status_code == 303, who
        assert response.headers["Location"] == "/gemeente/GM0193/inloggen", who


def test_a_staff_session_ends_after_a_working_day(app, clock):
    staff, _ = _signed_in(app, "GM0193", staff_password(app, "GM0193"))
    clock.advance(hours=7, minutes=59)
    assert staff.get("/gemeente/GM0193/inbox").status_code == 200
    clock.advance(minutes=1)
    assert staff.get("/gemeente/GM0193/inbox").headers["Location"] == "/gemeente/GM0193/inloggen"


def test_the_source_api_answers_only_with_the_sources_token(app):
    url = f"{app.config['PUBLIC_URL']}/bronnen-sim/api/uwv"
    for headers in ({}, {"Authorization": "Bearer geraden"},
                    {"Authorization": app.config["SOURCES_TOKEN"]}):
        response = requests.post(url, json=FETCH, headers=headers, timeout=10)
        assert response.status_code == 401, headers
        assert "inkomen" not in response.text
    response = requests.post(url, json=FETCH, timeout=10,
                             headers={"Authorization": f"Bearer {app.config['SOURCES_TOKEN']}"})
    assert response.status_code == 200


@pytest.mark.parametrize("app_config", [{"SOURCES_TOKEN": "token-van-de-bronnen"}])
def test_the_journey_fetches_with_the_configured_token(app, walk, phone):
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    walk.login(SANNE)
    phone.post("/app/bronnen/uwv")
    walk.run_jobs()
    assert 'data-source="uwv" data-status="fetched"' in phone.get("/app/").text


def _uwv_answers(app):
    return requests.post(f"{app.config['PUBLIC_URL']}/bronnen-sim/api/uwv", json=FETCH, timeout=10,
                         headers={"Authorization": f"Bearer {app.config['SOURCES_TOKEN']}"})


def test_a_visitor_cannot_take_a_source_down(app):
    visitor = HttpClient(app.config["PUBLIC_URL"])  # with a page's own CSRF token
    response = visitor.post("/bronnen-sim/storing", json={"source": "uwv", "down": True})
    assert response.status_code == 404
    assert _uwv_answers(app).status_code == 200


@pytest.mark.parametrize("app_config", [{"ACCEPTANCE_MODE": True}])
def test_in_acceptance_mode_qa_takes_a_source_down_and_brings_it_back(app):
    qa = HttpClient(app.config["PUBLIC_URL"])
    assert qa.post("/bronnen-sim/storing", json={"source": "uwv", "down": True}).json() == {
        "down": ["uwv"]}
    assert _uwv_answers(app).status_code == 503
    assert qa.post("/bronnen-sim/storing", json={"source": "uwv", "down": False}).json() == {
        "down": []}
    assert _uwv_answers(app).status_code == 200
