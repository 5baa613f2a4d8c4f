"""Benchmark a call to an outside system: `python -m bench.outbound [--calls 2000]`.

Posts a source's question (a JSON body with a bearer token; an answer of about 300 bytes)
to a keep-alive HTTP server on this machine, as a worker asks a source, first with requests
(a Session kept per thread, as webapp.outside did before webapp.outbound) and then with
webapp.outbound (urllib3, the process's pool). CPU time of the calling thread only (the
server answers in threads of its own), per call. The last line is
`outbound calls=N requests_ms=A outbound_ms=B`.
"""

import argparse
import http.server
import json
import threading
import time

import requests

from webapp import outbound

ANSWER = json.dumps({"bsn": "999990019", "inkomen": [{"jaar": 2025, "bedrag": 31250}] * 8}).encode()


class _Source(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args):
        pass


def _cpu_ms_per_call(call, calls):
    for _ in range(50):  # connections made, code warm
        call()
    started = time.thread_time()
    for _ in range(calls):
        call()
    return 1000 * (time.thread_time() - started) / calls


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.outbound")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/bronnen-sim/api/belastingdienst"
    headers, question = {"Authorization": "Bearer bench"}, {"bsn": "999990019"}
    session = requests.Session()

    def with_requests():
        session.post(url, json=question, headers=headers, timeout=10).json()

    def with_outbound():
        outbound.request("POST", url, json=question, headers=headers, timeout=10).json()

    try:
        requests_ms = _cpu_ms_per_call(with_requests, args.calls)
        outbound_ms = _cpu_ms_per_call(with_outbound, args.calls)
    finally:
        server.shutdown()
        server.server_close()
    print(f"outbound calls={args.calls} requests_ms={requests_ms:.3f} outbound_ms={outbound_ms:.3f}")


if __name__ == "__main__":
    main()
