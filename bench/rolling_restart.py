"""Measure a rolling restart: `python -m bench.rolling_restart [--streams 300]`.

nginx (ops/nginx/ocktoreis.conf.template, TLS from a throw-away CA) in front of two web
processes (the Procfile's `web` line, one gevent worker each) on PostgreSQL (DATABASE_URL, or
a local database `ocktoreis_bench_restart` made afresh) and a Redis of its own. N desktop
event streams, each its own journey and cookie, are opened through nginx by clients that
behave as EventSource does: when a stream ends they wait the stream's `retry` (2 s) and
connect again. Then each web process in turn gets SIGTERM, is started again, and the next
one stops only once nginx sends it requests again.

For every stream a restart ended it prints: how long after the SIGTERM the stream ended
(`ended_ms`), how long from the reconnect request to the first event, the current state
(`reconnect_ms`), and from the end to that state (`gap_ms`, the 2 s retry included). Also
how long a stopping process took to exit, reconnects that were answered with an error, and
nginx's 5xx answers. The last line is
`rolling_restart streams=N cut=C gap_p50_ms=… gap_max_ms=… reconnect_p50_ms=… reconnect_p99_ms=… failed=F nginx_5xx=X`.
"""

import argparse
import asyncio
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.live_updates import fresh_database, make_journeys, percentile
from bench.processes import cleaning_up, cleanup_on_sigterm, stop_group
from tests.nginx import Nginx, make_certificates
from tests.services import PrivateRedis, free_port
from webapp import create_app, db

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ocktoreis_bench_restart"
SECRET_KEY = "bench-rolling-restart-secret-of-32-characters"


class Stream:
    """One desktop's event stream, reconnecting as a browser's EventSource does."""

    def __init__(self, journey_id, cookie):
        self.journey_id, self.cookie = journey_id, cookie
        self.retry_s = 3.0  # EventSource's default until the stream says otherwise
        self.connected = asyncio.Event()
        self.sessions = []  # [first request, first event (the state), end] per stream answered
        self.failures = 0  # connection attempts answered otherwise than 200

    def ended(self):
        return sum(1 for session in self.sessions if session[2] is not None)

    async def run(self, port, cookie_name, context, stop):
        asked = None
        while not stop.is_set():
            asked = asked or time.perf_counter()  # the first attempt since the last end
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
                writer.write(f"GET /reis/{self.journey_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                             f"Accept: text/event-stream\r\nCookie: {cookie_name}={self.cookie}\r\n\r\n"
                             .encode())
                status = await reader.readline()
            except OSError:
                status, writer = b"", None
            if b" 200 " not in status:
                self.failures += 1
                if writer:
                    writer.close()
                await asyncio.sleep(self.retry_s)
                continue
            session = [asked, None, None]
            self.sessions.append(session)
            asked = None
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            async for line in _lines(reader, stop):
                if line.startswith(b"retry:"):
                    self.retry_s = int(line[6:]) / 1000
                elif line.startswith(b"event:") and session[1] is None:
                    session[1] = time.perf_counter()
                    self.connected.set()
            session[2] = time.perf_counter()
            writer.close()
            if not stop.is_set():
                await asyncio.sleep(self.retry_s)  # as the browser does


async def _lines(reader, stop):
    """The stream's lines (chunked transfer encoding read loosely: only the lines matter)."""
    while not stop.is_set():
        line = await reader.readline()
        if not line or line == b"0\r\n":
            return
        yield line.strip()


def start_web(port, env, folder):
    process = subprocess.Popen([str(ROOT / "bin" / "procfile-run"), "web"], cwd=ROOT, start_new_session=True,
                               env={**env, "PORT": str(port), "WEB_CONCURRENCY": "1",
                                    "LOG_FORMAT": "json"},
                               stdout=subprocess.DEVNULL,
                               stderr=open(folder / f"web-{port}.log", "a"))
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2)
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the web process on {port} did not start: see {folder}")
            time.sleep(0.2)


def nginx_uses(nginx, port, context):
    """Wait until nginx sends requests to the web process on `port` again."""
    deadline = time.monotonic() + 60
    while not any("/health/live " in line and f"upstream=127.0.0.1:{port}:200" in line
                  for _, line in nginx.statuses()):
        if time.monotonic() > deadline:
            raise SystemExit(f"nginx never used {port} again")
        urllib.request.urlopen(f"{nginx.url}/health/live", timeout=5, context=context).read()
        time.sleep(0.1)


