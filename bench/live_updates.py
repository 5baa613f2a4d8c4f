"""Benchmark the desktop's live updates: `python -m bench.live_updates [--streams 2000]
[--rate 1 | --interval 15]`.

Starts the web processes (gunicorn, gevent workers) against Redis and PostgreSQL
(DATABASE_URL, or a local database `ocktoreis_bench_live` it creates afresh), opens N
desktop event streams, each for its own journey and with its own browser cookie, and
publishes the journeys' events at one per stream per second: each event is a real change
(a source's status in the database, committed) followed by the publish on Redis with the
journey's progress view, as the workers do. Each journey's views go round what a desktop
sees in a journey with a partner (8 state changes, which re-render the step, and 10 sources
fetched, which update the status line), each journey starting at a random point. It measures
the time from publish to the update arriving at the client. In the same run a few clients poll their journey's step every 500 ms (what
comparable systems do) as the baseline: the time from the change to the poll that shows it.
`--interval 15` sends one event per stream every 15 s instead (what a real journey sends).
Every stream comes from this one address, so it raises the per-address stream cap, and it
raises its own file-descriptor limit as a deployment would (README, "Benchmark").
The last line is
`live_updates streams=N p50_ms=X p99_ms=Y polling_p50_ms=Z rss_mb_per_1000_streams=W`.
"""

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import random
import re
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.processes import cleaning_up, cleanup_on_sigterm, cpu_ticks, stop_group
from tests.services import free_port
from webapp import create_app
from webapp.clock import utcnow
from webapp.db import session
from webapp.domain.journey import JourneyState, Role
from webapp.domain.progress import ProgressView, SourceProgress
from webapp.domain.sources import SOURCES, FetchStatus
from webapp.journeys import digest, new_id
from webapp.models import Application, Journey, Person, Receipt, SourceFetch

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ocktoreis_bench_live"
SECRET_KEY = "bench-live-updates-secret-of-32-characters"
POLL_INTERVAL_S = 0.5
ORDER = re.compile(rb"^id:(\d+)$", re.M)


def fresh_database(url):
    url = make_url(url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def rss_mb(pids):
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_s(pids):
    """CPU seconds (user and system) the processes have used so far."""
    return sum(cpu_ticks(pids, with_children=False).values()) / os.sysconf("SC_CLK_TCK")


def worker_pids(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def make_journeys(app, count):
    """`count` journeys fetching the applicant's sources, with each desktop's cookie."""
    serializer = app.session_interface.get_signing_serializer(app)
    cookies = {}
    with app.app_context():
        now = utcnow()
        for n in range(count):
            secret = secrets.token_urlsafe(32)
            application = Application(id=new_id(), created_at=now, gemeente_code="GM0193",
                                      has_partner=False, name=f"Bench {n}", email="b@example.org",
                                      bsn="999900031")
            journey = Journey(id=new_id(), application=application,
                              state=JourneyState.FETCHING_APPLICANT, created_at=now, updated_at=now,
                              desktop_secret_hash=digest(secret))
            journey.persons.append(Person(role=Role.APPLICANT, logged_in_at=now))
            journey.fetches.extend(SourceFetch(role=Role.APPLICANT, source=s.key,
                                               status=FetchStatus.WAITING, updated_at=now)
                                   for s in SOURCES)
            session.add_all([application, journey,
                             Receipt(journey_id=journey.id, gemeente_code="GM0193")])
            cookies[journey.id] = serializer.dumps({"desktop": {journey.id: secret}})
            if n % 500 == 499:
                session.commit()
        session.commit()
        session.remove()
    return cookies


class Client:
    """Raw HTTP over asyncio: thousands of open streams from one process."""

    def __init__(self, port, cookie_name):
        self.port, self.cookie_name = port, cookie_name

    async def open(self, path, cookie):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2 ** 20)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     f"Cookie: {self.cookie_name}={cookie}\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"{path}: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        return reader, writer

    async def get(self, path, cookie):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     f"Cookie: {self.cookie_name}={cookie}\r\n\r\n".encode())
        await writer.drain()
        body = await reader.read()
        writer.close()
        return body


