"""The production set under supervision (ops/supervisord.conf, as ./bin/start-services runs
it): a process killed with SIGKILL, as the OOM killer would, comes back by itself, and the
others serve on meanwhile; the journeys under way complete, each job's effect once.

These tests need the real services; in CI a missing service fails the test.
"""

import os
import re
import signal
from pathlib import Path

from sqlalchemy import text

from webapp.domain.sources import SOURCES
from webapp.simulators.population import HENK, SANNE

from .conftest import PHONE_UA
from .deployment import EventStream, HttpClient, wait_for
from .helpers import Walk, outbox_messages
from .test_backbone import _dossiers_in_inbox

COMEBACK_S = 90  # a generous ceiling: a restarted program imports the whole app


def _pids(system):
    """{program: pid} of the running programs, from supervisorctl."""
    return {name: int(pid) for name, pid in
            re.findall(r"^(\S+)\s+RUNNING\s+pid (\d+)", system.supervisorctl("status"), re.M)}


def _children(pid):
    """The pids of a process's children."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _failed_sources(system, walk):
    with system.engine.connect() as connection:
        return connection.execute(text(
            "SELECT source FROM source_fetch WHERE journey_id = :id AND status = 'failed'"),
            {"id": walk.journey_url.rsplit("/", 1)[1]}).scalars().all()


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _serving_while_down(desktop, page, is_back, what):
    """Until `is_back()`, keep asking the web process, as a customer's desktop would: every
    answer must be a good one. Returns how many were answered meanwhile."""
    answered = 0

    def back_or_serve():
        nonlocal answered
        if is_back():
            return True
        for path in ("/health/ready", "/", page):
            # A connection of its own: one kept alive to the killed process died with it, and
            # a browser sends a GET again on a new one (RFC 9112, 9.3.1); this one must answer.
            response = desktop.get(path, headers={"Connection": "close"})
            assert response.status_code == 200, f"{path} answered {response.status_code} while {what}"
            answered += 1
        return False
    wait_for(back_or_serve, COMEBACK_S, f"{what} to come back")
    return answered


def test_each_process_killed_comes_back_while_the_others_serve_and_the_journeys_complete(
        deployment):
    # Fetches take 1.5 s in the simulator, so a killed worker holds some in the middle.
    system = deployment(SOURCE_SIM_LATENCY_MS=1500, RATE_LIMITS_OFF=1, CLOCK_INTERVAL_S=1)
    web = system.start_supervised(web_processes=2, worker_processes=2)
    programs = {"web", "worker:worker-0", "worker:worker-1", "clock"}  # a program per worker process
    start = wait_for(lambda: (pids := _pids(system)).keys() == programs and pids, COMEBACK_S,
                     "every program to run")

    # Three journeys paired and logged in, each desktop following live.
    walks, streams = [], []
    for citizen in (SANNE, HENK, SANNE):
        walk = Walk(system.app, HttpClient(web), HttpClient(web, PHONE_UA), system.run_jobs)
        walk.start(walk.apply(citizen))
        walk.phone.get(walk.to_qr())
        walk.login(citizen)
        walks.append((walk, citizen))
        streams.append(EventStream(walk.desktop, f"{walk.journey_url}/events"))
    desktop, page = walks[0][0].desktop, walks[0][0].journey_url

    # Every source of every journey asked for at once: 15 fetches in flight.
    for walk, _ in walks:
        for source in SOURCES:
            assert walk.phone.post(f"/app/bronnen/{source.key}").status_code == 303
    wait_for(lambda: system.scalar("SELECT count(*) FROM source_fetch WHERE status = 'fetching'"),
             10, "fetches under way")

    # 1. A Dramatiq worker process (the child that runs the jobs) dies in the middle of them.
    main = start["worker:worker-0"]
    (child,) = _children(main)
    fetched = "SELECT count(*) FROM source_fetch WHERE status = 'fetched'"
    at_kill = system.scalar(fetched)
    os.kill(child, signal.SIGKILL)
    done_meanwhile = []  # fetches the other worker finished while this one was down

    def worker_back():
        done_meanwhile.append(system.scalar(fetched) - at_kill)
        pid = _pids(system).get("worker:worker-0")
        return pid not in (None, main) and _children(pid)
    answered = _serving_while_down(desktop, page, worker_back, "a worker process was down")
    assert len(done_meanwhile) > 1 and done_meanwhile[-2] > 0, "no job done while a worker was down"
    after_worker = _pids(system)
    assert answered > 0
    assert not _alive(main) and not _alive(child)  # Dramatiq's main stopped with its child...
    for name in ("web", "worker:worker-1", "clock"):  # ... and took nothing else down
        assert after_worker[name] == start[name], name

    # 2. A gunicorn worker process (the master starts another; the page's stream reconnects).
    master = start["web"]
    web_workers = _children(master)
    assert len(web_workers) == 2
    os.kill(web_workers[0], signal.SIGKILL)
    _serving_while_down(
        desktop, page, lambda: len(set(_children(master)) - {web_workers[0]}) == 2,
        "a web process was down")
    assert _pids(system) == after_worker  # the master and everything else ran on

    # 3. The clock.
    clock = start["clock"]
    os.kill(clock, signal.SIGKILL)
    _serving_while_down(desktop, page, lambda: _pids(system).get("clock") not in (None, clock),
                        "the clock was down")
    after_clock = _pids(system)
    assert after_clock == {**after_worker, "clock": after_clock["clock"]}
    ticked = system.scalar("SELECT max(at) FROM clock_tick")
    wait_for(lambda: system.scalar("SELECT max(at) FROM clock_tick") > ticked, COMEBACK_S,
             "the new clock to tick")

    # The journeys under way complete: every fetch done once, then consent and delivery.
    system.run_jobs()
    for (walk, _), stream in zip(walks, streams):
        stream.close()
        stream = EventStream(walk.desktop, f"{walk.journey_url}/events")  # as the page reconnects
        # A fetch whose source answered from the killed web process failed (the simulators
        # live in the web processes): the customer taps "Opnieuw proberen", as the page offers.
        for source in _failed_sources(system, walk):
            assert walk.phone.post(f"/app/bronnen/{source}").status_code == 303
        system.run_jobs()
        assert walk.phone.post("/app/bronnen/klaar").status_code == 303
        stream.wait_for("Bekijk en controleer de gegevens", timeout_s=COMEBACK_S)
        assert walk.phone.post("/app/versturen", data={"toestemming": "ja"}).status_code == 303
        stream.wait_for('data-state="done"', timeout_s=COMEBACK_S)
        stream.close()
    system.run_jobs()

    journeys = [walk.journey_url.rsplit("/", 1)[1] for walk, _ in walks]
    for journey in journeys:
        assert system.scalar("SELECT state FROM journey WHERE id = :id", id=journey) == "done"
        assert system.scalar("SELECT count(*) FROM source_fetch WHERE journey_id = :id",
                             id=journey) == len(SOURCES)
    assert outbox_messages(system.app) == []  # the invitations went with the purges; none came again
    assert system.scalar("SELECT count(*) FROM outbox") == 0
    assert _dossiers_in_inbox(web) == 3  # one dossier per journey, none twice