async def run(args, streams, cookie_name, nginx, ports, env, context):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(stream.run(nginx.port, cookie_name, context, stop)) for stream in streams]
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in streams)), 120)
    print(f"{len(streams)} streams open through nginx", flush=True)
    webs, restarts = list(args.webs), []
    for index, port in enumerate(ports):
        ended_before = {id(s): s.ended() for s in streams}
        sigterm = time.perf_counter()
        webs[index].send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(webs[index].wait, 60)
        exited = time.perf_counter()
        cut = [s for s in streams if s.ended() > ended_before[id(s)]]
        deadline = time.monotonic() + 120  # until every cut stream shows the state again
        while time.monotonic() < deadline and any(
                len(s.sessions) <= ended_before[id(s)] + 1 or s.sessions[ended_before[id(s)] + 1][1] is None
                for s in cut):
            await asyncio.sleep(0.05)
        restarts.append((port, sigterm, exited - sigterm, exit_code, cut, ended_before))
        webs[index] = await asyncio.to_thread(start_web, port, env, args.folder)
        await asyncio.to_thread(nginx_uses, nginx, port, context)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    args.webs[:] = webs
    return restarts


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.rolling_restart")
    parser.add_argument("--streams", type=int, default=300)
    args = parser.parse_args()
    cleanup_on_sigterm()

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if url == DEFAULT_URL:
        fresh_database(url)
    folder = Path(tempfile.mkdtemp(prefix="ocktoreis-bench-restart-"))
    redis = PrivateRedis(folder)
    redis.start()
    ca_file, cert_file, key_file = make_certificates(folder / "tls")
    context = ssl.create_default_context(cafile=str(ca_file))
    ports = [free_port(), free_port()]
    (folder / "nginx").mkdir()
    nginx = Nginx(folder / "nginx", [f"127.0.0.1:{port}" for port in ports], cert_file, key_file)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "OCKTOREIS_ENV": "acceptance", "DATABASE_URL": url,
           "REDIS_URL": redis.url, "SECRET_KEY": SECRET_KEY, "OCKTOREIS_INSTANCE": str(folder),
           "PURGE_SWEEP_S": "0", "JOURNEY_TTL_HOURS": "1000", "TRUSTED_PROXIES": "1",
           "PUBLIC_URL": nginx.url, "SSE_STREAMS_PER_ADDRESS": str(args.streams + 100),
           "WEB_CONNECTIONS": str(args.streams + 500)}
    env.pop("RABBITMQ_URL", None)  # no jobs run in this benchmark

    app = create_app({"OCKTOREIS_ENV": "development", "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY,
                      "INSTANCE_DIR": str(folder), "SIMULATORS": False, "RABBITMQ_URL": None,
                      "REDIS_URL": None})
    cookies = make_journeys(app, args.streams)
    db.dispose(app)
    args.webs, args.folder = [], folder
    try:
        args.webs += [start_web(port, env, folder) for port in ports]
        nginx.start()
        streams = [Stream(journey_id, cookie) for journey_id, cookie in cookies.items()]
        restarts = asyncio.run(run(args, streams, app.config["SESSION_COOKIE_NAME"], nginx, ports,
                                   env, context))
    finally:
        cleaning_up()
        try:
            nginx.stop()
        finally:
            for web in args.webs:
                stop_group(web, timeout_s=60)
            redis.stop()

    gaps, reconnects, endings = [], [], []
    for port, sigterm, exit_s, exit_code, cut, ended_before in restarts:
        for stream in cut:
            n = ended_before[id(stream)]
            end = stream.sessions[n][2]
            request, state = stream.sessions[n + 1][0], stream.sessions[n + 1][1]
            endings.append(1000 * (end - sigterm))
            gaps.append(1000 * (state - end))
            reconnects.append(1000 * (state - request))
        print(f"web process on {port}: exited {exit_s * 1000:.0f} ms after SIGTERM (code {exit_code}),"
              f" {len(cut)} streams ended")
    failed = sum(stream.failures for stream in streams)
    errors = [line for status, line in nginx.statuses() if status >= 500]
    print(f"streams ended after the SIGTERM: p50 {statistics.median(endings):.0f} ms, "
          f"max {max(endings):.0f} ms")
    print(f"reconnect to the current state: p50 {statistics.median(reconnects):.1f} ms, "
          f"p99 {percentile(reconnects, 99):.1f} ms, max {max(reconnects):.1f} ms")
    print(f"end to the current state again (the 2 s retry included): p50 "
          f"{statistics.median(gaps):.0f} ms, max {max(gaps):.0f} ms")
    print(f"reconnects answered with an error: {failed}; nginx 5xx answers: {len(errors)}")
    print(f"rolling_restart streams={len(streams)} cut={len(gaps)} gap_p50_ms={statistics.median(gaps):.0f} "
          f"gap_max_ms={max(gaps):.0f} reconnect_p50_ms={statistics.median(reconnects):.1f} "
          f"reconnect_p99_ms={percentile(reconnects, 99):.1f} failed={failed} nginx_5xx={len(errors)}")


if __name__ == "__main__":
    main()