async def read_stream(reader, journey_id, received, ready):
    """Record when each event after the first (the state on connecting) arrived, by the
    version it shows (from its `id:`, the view's order): the server renders several changes
    at once as one event, the newest, so an event is matched to that version's publish."""
    buffer, first = b"", True
    while chunk := await reader.read(65536):
        arrived = time.perf_counter()  # CLOCK_MONOTONIC: one clock for all processes here
        *events, buffer = (buffer + chunk).split(b"\n\n")
        for event in events:
            if b"event:" not in event:
                continue  # retry, heartbeats
            if first:
                first = False
                ready.add(journey_id)
            elif found := ORDER.search(event):  # a published view's order: twice its version
                received[journey_id].append((int(found.group(1)) // 2, arrived))


class ClientFailed(str):
    """What ended a client process early, sent to the parent instead of its answer."""


def _answer(connection):
    """A client process's answer; its failure, or its end without one, ends the run."""
    try:
        answer = connection.recv()
    except EOFError:
        raise SystemExit("a stream client process ended without answering") from None
    if isinstance(answer, ClientFailed):
        raise SystemExit(f"a stream client process failed: {answer}")
    return answer


def stream_client(connection, port, cookie_name, streams, open_s):
    """A client process holding `streams` [(journey id, cookie)] open: it says how many are
    open, then records every event until told to stop, and answers with the arrival times."""
    connection.recv()  # "open": the web processes are up
    try:
        asyncio.run(_stream_client(connection, port, cookie_name, streams, open_s))
    except Exception as exc:  # noqa: BLE001  (the parent reports it and ends the run)
        connection.send(ClientFailed(f"{type(exc).__name__}: {exc}"))
    os._exit(0)  # nothing of the parent's (its database connections) is this process's to close


async def _stream_client(connection, port, cookie_name, streams, open_s):
    client = Client(port, cookie_name)
    received, ready, writers = defaultdict(list), set(), []
    for index, (journey_id, cookie) in enumerate(streams):
        reader, writer = await client.open(f"/reis/{journey_id}/events", cookie)
        writers.append(writer)
        asyncio.create_task(read_stream(reader, journey_id, received, ready))
        if index % 200 == 199:
            await asyncio.sleep(0.05)  # let the server keep up with the connects
    deadline = time.monotonic() + open_s
    while len(ready) < len(streams) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    connection.send(len(ready))
    await asyncio.to_thread(connection.recv)  # stop
    for writer in writers:
        writer.close()
    connection.send(dict(received))


async def poll(client, journey_id, cookie, changed_at, latencies, stop):
    """Poll the step every 500 ms; when it shows a change, record how long ago it was made."""
    last = None
    await asyncio.sleep(random.random() * POLL_INTERVAL_S)
    while not stop.is_set():
        body = await client.get(f"/reis/{journey_id}/stap", cookie)
        seen = time.perf_counter()
        if last is not None and body != last and (made := changed_at.pop(journey_id, None)):
            latencies.append(seen - made)
        last = body
        await asyncio.sleep(POLL_INTERVAL_S)


async def publish_events(engine, redis_client, streamed, polled, rate_per_s, duration_s,
                         published, changed_at):
    """One real change + publish per journey per second, spread over the second; returns
    how many events went to the streamed journeys."""
    journeys = streamed + polled
    polled_set = set(polled)
    views = journey_views()
    step = {journey_id: random.randrange(len(views)) for journey_id in journeys}
    tick_s = 0.05
    per_tick = max(1, round(len(journeys) * rate_per_s * tick_s))
    status = {journey_id: "waiting" for journey_id in journeys}
    position = sent_to_streams = 0
    deadline = time.perf_counter() + duration_s
    next_tick = time.perf_counter()
    while time.perf_counter() < deadline:
        batch = [journeys[(position + i) % len(journeys)] for i in range(per_tick)]
        position += per_tick
        flips = {j: "fetched" if status[j] == "waiting" else "waiting" for j in batch}
        status.update(flips)
        await asyncio.to_thread(_change, engine, flips)
        pipe = redis_client.pipeline(transaction=False)
        for journey_id in batch:
            step[journey_id] += 1
            view = dataclasses.replace(views[step[journey_id] % len(views)], journey_id=journey_id,
                                       version=step[journey_id], published=True)
            pipe.publish(f"journey:{journey_id}", json.dumps({"data": {
                "journey": journey_id, "view": view.to_json()}}))
        now = time.perf_counter()
        for journey_id in batch:
            if journey_id in polled_set:
                changed_at[journey_id] = now
            else:
                published[journey_id][step[journey_id]] = now  # the view's version
        sent_to_streams += sum(journey_id not in polled_set for journey_id in batch)
        await asyncio.to_thread(pipe.execute)
        next_tick += tick_s
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    return sent_to_streams


def journey_views():
    """The progress views (journeys.progress_view) a desktop receives, in order, in a journey
    with a partner: every state change and every source fetched."""
    S = JourneyState
    views = []

    def add(state, applicant_fetched, partner_fetched):
        fetches = tuple(SourceProgress(role, source.key, FetchStatus.FETCHED if n < done
                                       else FetchStatus.WAITING)
                        for role, done in ((Role.APPLICANT, applicant_fetched),
                                           (Role.PARTNER, partner_fetched))
                        for n, source in enumerate(SOURCES))
        views.append(ProgressView(journey_id="", state=state, phone_only=False, has_partner=True,
                                  gemeente_code="GM0193", fetches=fetches))

    add(S.PHONE_CONNECTED, 0, 0)
    for fetched in range(len(SOURCES) + 1):
        add(S.FETCHING_APPLICANT, fetched, 0)
    add(S.AWAITING_PARTNER, len(SOURCES), 0)
    for fetched in range(len(SOURCES) + 1):
        add(S.FETCHING_PARTNER, len(SOURCES), fetched)
    for state in (S.REVIEWING, S.SENDING, S.DELIVERED, S.DONE):
        add(state, len(SOURCES), len(SOURCES))
    return views


def _change(engine, flips):
    with engine.begin() as connection:
        for new_status in ("fetched", "waiting"):
            ids = [j for j, s in flips.items() if s == new_status]
            if ids:
                connection.execute(text(
                    "UPDATE source_fetch SET status = :s WHERE source = 'mijnoverheid' "
                    "AND role = 'applicant' AND journey_id = ANY(:ids)"), {"s": new_status, "ids": ids})


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


STREAMS_PER_CLIENT = 8000  # a client process's sockets, well under a per-process limit


def start_clients(port, cookie_name, cookies, streamed, open_s):
    """The streams' client processes, each holding at most STREAMS_PER_CLIENT: one process
    would need a socket per stream, past the per-process limit of open files at 20,000."""
    clients = []
    context = multiprocessing.get_context("fork")  # before any event loop or thread
    for start in range(0, len(streamed), STREAMS_PER_CLIENT):
        share = [(j, cookies[j]) for j in streamed[start:start + STREAMS_PER_CLIENT]]
        ours, theirs = context.Pipe()
        process = context.Process(target=stream_client, daemon=True,
                                  args=(theirs, port, cookie_name, share, open_s))
        process.start()
        clients.append((process, ours))
    return clients


async def run(args, port, cookie_name, cookies, engine, master_pid, streamed, clients):
    import redis
    redis_client = redis.Redis.from_url(args.redis_url)
    streamed_set = set(streamed)
    polled = [j for j in cookies if j not in streamed_set]
    client = Client(port, cookie_name)
    published, changed_at, poll_latencies = defaultdict(dict), {}, []  # journey: {version: time}

    before_mb = rss_mb(worker_pids(master_pid))
    for process, connection in clients:
        connection.send("open")
    opened = sum([await asyncio.to_thread(_answer, connection) for _, connection in clients])
    print(f"{opened} of {len(streamed)} streams open", flush=True)
    after_mb = rss_mb(worker_pids(master_pid))

    stop = asyncio.Event()
    pollers = [asyncio.create_task(poll(client, j, cookies[j], changed_at, poll_latencies, stop))
               for j in polled]
    cpu_before = cpu_s(worker_pids(master_pid))
    sent = await publish_events(engine, redis_client, streamed, polled, args.rate,
                                args.duration, published, changed_at)
    await asyncio.sleep(1)
    web_cpu_s = cpu_s(worker_pids(master_pid)) - cpu_before
    stop.set()
    await asyncio.gather(*pollers, return_exceptions=True)
    latencies = []
    for _, connection in clients:
        try:
            connection.send("stop")
        except BrokenPipeError:  # it ended early; its answer says why
            pass
        received = await asyncio.to_thread(_answer, connection)
        for journey_id, arrivals in received.items():
            latencies += [arrived - published[journey_id][version]
                          for version, arrived in arrivals if version in published[journey_id]]
    return latencies, poll_latencies, sent, (after_mb - before_mb), web_cpu_s


def raise_fd_limit(needed, up_to=None):
    """An open stream is a file descriptor at each end: raise this process's limit (and so its
    children's) to at least `needed`, up to `up_to` where the hard limit allows, as a
    deployment raises its service's (LimitNOFILE, minfds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(needed, min(up_to or needed, hard))
    if soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        raise SystemExit(f"{needed} file descriptors are needed, the limit is {soft} (hard {hard}): "
                         f"raise it (ulimit -n {needed}, as root or with a higher hard limit)") from None


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.live_updates")
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--pollers", type=int, default=5)
    parser.add_argument("--duration", type=float, default=30, help="seconds of publishing")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=float, default=1.0, help="events per stream per second")
    rate.add_argument("--interval", type=float, help="seconds between a stream's events")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn gevent workers")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    cleanup_on_sigterm()
    if args.interval:
        args.rate = 1 / args.interval
    # Each stream is a socket in a web process (which inherits the limit) and one in a client
    # process (STREAMS_PER_CLIENT at most); the connections are not spread evenly over the web
    # processes, so each may hold them all, within the hard limit.
    per_web = args.streams // args.web_workers + 1000
    raise_fd_limit(max(per_web, min(STREAMS_PER_CLIENT, args.streams) + args.pollers + 1000),
                   up_to=args.streams + args.pollers + 1000)

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if url == DEFAULT_URL:
        fresh_database(url)
    instance = tempfile.mkdtemp(prefix="ocktoreis-bench-")
    env = {**os.environ, "OCKTOREIS_ENV": "acceptance", "DATABASE_URL": url,
           "REDIS_URL": args.redis_url, "SECRET_KEY": SECRET_KEY,
           "OCKTOREIS_INSTANCE": instance, "PURGE_SWEEP_S": "0", "JOURNEY_TTL_HOURS": "1000",
           # every stream comes from this one address
           "SSE_STREAMS_PER_ADDRESS": str(args.streams + args.pollers + 100)}
    env.pop("RABBITMQ_URL", None)  # no jobs run in this benchmark

    # This process only builds the schema and makes the cookies.
    app = create_app({"OCKTOREIS_ENV": "development", "DATABASE_URL": url,
                      "SECRET_KEY": SECRET_KEY, "INSTANCE_DIR": instance,
                      "SIMULATORS": False, "RABBITMQ_URL": None, "REDIS_URL": None})
    cookies = make_journeys(app, args.streams + args.pollers)
    engine = create_engine(url, pool_size=4)

    port = free_port()
    streamed = list(cookies)[:args.streams]
    # The clients fork before this process starts threads or an event loop; they wait to be told.
    clients = start_clients(port, app.config["SESSION_COOKIE_NAME"], cookies, streamed,
                            open_s=max(120, args.streams / 100))
    web = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--worker-class", "gevent",
         "--workers", str(args.web_workers), "--worker-connections", str(args.streams + 500),
         "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "2", "--log-level", "warning",
         "wsgi:app"], cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit("the web processes did not start")
                time.sleep(0.2)
        latencies, poll_latencies, sent, grown_mb, web_cpu_s = asyncio.run(
            run(args, port, app.config["SESSION_COOKIE_NAME"], cookies, engine, web.pid,
                streamed, clients))
    finally:
        cleaning_up()
        stop_group(web)
        for process, _ in clients:
            process.kill()
        engine.dispose()

    ms = [1000 * v for v in latencies] or [float("nan")]
    poll_ms = [1000 * v for v in poll_latencies] or [float("nan")]  # a short run may see none
    print(f"events published to streams: {sent} (one per stream every {1 / args.rate:g} s), "
          f"received: {len(ms)}")
    print(f"stream latency ms: p50 {statistics.median(ms):.1f}, p90 {percentile(ms, 90):.1f}, "
          f"p99 {percentile(ms, 99):.1f}, max {max(ms):.1f}")
    print(f"polling every {POLL_INTERVAL_S * 1000:.0f} ms, {len(poll_ms)} changes seen: "
          f"p50 {statistics.median(poll_ms):.1f} ms, p99 {percentile(poll_ms, 99):.1f} ms")
    print(f"web processes grew by {grown_mb:.0f} MB for {args.streams} open streams, and used "
          f"{web_cpu_s:.1f} CPU seconds while the events were published")
    print(f"live_updates streams={args.streams} p50_ms={statistics.median(ms):.1f} "
          f"p99_ms={percentile(ms, 99):.1f} polling_p50_ms={statistics.median(poll_ms):.1f} "
          f"rss_mb_per_1000_streams={grown_mb / (args.streams / 1000):.1f} "
          f"web_cpu_us_per_event={1e6 * web_cpu_s / max(sent, 1):.0f}")


if __name__ == "__main__":
    main()
