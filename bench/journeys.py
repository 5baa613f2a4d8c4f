"""Benchmark whole journeys: `python -m bench.journeys [--rate 6] [--duration 120]`.

Starts the production set (gunicorn gevent web processes, Dramatiq worker processes and the
clock, each through bin/procfile-run as supervisord starts them) against a fresh PostgreSQL
database, RabbitMQ (a virtual host of its own) and a Redis of its own, with the outside-system
simulators (DigiD, the sources at latency 0, the municipality) in a process of their own that
is not counted. Or, with `--base-url`, drives a set already running on this machine (loopback
only; it needs DEV_PAGES and RATE_LIMITS_OFF, as an acceptance deployment).

New journeys start at a fixed rate (open loop: `--rate` per second for `--duration` seconds,
however many are still under way), half of them a household with a partner. Each is driven
over HTTP as a person's browsers would: a desktop and a phone, each its own cookie jar; the
desktop applies, finds its invitation in the development outbox (`/dev/outbox?to=`), starts,
opens its event stream and keeps it open to the end; the phone pairs through the QR code's
URL, opens its own stream, logs in at DigiD (it posts the forms it is given and reads the sms
code the simulator shows, following every redirect), taps each source, the partner does the
same, and it consents. A journey is complete when the desktop's stream says it is done; one
that has not ended 60 s after its start is stuck.

It reports per step (the person's action: its requests and the wait for what it changed) and
overall. `http_p50_ms`/`http_p99_ms` are over every HTTP request; `event_p99_ms` is from a
phone action (pairing, the DigiD return, a tap, consent) to the desktop's event that shows
it, not the delivery's end, which waits for the municipality (its step shows it); `stale`
counts events that showed an older state than one the same stream showed before (by their
content: a step or a count going back, and by their version, where they carry one). CPU
(user + system, from /proc; for the set's own processes with that of the programs they ran
and waited for) is counted over the run for the set's processes: web, workers, clock,
PostgreSQL, RabbitMQ and Redis (PostgreSQL's and RabbitMQ's servers are shared on this
machine: all their processes count, and PostgreSQL's connections that ended during the run;
a server restarted during the run counts from its new start, never below zero, and the
bench says how many processes ended so, their last CPU not counted).
Then the load generator's own CPU per journey, and the set's as a multiple of it: the figure
to compare two commits by on a machine whose speed drifts.
Each phone action's own p50/p99 is printed too, and the event p99 with the delivery's end
counted as well (as the bench did until 2026-12-03), for comparing with earlier figures.
The last line is
`journeys rate=R completed_per_s=X http_p50_ms=A http_p99_ms=B event_p99_ms=C web_cpu_ms_per_journey=D cpu_ms_per_journey=T stale=S stuck=K`.
"""

# The load generator runs on gevent: hundreds of journeys, each with open streams, in one
# process at a fraction of the cost of threads. It must patch before anything else imports.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import html  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urljoin, urlsplit  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import requests  # noqa: E402

from bench.live_updates import fresh_database, percentile  # noqa: E402
from bench.processes import (  # noqa: E402
    cleaning_up, cleanup_on_sigterm, cpu_sample, cpu_used, stop_group, unseen_ends)
from tests.services import PrivateRedis, free_port  # noqa: E402
from webapp import zgw  # noqa: E402
from webapp.domain.journey import JourneyState  # noqa: E402
from webapp.simulators.population import FATIMA, HENK, JAN, PASSWORD, SANNE  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ocktoreis_bench_journeys"
SECRET_KEY = "bench-journeys-secret-of-32-characters!"
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36")
STUCK_S = 60
HOUSEHOLDS = ((JAN, FATIMA), (SANNE, None), (FATIMA, JAN), (HENK, None))
RANK = {state.value: n for n, state in enumerate(JourneyState)}  # the journey's order
DONE = RANK[JourneyState.DONE.value]


