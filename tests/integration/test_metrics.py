"""Prometheus metrics at /metrics: the figures move as a journey runs; the endpoint is not
open to the world."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from webapp.simulators.population import SANNE
from workers import clock as clock_process

from .conftest import PHONE_UA
from .deployment import EventStream, HttpClient
from .helpers import Walk


def scrape(base_url, headers=None):
    """{(sample name, frozenset of labels): value} of one scrape."""
    answer = requests.get(f"{base_url}/metrics", headers=headers or {}, timeout=10)
    assert answer.status_code == 200, answer.status_code
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def value(figures, name, **labels):
    return figures.get((name, frozenset(labels.items())), 0)


@pytest.fixture
def base_url(app):
    return app.config["PUBLIC_URL"]


def test_the_figures_move_as_a_journey_runs(app, base_url, run_jobs):
    before = scrape(base_url)
    desktop = HttpClient(base_url)
    walk = Walk(app, desktop, HttpClient(base_url, PHONE_UA), run_jobs)
    walk.start(walk.apply(SANNE))
    page = EventStream(desktop, f"{walk.journey_url}/events")
    page.wait_for('data-step="checklist"')
    during = scrape(base_url)
    walk.phone.get(walk.to_qr())
    walk.login(SANNE)
    walk.fetch_all()
    walk.phone.post("/app/versturen", data={"toestemming": "ja"})
    run_jobs()
    page.wait_for('data-state="done"')
    clock_process.tick(app)
    after = scrape(base_url)
    page.close()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ockto_http_requests_total", route="/app/bronnen/<source>", method="POST",
                 status="303") == 5
    assert moved("ockto_http_request_duration_seconds_count", route="/aanvraag", method="POST") == 1
    assert value(during, "ockto_event_streams_open", kind="desktop") >= 1
    assert moved("ockto_events_sent_total", kind="desktop", event="step") >= 5
    assert moved("ockto_events_sent_total", kind="desktop", event="status") >= 4
    assert moved("dramatiq_messages_total", actor_name="fetch_source") == 5
    assert moved("dramatiq_message_duration_seconds_count", actor_name="deliver_dossier") == 1
    assert moved("ockto_source_fetch_duration_seconds_count", source="uwv") == 1
    assert moved("ockto_delivery_duration_seconds_count", gemeente="GM0193") == 1
    assert moved("ockto_mails_sent_total", number="0") == 1
    assert moved("ockto_journeys", state="done") == 1
    for step in ("applied", "invited", "started", "consented", "delivered"):
        assert moved("ockto_funnel_steps_total", gemeente="GM0193", step=step) == 1, step
    assert value(after, "ockto_outbox_backlog") == 0 and value(after, "ockto_dead_letters") == 0
    assert value(after, "ockto_clock_last_tick_timestamp_seconds") > 0


def test_failures_are_counted_per_source_and_municipality(app, base_url, walk, phone, run_jobs):
    app.config["SOURCE_SIM_FAILURE_RATE"] = 1.0
    before = scrape(base_url)
    walk.to_review(SANNE)  # every fetch fails
    after = scrape(base_url)
    assert value(after, "ockto_source_fetch_failures_total", source="duo") - \
        value(before, "ockto_source_fetch_failures_total", source="duo") == 1


def test_metrics_want_the_token_or_this_machine(app, base_url):
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    assert outsider.get("/metrics").status_code == 404
    app.config["METRICS_TOKEN"] = "scrape-token"
    assert requests.get(f"{base_url}/metrics", timeout=10).status_code == 404  # loopback too
    assert scrape(base_url, {"Authorization": "Bearer scrape-token"})
    assert outsider.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).status_code == 200


def test_two_web_processes_and_a_worker_report_one_truth(deployment, tmp_path):
    """Each process of the host writes its figures to one folder; either web process's
    /metrics adds them all up: the worker's fetches, the other web's requests."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    system = deployment(PROMETHEUS_MULTIPROC_DIR=folder)
    web_a, web_b = system.start_web(), system.start_web()
    system.start_worker()
    walk = Walk(system.app, HttpClient(web_a), HttpClient(web_b, PHONE_UA), system.run_jobs)
    walk.to_review(SANNE)  # the desktop on web A, the phone on web B, the fetches in the worker
    for web in (web_a, web_b):
        figures = scrape(web)
        assert value(figures, "dramatiq_messages_total", actor_name="fetch_source") == 5
        assert value(figures, "ockto_http_requests_total", route="/app/bronnen/<source>",
                     method="POST", status="303") == 5
        assert value(figures, "ockto_http_requests_total", route="/aanvraag", method="POST",
                     status="303") == 1
