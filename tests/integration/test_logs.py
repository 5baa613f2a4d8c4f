"""Logs: a JSON line per event with the request id, carried into the jobs the request asked
for; an access line per request with personal links scrubbed; no personal value anywhere."""

import json

from webapp.simulators.population import SANNE

from .conftest import PHONE_UA
from .deployment import HttpClient
from .helpers import Walk


def test_the_request_id_is_the_proxys_when_sane_and_goes_back_in_the_answer(app, desktop):
    assert desktop.get("/", headers={"X-Request-ID": "proxy-7f3a"}).headers["X-Request-ID"] == "proxy-7f3a"
    made_up = desktop.get("/", headers={"X-Request-ID": "a b <script>"}).headers["X-Request-ID"]
    assert len(made_up) == 32 and made_up.isalnum()
    assert desktop.get("/").headers["X-Request-ID"] != desktop.get("/").headers["X-Request-ID"]


def test_production_logs_are_json_carry_the_request_id_into_jobs_and_hold_nothing_personal(
        deployment):
    system = deployment(LOG_FORMAT="json")
    web = system.start_web()
    system.start_worker()
    walk = Walk(system.app, HttpClient(web), HttpClient(web, PHONE_UA), system.run_jobs)
    walk.to_review(SANNE)
    consent = walk.phone.post("/app/versturen", data={"toestemming": "ja"},
                              headers={"X-Request-ID": "qa-consent-1"})
    assert consent.headers["X-Request-ID"] == "qa-consent-1"
    system.run_jobs()
    system.stop()

    lines = [line for log in system.tmp_path.glob("*.log") for line in log.read_text().splitlines()
             if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    jobs = {(e["actor"], e["status"]) for e in entries
            if e["logger"] == "ocktoreis.jobs" and e["request_id"] == "qa-consent-1"}
    assert {("deliver_dossier", "done"), ("purge_journey", "done")} <= jobs  # the purge too: the
    # delivery asked for it, so it carries the consent's id
    access = [e for e in entries if e["logger"] == "ocktoreis.access"]
    assert any(e["path"].startswith("/uitnodiging/…/start") and e["status"] == 303 for e in access)
    assert all("request_id" in e and "duration_ms" in e for e in access)
    everything = "\n".join(lines)
    for personal in (SANNE.bsn, SANNE.name, "aanvrager@example.org", walk.journey_url.split("/")[-1] + "x"):
        assert personal not in everything