class Stats:
    """What every journey measured, shared by all (one process, greenlets: no locks)."""

    def __init__(self):
        self.http_ms = []
        self.event_ms = defaultdict(list)  # phone action: [ms until the desktop showed it]
        self.steps = defaultdict(list)  # step: [ms]
        self.stale = 0
        self.completed = self.stuck = self.failed = 0
        self.completed_at = []  # perf_counter() of every completion
        self.reconnects = 0  # streams that ended and connected again
        self.errors = defaultdict(int)
        self.generator_ms = 0.0  # this process's CPU over the run: it shares the cores


class Browser:
    """One device's cookie jar; every request timed."""

    def __init__(self, base_url, stats, user_agent=None):
        self.base_url, self.stats = base_url, stats
        self.http = requests.Session()
        # As a browser: no proxy or .netrc from this process's environment (looked up again
        # for every request otherwise; the targets are on this machine).
        self.http.trust_env = False
        if user_agent:
            self.http.headers["User-Agent"] = user_agent
        self.csrf = None

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", STUCK_S)
        response = self.http.request(method, urljoin(self.base_url, url), **kwargs)
        for answer in (*response.history, response):
            self.stats.http_ms.append(answer.elapsed.total_seconds() * 1000)
        if response.status_code >= 400:
            raise JourneyFailed(f"{method} {urlsplit(response.url).path.split('/')[1:3]}: "
                                f"HTTP {response.status_code}")
        self._remember_csrf(response.text)
        return response

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, data=None, htmx=True, **kwargs):
        """A POST as the page sends it: htmx's (its CSRF header, the fragment back) or a form's."""
        headers = {"X-CSRF-Token": self.csrf or ""}
        if htmx:
            headers["HX-Request"] = "true"
        return self.request("POST", url, data=data, headers=headers, **kwargs)

    def _remember_csrf(self, page):
        if found := re.search(r'"X-CSRF-Token": ?"([^"]+)"', page):
            self.csrf = found.group(1)

    def submit(self, page, fields, form_with=None):
        """Post the first form of `page` (the one containing `form_with`) with its hidden
        fields and `fields`, following redirects: how a person fills in any form."""
        forms = re.findall(r"<form\b(.*?)>(.*?)</form>", page.text, re.S)
        attributes, body = next(f for f in forms if form_with is None or form_with in f[1])
        action = html.unescape(re.search(r'action="([^"]*)"', attributes).group(1)) or page.url
        data = {html.unescape(name): html.unescape(value) for name, value in re.findall(
            r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body)}
        return self.request("POST", urljoin(page.url, action), data={**data, **fields},
                            allow_redirects=True)


class JourneyFailed(Exception):
    pass


