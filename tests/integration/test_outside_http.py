"""The HTTP boundary to the sources and the municipality (webapp.outside): a worker thread
keeps its connections open between requests, and keeps no cookies."""

import http.server
import json
import threading

import pytest

from webapp import outside


class Counting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as every real server here speaks
    connections, cookies = [], []

    def setup(self):
        super().setup()
        Counting.connections.append(self.client_address)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        Counting.cookies.append(self.headers.get("Cookie"))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "tracking=1; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Counting.connections, Counting.cookies = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_one_thread_reuses_its_connection_and_sends_no_cookie_back(app, server):
    for _ in range(3):
        assert outside._post_to(f"{server}/bron", {"bsn": "999990019"}) == {"ok": True}
    assert len(Counting.connections) == 1
    assert Counting.cookies == [None, None, None]


def test_threads_do_not_share_a_session(app, server):
    sessions = []

    def in_thread():
        with app.app_context():
            outside._post_to(f"{server}/bron", {})
            sessions.append(outside._http())

    threads = [threading.Thread(target=in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sessions[0] is not sessions[1] and len(Counting.connections) == 2
