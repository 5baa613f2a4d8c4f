"""A real deployment on this machine for the backbone tests: gunicorn (gevent) web processes
and Dramatiq worker processes on PostgreSQL, RabbitMQ and Redis, driven over HTTP."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pika
import requests
from sqlalchemy import create_engine, text

from tests.services import free_port
from webapp import migrate
from webapp.simulators.gemeente import staff_password_hash

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAFF_PASSWORD = "backbone-zwolle"  # Zwolle's staff password in every deployment


def wait_for(condition, timeout_s=30, what="condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class HttpClient:
    """A browser's cookies over real HTTP, with the Flask test client's call style."""

    def __init__(self, base_url, user_agent=None):
        self.base_url = base_url
        self.http = requests.Session()
        self._token = None
        if user_agent:
            self.http.headers["User-Agent"] = user_agent

    def get(self, path, follow_redirects=False, **kwargs):
        return self.http.get(self.base_url + path, allow_redirects=follow_redirects, timeout=15, **kwargs)

    def post(self, path, follow_redirects=False, headers=None, **kwargs):
        """A POST with the session's CSRF token, as the pages send it."""
        headers = {"X-CSRF-Token": self._csrf_token(), **(headers or {})}
        return self.http.post(self.base_url + path, allow_redirects=follow_redirects, timeout=15,
                              headers=headers, **kwargs)

    def _csrf_token(self):
        if self._token is None:
            page = self.http.get(self.base_url + "/", timeout=15).text
            self._token = json.loads(re.search(r"hx-headers='([^']+)'", page).group(1))["X-CSRF-Token"]
        return self._token


class EventStream:
    """Reads a journey's server-sent events in the background, as the desktop page does."""

    def __init__(self, client, path):
        self.events = []
        self.ended = threading.Event()  # the server ended the stream (or it was closed)
        self.cut = None  # how it ended, when not with a clean end of the response
        self._changed = threading.Condition()
        self._response = client.http.get(client.base_url + path, stream=True, timeout=(5, 60))
        self.status_code = self._response.status_code
        # The socket itself (http.client's response file holds it; urllib3 has no public way).
        self._socket = self._response.raw._fp.fp.raw._sock
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        name, data = None, []
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    name = line[6:]
                elif line.startswith("data:"):
                    data.append(line[5:])
                elif line == "" and data:
                    with self._changed:
                        self.events.append((name, "\n".join(data)))
                        self._changed.notify_all()
                    name, data = None, []
        except (requests.RequestException, AttributeError) as exc:
            self.cut = exc  # closed
        finally:
            self.ended.set()

    def wait_for(self, text_, timeout_s=20):
        """Wait until an event's data contains `text_`."""
        with self._changed:
            found = self._changed.wait_for(lambda: any(text_ in d for _, d in self.events),
                                           timeout=timeout_s)
        assert found, f"the stream never said {text_!r}; last: {self.events[-1:]}"

    def close(self):
        # Shut the socket down first: the reading thread holds the response's buffer, so
        # closing it alone would wait for the next heartbeat.
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the server ended the stream already
        self._response.close()