class Stream:
    """An open event stream read in its own greenlet: the highest state it showed, how it
    got there, and every time it went back. Like a browser's EventSource, it connects again
    when the stream ends (its web process died, or stopped) after the `retry` the server
    named, and the server's first event then is the state now."""

    def __init__(self, browser, path, stats):
        self.browser, self.path = browser, path
        self.stats, self.rank, self.version = stats, (-1, -1), -1
        self.state = None  # the state of the last step or state event
        self.changed = gevent.event.Event()
        self.closed, self.retry_s = False, 2.0
        self.response = self._connect()
        self.reader = gevent.spawn(self._read)

    def _connect(self):
        response = self.browser.http.get(urljoin(self.browser.base_url, self.path), stream=True,
                                         timeout=(10, None))
        if response.status_code != 200:
            raise JourneyFailed(f"stream {self.path}: HTTP {response.status_code}")
        return response

    def _read(self):
        while not self.closed:
            self._read_until_it_ends()
            while not self.closed:
                gevent.sleep(self.retry_s)
                try:
                    self.response = self._connect()
                except (requests.RequestException, JourneyFailed):
                    continue  # tried again after the retry, as EventSource does
                self.stats.reconnects += 1
                break

    def _read_until_it_ends(self):
        name, data, version = None, [], None
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    name = line[6:]
                elif line.startswith("data:"):
                    data.append(line[5:])
                elif line.startswith("id:"):
                    version = int(line[3:])
                elif line.startswith("retry:"):
                    self.retry_s = int(line[6:]) / 1000
                elif line == "" and data:
                    self._seen(name, "\n".join(data), version)
                    name, data, version = None, [], None
        except (requests.RequestException, AttributeError, ValueError, OSError):
            pass  # it ended

    def _seen(self, name, data, version):
        if version is not None:
            if version < self.version:
                self.stats.stale += 1
            self.version = max(self.version, version)
        shown = self.shows(name, data)
        if shown is None:
            return
        state, fetched = shown
        if state < self.rank[0] or (state == self.rank[0] and fetched is not None
                                    and fetched < self.rank[1]):
            self.stats.stale += 1
        elif state > self.rank[0] or fetched is not None:
            self.rank = (state, -1 if fetched is None else fetched)
        self.changed.set()

    def shows(self, name, data):
        """(state, sources fetched or None) that the event shows, or None for neither."""
        if name == "step" and (found := re.search(r'data-state="(\w+)"', data)):
            self.state = RANK.get(found.group(1), -1)
            return self.state, _fetched(data)
        if name == "status" and self.state is not None:
            return self.state, _fetched(data)
        if name == "state":
            self.state = RANK.get(data.split("-")[0], -1)
            return self.state, None
        if name == "sources" and self.state is not None:
            return self.state, data.count('data-status="fetched"')
        return None

    def wait_for(self, rank, started, action=None):
        """Wait until the stream showed at least `rank`; the time since `started` counts as
        the phone's `action` reaching the desktop (None: no phone action, as the delivery's
        end, which waits for the municipality; its step counts it)."""
        deadline = started + STUCK_S
        while self.rank < rank:
            self.changed.clear()
            if not self.changed.wait(timeout=max(0.0, deadline - time.perf_counter())):
                raise JourneyFailed(f"the stream never showed {rank}")
        if action is not None:
            self.stats.event_ms[action].append(1000 * (time.perf_counter() - started))

    def close(self):
        self.closed = True
        self.reader.kill()
        self.response.close()


def _fetched(text):
    found = re.search(r"(\d+) van de \d+ bronnen", text)
    return int(found.group(1)) if found else None


