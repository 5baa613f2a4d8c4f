"""Who may use the simulators: the journey service at the sources' API; QA alone switches a
source off."""

import pytest
import requests

from webapp.simulators.population import SANNE

from .deployment import HttpClient

FETCH = {"bsn": SANNE.bsn}


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
