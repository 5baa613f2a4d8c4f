"""A web process that stops (a deploy, a scale-in) ends its event streams at once, each with a
clean end of its response, and refuses new ones: the pages reconnect to another process
(e2e/test_behind_nginx.py runs that in Chromium behind nginx)."""

import signal

from webapp.simulators.population import HENK

from .conftest import PHONE_UA
from .deployment import EventStream, HttpClient
from .helpers import Walk


def test_a_stopping_process_ends_every_open_stream_and_refuses_new_ones(app, run_jobs):
    url = app.config["PUBLIC_URL"]
    walk = Walk(app, HttpClient(url), HttpClient(url, PHONE_UA), run_jobs)
    walk.start(walk.apply(HENK))
    desktop = EventStream(walk.desktop, f"{walk.journey_url}/events")
    desktop.wait_for("Heeft u alles bij de hand")  # its first state

    app.extensions["stream_limits"].end_all()
    assert desktop.ended.wait(10), "the stream was not ended"
    assert desktop.cut is None, desktop.cut  # a clean end: the browser reconnects at once
    again = walk.desktop.get(f"{walk.journey_url}/events", stream=True)
    assert again.status_code == 503  # the proxy asks another process; a browser retries
    again.close()


def test_the_procfiles_web_process_ends_its_streams_on_sigterm_without_waiting_them_out(deployment):
    system = deployment()
    web, process = system.start_procfile_web()
    system.start_worker()
    walk = Walk(system.app, HttpClient(web), HttpClient(web, PHONE_UA), system.run_jobs)
    walk.start(walk.apply(HENK))
    streams = [EventStream(walk.desktop, f"{walk.journey_url}/events") for _ in range(3)]
    for stream in streams:
        stream.wait_for("Heeft u alles bij de hand")

    process.send_signal(signal.SIGTERM)  # the master, as a supervisor or platform stops it
    for stream in streams:
        assert stream.ended.wait(60), "a stream was still open"
        assert stream.cut is None, stream.cut
    assert process.wait(timeout=60) == 0
    log = (system.tmp_path / f"web-{web.rsplit(':', 1)[1]}.log").read_text()
    assert "graceful timeout" not in log.lower(), log[-2000:]  # nothing was left to cut