class Journey:
    """One household's journey, desktop and phone."""

    def __init__(self, base_url, stats, applicant, partner):
        self.stats, self.applicant, self.partner = stats, applicant, partner
        self.desktop = Browser(base_url, stats)
        self.phone = Browser(base_url, stats, PHONE_UA)
        self.address = f"bench-{uuid.uuid4().hex[:12]}@example.org"
        self.streams = []

    def step(self, name, action):
        started = time.perf_counter()
        result = action(started)
        self.stats.steps[name].append(1000 * (time.perf_counter() - started))
        return result

    def run(self):
        started = time.perf_counter()
        try:
            with gevent.Timeout(STUCK_S, JourneyFailed("stuck")):
                self._walk()
            self.stats.completed += 1
            self.stats.completed_at.append(time.perf_counter())
            self.stats.steps["whole journey"].append(1000 * (time.perf_counter() - started))
        except JourneyFailed as exc:
            self.stats.stuck += str(exc) == "stuck"
            self.stats.failed += str(exc) != "stuck"
            self.stats.errors[str(exc)] += 1
        except requests.RequestException as exc:
            self.stats.failed += 1
            self.stats.errors[type(exc).__name__] += 1
        finally:
            for stream in self.streams:
                stream.close()

    def _walk(self):
        desktop, phone = self.desktop, self.phone
        self.step("apply", lambda _: desktop.submit(desktop.get("/"), {
            "gemeente": "Zwolle", "naam": self.applicant.name, "email": self.address,
            "bsn": self.applicant.bsn, "partner": "ja" if self.partner else "nee",
            "partner_naam": self.partner.name if self.partner else "", "partner_bsn": ""},
            form_with='name="bsn"'))
        invitation = self.step("invitation mail", lambda _: self._invitation())
        page = self.step("start", lambda _: desktop.submit(desktop.get(invitation), {},
                                                           form_with="Start de Ocktoreis"))
        journey_path = urlsplit(page.url).path
        if not journey_path.startswith("/reis/"):
            raise JourneyFailed("the start did not lead to the journey")
        desktop_stream = Stream(desktop, f"{journey_path}/events", self.stats)
        self.streams.append(desktop_stream)
        self.step("checklist", lambda _: desktop.post(f"{journey_path}/checklist"))
        qr = self.step("app ready", lambda _: desktop.post(f"{journey_path}/app-klaar"))
        pairing = html.unescape(re.search(r'href="([^"]+)" data-testid="pairing-url"', qr.text).group(1))
        self.step("pair", lambda started: (phone.get(pairing, allow_redirects=True),
                                           desktop_stream.wait_for((RANK["phone_connected"], -1),
                                                                   started, "pair")))
        self.streams.append(Stream(phone, "/app/events", self.stats))
        for person, fetching in ((self.applicant, "fetching_applicant"),
                                 (self.partner, "fetching_partner")):
            if person is None:
                continue
            # DigiD's return ends on the app's screen (/app/), with this person's sources.
            screen = self.step("digid", lambda started, p=person, s=fetching: self._digid(
                p, s, desktop_stream))
            sources = re.findall(r'data-source="(\w+)"', screen.text)
            for n, source in enumerate(sources, 1):
                self.step("source", lambda started, s=source, n=n: (
                    phone.post(f"/app/bronnen/{s}"),
                    desktop_stream.wait_for((RANK[fetching], n), started, "source")))
            self.step("sources done", lambda _: phone.post("/app/bronnen/klaar"))
        self.step("consent", lambda started: (
            phone.post("/app/versturen", {"toestemming": "ja"}),
            desktop_stream.wait_for((RANK["sending"], -1), started, "consent")))
        self.step("delivered", lambda started: desktop_stream.wait_for((DONE, -1), started))

    def _invitation(self):
        """The invitation's link, from the development outbox, once the worker sent it (its
        own row: an outbox without `?to=`, before issue 17, lists everyone's newest mails)."""
        row = re.compile(rf'<td>{re.escape(self.address)}</td><td><a href="(/dev/outbox/[^"]+)"')
        while True:
            outbox = self.desktop.get(f"/dev/outbox?to={self.address}")
            if found := row.search(outbox.text):
                mail = self.desktop.get(found.group(1))
                return urlsplit(html.unescape(re.search(r'https?://[^\s"<]+/uitnodiging/[^\s"<]+',
                                                        mail.text).group(0))).path
            gevent.sleep(0.1)

    def _digid(self, person, fetching, desktop_stream):
        """DigiD as a person does it: the login form, the sms code, back to the app's screen
        (returned)."""
        phone = self.phone
        login = phone.get("/app/digid", allow_redirects=True)
        sms = phone.submit(login, {"username": person.username, "password": PASSWORD},
                           form_with='name="password"')
        code = re.search(r'data-testid="sms-code">(\d+)<', sms.text).group(1)
        started = time.perf_counter()
        back = phone.submit(sms, {"code": code}, form_with='name="code"')
        if urlsplit(back.url).path.startswith("/app") is False and "<form" in back.text:
            back = phone.submit(back, {})  # a binding that posts back through the browser
        if urlsplit(back.url).path != "/app/":
            raise JourneyFailed("DigiD's return did not lead to the app's screen")
        desktop_stream.wait_for((RANK[fetching], 0), started, "digid return")
        return back


def loopback_only(url):
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        raise SystemExit(f"{host}: unknown host") from None
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise SystemExit(f"refused: {url} is not this machine (loopback only)")


def wait_up(url, process, what):
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"{what} did not start")
            time.sleep(0.2)