class Deployment:
    def __init__(self, tmp_path, database_url, rabbitmq_url, redis_url, **settings):
        self.tmp_path = tmp_path
        self.outbox = tmp_path / "outbox"
        self.database_url = database_url
        self.engine = create_engine(database_url)
        self.webs, self.workers, self.clocks, self.logs = [], [], [], []
        self.supervisors = []
        self.env = {
            **os.environ, "PATH": f"{BIN}:{os.environ['PATH']}",
            "DATABASE_URL": database_url, "RABBITMQ_URL": rabbitmq_url, "REDIS_URL": redis_url,
            "OCKTOREIS_ENV": "acceptance", "SECRET_KEY": "backbone-test-secret-of-32-characters",
            "OCKTOREIS_INSTANCE": str(tmp_path),
            "OUTBOX_DIR": str(self.outbox), "DEV_PAGES": "1",
            "INBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'inbox.db'}",
            "GEMEENTE_STAFF_PASSWORDS": json.dumps(
                {"GM0193": staff_password_hash("GM0193", STAFF_PASSWORD)}),
            "SOURCE_SIM_LATENCY_MS": "0", **{k: str(v) for k, v in settings.items()}}
        self.env.pop("MAIL_SERVER", None)
        migrate.upgrade(self.engine)  # the release step: the processes only check the schema
        self.env.pop("CI", None)  # not read by the app; keeps child output plain

    # The config object Walk and the helpers read the outbox from.
    @property
    def app(self):
        return SimpleNamespace(config={"OUTBOX_DIR": str(self.outbox)})

    def _spawn(self, name, command):
        log = open(self.tmp_path / f"{name}.log", "a")
        self.logs.append(log)
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_web(self):
        """One gunicorn process with a gevent worker; returns its base URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self.env.setdefault("PUBLIC_URL", url)  # the first web answers the back channel
        process = self._spawn(f"web-{port}", [
            str(BIN / "gunicorn"), "--worker-class", "gevent", "--workers", "1",
            "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "3",
            "wsgi:app"])
        self.webs.append(process)
        wait_for(lambda: self._healthy(url, process), 60, f"web process on {url}")
        return url

    def start_procfile_web(self, port=None, **settings):
        """The Procfile's `web` line as a platform runs it (gunicorn with gunicorn.conf.py,
        one gevent worker); returns (its base URL, the gunicorn master process)."""
        port = port or free_port()
        log = open(self.tmp_path / f"web-{port}.log", "a")
        self.logs.append(log)
        process = subprocess.Popen(  # bin/procfile-run execs the line: the process is gunicorn's
            [str(ROOT / "bin" / "procfile-run"), "web"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, "PORT": str(port), "WEB_CONCURRENCY": "1", **settings},
            start_new_session=True)
        self.webs.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: self._healthy(url, process), 60, f"web process on {url}")
        return url, process

    def _healthy(self, url, process):
        assert process.poll() is None, f"web process exited; see {self.tmp_path}"
        try:
            return requests.get(f"{url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self):
        process = self._spawn(f"worker-{len(self.workers)}", [
            str(BIN / "dramatiq"), "workers:setup", "--skip-logging", "--processes", "1",
            "--threads", "4"])
        self.workers.append(process)
        return process

    def start_clock(self):
        """The Procfile's clock: reminders, the purge sweep and the outbox's resends."""
        process = self._spawn(f"clock-{len(self.clocks)}", [sys.executable, "-m", "workers.clock"])
        self.clocks.append(process)
        return process

    def start_supervised(self, web_processes=2, worker_processes=2):
        """The production set as ./bin/start-services runs it: supervisord with
        ops/supervisord.conf (web, one program per worker process, clock); returns the URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self.env.setdefault("PUBLIC_URL", url)
        self.env.update(PORT=str(port), WEB_CONCURRENCY=str(web_processes),
                        WORKER_PROCESSES=str(worker_processes), WORKER_THREADS="4",
                        OCKTOREIS_SUPERVISOR_DIR=str(self.tmp_path / "supervisor"))
        (self.tmp_path / "supervisor").mkdir(exist_ok=True)
        process = self._spawn("supervisord", [str(BIN / "supervisord"), "-c",
                                              str(ROOT / "ops" / "supervisord.conf")])
        self.supervisors.append(process)
        wait_for(lambda: self._healthy(url, process), 60, f"the supervised set on {url}")
        return url

    def supervisorctl(self, *args):
        """supervisorctl's answer on this deployment's supervisord."""
        return subprocess.run([str(BIN / "supervisorctl"), "-c", str(ROOT / "ops" / "supervisord.conf"),
                               *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=30).stdout

    def kill_workers(self):
        for process in self.workers:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.workers = []

    def ready_messages(self, queue="default"):
        """Messages waiting in a RabbitMQ queue that no worker has taken yet."""
        connection = pika.BlockingConnection(pika.URLParameters(self.env["RABBITMQ_URL"]))
        try:
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()

    def scalar(self, sql, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def quiet(self):
        """No job left to do: nothing fetching, sending or waiting for its invitation."""
        return not self.scalar(
            "SELECT (SELECT count(*) FROM source_fetch WHERE status = 'fetching')"
            " + (SELECT count(*) FROM journey WHERE state IN ('sending', 'delivered'))"
            " + (SELECT count(*) FROM application WHERE invitation_sent_at IS NULL"
            "    AND status = 'invited')"
            " + (SELECT count(*) FROM outbox)")

    def run_jobs(self):
        wait_for(self.quiet, 60, "the workers to finish their jobs")

    def logs_tail(self, lines=80):
        """The last `lines` of each process's log (no static files' requests), for a failed
        test's report: in CI its temporary directory is gone afterwards."""
        parts = []
        for log in self.logs:
            path = Path(log.name)
            kept = [line for line in path.read_text(errors="replace").splitlines()
                    if "GET /static/" not in line]
            parts.append(f"----- {path.name} (last {lines} lines) -----\n" + "\n".join(kept[-lines:]))
        return "\n".join(parts)

    def stop(self):
        everything = self.supervisors + self.webs + self.workers + self.clocks
        for process in everything:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in everything:
            try:  # supervisord stops its programs first, each with its own grace time
                process.wait(timeout=90 if process in self.supervisors else 15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs:
            log.close()
        self.engine.dispose()
