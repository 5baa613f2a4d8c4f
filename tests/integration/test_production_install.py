"""A production install: the running set alone (requirements/run.txt, no test extra) in a
fresh virtual environment, the project installed as a package, and the Procfile's processes
started from it, in a folder that holds only what a deployment runs from (the Procfile,
wsgi.py, gunicorn.conf.py). The test extra once brought in what production lacked.

These tests need the real services; in CI a missing service fails the test.
"""

import os
import shutil
import signal
import subprocess
import sys

import requests
from sqlalchemy import create_engine, text

from webapp.simulators.population import SANNE

from tests.services import free_port

from .deployment import ROOT, HttpClient, wait_for
from .helpers import application_form


def _run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_running_set_alone_installs_from_the_lock_and_starts_every_process(
        services, redis_server, tmp_path):
    database_url, rabbitmq_url, _smtp = services
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run(*pip, "--require-hashes", "-r", str(ROOT / "requirements" / "run.txt"))
    _run(*pip, "--no-deps", str(ROOT))
    _run(str(venv / "bin" / "python"), "-m", "pip", "check")

    app_dir = tmp_path / "app"
    app_dir.mkdir()
    for name in ("Procfile", "wsgi.py", "gunicorn.conf.py"):
        shutil.copy(ROOT / name, app_dir / name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {key: value for key, value in os.environ.items()
               if key not in ("VIRTUAL_ENV", "PYTHONPATH", "MAIL_SERVER", "CI")}
    environ.update(
        PATH=f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", OCKTOREIS_ENV="acceptance",
        SECRET_KEY="production-install-secret-of-32-chars", PUBLIC_URL=url, PORT=str(port),
        DATABASE_URL=database_url, RABBITMQ_URL=rabbitmq_url, REDIS_URL=redis_server.url,
        OCKTOREIS_INSTANCE=str(tmp_path / "instance"), OUTBOX_DIR=str(tmp_path / "outbox"),
        INBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'inbox.db'}", SOURCE_SIM_LATENCY_MS="0",
        WEB_CONCURRENCY="1", WORKER_PROCESSES="1", WORKER_THREADS="2")
    run_process = ROOT / "bin" / "procfile-run"

    release = _run(str(run_process), "release", cwd=app_dir, env=environ)
    assert release.stdout.strip() == "database schema is up to date"

    processes = []
    try:
        for name in ("web", "worker", "clock"):
            log = open(tmp_path / f"{name}.log", "w")
            processes.append((name, log, subprocess.Popen(
                [str(run_process), name], cwd=app_dir, env=environ, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)))

        def ready():
            for name, _, process in processes:
                assert process.poll() is None, (
                    f"{name} exited: {(tmp_path / f'{name}.log').read_text()[-3000:]}")
            try:
                return requests.get(f"{url}/health/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(ready, 90, "the web process installed from the lock to be ready")

        # Each process does its part: the web takes an application, the worker sends its
        # invitation (the app's code from the installed package), the clock ticks.
        assert HttpClient(url).post("/aanvraag", data=application_form(SANNE)).status_code == 303
        wait_for(lambda: list((tmp_path / "outbox").glob("*.eml")), 60, "the invitation")
        wait_for(lambda: _clock_ticked(database_url), 60, "the clock to tick")
        where = _run(str(venv / "bin" / "python"), "-c", "import webapp; print(webapp.__file__)",
                     cwd=app_dir, env=environ).stdout
        assert where.startswith(str(venv)), where  # the package, not this source tree
    finally:
        for _, _, process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, log, process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()


def _clock_ticked(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM clock_tick")).scalar()
    finally:
        engine.dispose()