class ProductionSet:
    """The Procfile's processes on this machine, and the simulators in a process of their own."""

    def __init__(self, args):
        self.folder = Path(tempfile.mkdtemp(prefix="ocktoreis-bench-journeys-"))
        self.processes, self.groups = [], {}
        self.args = args

    def start(self):
        url = os.environ.get("DATABASE_URL") or DEFAULT_URL
        if url == DEFAULT_URL:
            fresh_database(url)
        self.vhost = f"ocktoreis-bench-{uuid.uuid4().hex[:8]}"
        for command in (["add_vhost", self.vhost],
                        ["set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", "-q", *command], check=True, capture_output=True, timeout=60)
        self.redis = PrivateRedis(self.folder)
        self.redis.start()
        port, sim_port = free_port(), free_port()
        public = f"http://127.0.0.1:{port}"
        # The simulators on "localhost": another host name, so their cookies stay apart.
        simulators = f"http://localhost:{sim_port}"
        common = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                  "OCKTOREIS_ENV": "acceptance", "SECRET_KEY": SECRET_KEY, "PUBLIC_URL": public,
                  "RATE_LIMITS_OFF": "1", "LOG_FORMAT": "json", "PURGE_SWEEP_S": "0"}
        self.env = {**common, "DATABASE_URL": url, "REDIS_URL": self.redis.url,
                    "RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}",
                    "OUTBOX_DIR": str(self.folder / "outbox"), "DEV_PAGES": "1",
                    "SIMULATORS": "0", "DIGID_URL": simulators, "SOURCES_URL": simulators,
                    "GEMEENTE_URL": simulators, "OCKTOREIS_INSTANCE": str(self.folder / "set"),
                    "PORT": str(port), "WEB_CONCURRENCY": str(self.args.web_workers),
                    "WORKER_PROCESSES": str(self.args.worker_processes),
                    "SSE_STREAMS_PER_ADDRESS": "100000", "WEB_CONNECTIONS": "10000",
                    # Without the simulators in the set, a municipality's ZGW connection is
                    # named as a real one would be: Zwolle's, at the simulators' process.
                    "GEMEENTE_BACKENDS": json.dumps({"GM0193": {"backend": "zgw", **dataclasses.asdict(
                        zgw.simulator_connection(simulators, SECRET_KEY, "GM0193"))}})}
        subprocess.run([sys.executable, "-m", "webapp.release"], cwd=ROOT, env=self.env, check=True)
        sim_env = {**common, "OCKTOREIS_INSTANCE": str(self.folder / "simulators"),
                   "DATABASE_URL": f"sqlite:///{self.folder}/simulators.db",
                   "INBOX_DATABASE_URL": f"sqlite:///{self.folder}/inbox.db",
                   "SOURCE_SIM_LATENCY_MS": "0", "SIMULATORS": "1", "PORT": str(sim_port),
                   "DIGID_URL": simulators,  # its SAML endpoints, in its metadata
                   "WEB_CONCURRENCY": "1", "OCKTOREIS_ENV": "development"}  # its schema at start
        for key in ("RABBITMQ_URL", "REDIS_URL"):
            sim_env.pop(key, None)
        self._start("simulators", ["web"], sim_env)
        wait_up(f"http://127.0.0.1:{sim_port}/health/live", self.processes[-1], "the simulators")
        for name in ("web", "worker", "clock"):
            self._start(name, [name], self.env)
        wait_up(f"{public}/health/ready", self.groups["web"], "the web processes")
        return public

    def _start(self, name, procfile_args, env):
        log = open(self.folder / f"{name}.log", "ab")
        process = subprocess.Popen([str(ROOT / "bin" / "procfile-run"), *procfile_args], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        self.groups[name] = process

    def counted(self):
        """{kind: [pids]} of the set's processes now (the simulators are not counted)."""
        kinds = {name: _group_pids(self.groups[name].pid) for name in ("web", "worker", "clock")}
        kinds["redis"] = [self.redis.process.pid]
        kinds.update(_servers())
        return kinds

    def stop(self):
        cleaning_up()
        for process in reversed(self.processes):
            stop_group(process)
        self.redis.stop()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.vhost], capture_output=True, timeout=60)


def _group_pids(pgid):
    """Every process of a process group (a Procfile process and what it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return pids


SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq", "epmd": "rabbitmq",
           "erl_child_setup": "rabbitmq", "inet_gethost": "rabbitmq"}


def _servers(redis=False):
    """The shared servers' processes by their names: PostgreSQL, RabbitMQ (and Redis)."""
    kinds = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                cmdline = (entry / "cmdline").read_bytes()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if kind := SERVERS.get(comm):
                kinds[kind].append(int(entry.name))
            elif redis and comm == "redis-server":
                kinds["redis"].append(int(entry.name))
            elif not redis:
                continue
            elif b"wsgi:app" in cmdline:
                kinds["web"].append(int(entry.name))
            elif b"workers:setup" in cmdline:
                kinds["worker"].append(int(entry.name))
            elif b"workers.clock" in cmdline:
                kinds["clock"].append(int(entry.name))
    return kinds


def cpu_ms_used(before, after):
    """CPU ms between two samples of {kind: `cpu_sample`}, by kind (bench.processes.cpu_used)."""
    per_tick = 1000 / os.sysconf("SC_CLK_TCK")
    return {kind: per_tick * cpu_used(before.get(kind, {}), processes)
            for kind, processes in after.items()}


def sample(kinds):
    return {kind: cpu_sample(pids, kind in ("web", "worker", "clock", "postgresql"))
            for kind, pids in kinds.items()}


QUIET_MS_PER_S = 100  # a tenth of a core: booted and idle, only heartbeats and timers left
BOOTING = ("web", "worker", "clock")  # the set's own processes; the shared servers do not boot


def wait_until_quiet(counted, timeout_s=180):
    """Wait until none of the set's own kinds of process (BOOTING) used more than
    QUIET_MS_PER_S of CPU a second, two seconds in a row: every process has booted
    (importing the app takes seconds of CPU each, and a web process answers while its
    sibling and the workers are still at it). Else the first journeys would be charged for
    the set's start. Gives up after `timeout_s`, and says so."""
    started = time.monotonic()
    last, quiet, busiest = sample(counted()), 0, ("none", 0)
    while time.monotonic() < started + timeout_s:
        gevent.sleep(1)  # a window to measure CPU over
        now = sample(counted())
        used = {kind: ms for kind, ms in cpu_ms_used(last, now).items() if kind in BOOTING}
        busiest = max(used.items(), key=lambda kind_ms: kind_ms[1], default=("none", 0))
        quiet = quiet + 1 if busiest[1] < QUIET_MS_PER_S else 0
        if quiet == 2:
            print(f"the set is quiet after {time.monotonic() - started:.0f} s", flush=True)
            return
        last = now
    print(f"the set did not go quiet in {timeout_s} s ({busiest[0]} {busiest[1]:.0f} ms of CPU "
          "a second): its CPU per journey includes that", flush=True)


def drive(base_url, args, counted):
    stats = Stats()
    wait_until_quiet(counted)
    before = sample(counted())
    generator_before = time.process_time()
    started = time.perf_counter()
    greenlets = []
    total = round(args.rate * args.duration)
    for n in range(total):
        gevent.sleep(max(0.0, started + n / args.rate - time.perf_counter()))
        applicant, partner = HOUSEHOLDS[n % len(HOUSEHOLDS)]
        greenlets.append(gevent.spawn(Journey(base_url, stats, applicant, partner).run))
        if n % max(1, round(args.rate * 10)) == 0 and n:
            print(f"{time.perf_counter() - started:.0f} s: {n} started, {stats.completed} completed, "
                  f"{stats.stuck + stats.failed} failed or stuck", flush=True)
    gevent.joinall(greenlets)
    elapsed = time.perf_counter() - started
    after = sample(counted())
    used = cpu_ms_used(before, after)
    if unseen := {kind: n for kind, processes in after.items()
                  if (n := unseen_ends(before.get(kind, {}), processes))}:
        print("ended during the run, their CPU from its start to their end not counted (no "
              "counted parent reaped them, as a restarted server's): " +
              ", ".join(f"{kind} {n}" for kind, n in sorted(unseen.items())), flush=True)
    stats.generator_ms = 1000 * (time.process_time() - generator_before)
    return stats, elapsed, used, total


def sustained(stats, duration_s):
    """Completions per second over `duration_s` from the first: what the set keeps up with
    once journeys are arriving (the first ones need a whole journey's time to complete)."""
    if not stats.completed_at:
        return 0.0
    first = min(stats.completed_at)
    return sum(t <= first + duration_s for t in stats.completed_at) / duration_s


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.journeys")
    parser.add_argument("--rate", type=float, default=6.0, help="new journeys per second")
    parser.add_argument("--duration", type=float, default=120, help="seconds of new journeys")
    parser.add_argument("--base-url", help="a set already running on this machine")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-processes", type=int, default=2)
    args = parser.parse_args()
    cleanup_on_sigterm()

    if args.base_url:
        loopback_only(args.base_url)
        stats, elapsed, used, total = drive(args.base_url.rstrip("/"), args,
                                            lambda: _servers(redis=True))
    else:
        production = ProductionSet(args)
        try:
            base_url = production.start()
            print(f"the production set is up at {base_url} (logs in {production.folder})", flush=True)
            stats, elapsed, used, total = drive(base_url, args, production.counted)
        finally:
            production.stop()

    done = max(stats.completed, 1)
    print(f"{total} journeys started in {args.duration:.0f} s, {stats.completed} completed, "
          f"{stats.stuck} stuck, {stats.failed} failed, in {elapsed:.1f} s; "
          f"{stats.reconnects} streams connected again")
    for error, count in sorted(stats.errors.items(), key=lambda e: -e[1])[:5]:
        print(f"  {count} x {error}")
    print(f"{'step':<16} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for name, ms in stats.steps.items():
        print(f"{name:<16} {len(ms):>6} {statistics.median(ms):>8.1f} {percentile(ms, 99):>8.1f}")
    print("CPU ms per completed journey: " + ", ".join(
        f"{kind} {ms / done:.0f}" for kind, ms in sorted(used.items()))
        + f" (and this load generator's own {stats.generator_ms / done:.0f}, not counted)")
    if stats.generator_ms:
        # The generator does the same work per journey as long as the set answers with the
        # same requests and events, on the same cores at the same time: the set's CPU as a
        # multiple of it drifts far less with the machine's speed (a busy host, another
        # machine) than the set's CPU alone, for comparing runs of two commits.
        print(f"CPU per journey as a multiple of the load generator's: web "
              f"{used.get('web', 0) / stats.generator_ms:.2f}, all {sum(used.values()) / stats.generator_ms:.2f}")
    print("phone action to the desktop's event, p50/p99 ms: " + ", ".join(
        f"{action} {statistics.median(ms):.1f}/{percentile(ms, 99):.1f}"
        for action, ms in stats.event_ms.items()))
    # Until 2026-12-03 event_p99_ms counted the delivery's end too (consent's "sending" to
    # "done": the municipality's answer and the purge, no phone action): said for comparison.
    event_ms = [ms for action in stats.event_ms.values() for ms in action] or [0]
    with_delivery = event_ms + stats.steps["delivered"]
    print(f"with the delivery's end counted too, as before: event p99 {percentile(with_delivery, 99):.1f} ms")
    http_ms = stats.http_ms or [0]
    print(f"journeys rate={args.rate:g} completed_per_s={sustained(stats, args.duration):.2f} "
          f"http_p50_ms={statistics.median(http_ms):.1f} http_p99_ms={percentile(http_ms, 99):.1f} "
          f"event_p99_ms={percentile(event_ms, 99):.1f} "
          f"web_cpu_ms_per_journey={used.get('web', 0) / done:.0f} "
          f"cpu_ms_per_journey={sum(used.values()) / done:.0f} stale={stats.stale} stuck={stats.stuck}")


if __name__ == "__main__":
    main()
