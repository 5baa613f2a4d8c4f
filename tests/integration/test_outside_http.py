"""The HTTP boundary to DigiD, the sources and the municipality (webapp.outbound, used by
webapp.outside, webapp.zgw and webapp.saml): a process keeps its connections open for all
its threads, sends no cookie back, sends a request once, follows a GET's redirects only,
takes the environment's proxy, and speaks two-way TLS to DigiD over a kept connection."""

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webapp import outbound, outside, saml


class Counting(http.server.BaseHTTPRequestHandler):
    """Answers {"ok": true} and a cookie; counts connections, request lines and cookies.
    /hang answers nothing and closes, /traag waits for `release`, /weg redirects
    (`redirect_status`) to `redirect_to`, /nergens is not found, /tekst is not JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive, as every real server here speaks
    connections, lines, cookies, client_certs, authorizations = [], [], [], [], []
    release = threading.Event()
    redirect_to, redirect_status = "/bron", 303
    keep_alive_ending = False

    def setup(self):
        super().setup()
        Counting.connections.append(self.client_address)
        if isinstance(self.connection, ssl.SSLSocket):
            Counting.client_certs.append(self.connection.getpeercert())

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _answer(self):
        Counting.lines.append(self.requestline)
        if Counting.keep_alive_ending and getattr(self, "answered", False):
            self.close_connection = True  # its keep-alive time ran out as the request came
            return
        self.answered = True
        Counting.cookies.append(self.headers.get("Cookie"))
        Counting.authorizations.append((self.headers.get("Authorization"),
                                        self.headers.get("Proxy-Authorization")))
        if self.path.endswith("/hang"):
            self.close_connection = True
            return
        if self.path.endswith("/traag"):
            Counting.release.wait(timeout=10)
        if self.path.endswith("/weg"):
            self.send_response(Counting.redirect_status)
            self.send_header("Location", Counting.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"geen JSON" if self.path.endswith("/tekst") else json.dumps({"ok": True}).encode()
        self.send_response(404 if self.path.endswith("/nergens") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "tracking=1; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(wrap=None):
    """A Counting server (its counts started afresh)."""
    Counting.connections, Counting.lines, Counting.cookies = [], [], []
    Counting.client_certs, Counting.authorizations = [], []
    Counting.release, Counting.redirect_to, Counting.redirect_status = threading.Event(), "/bron", 303
    Counting.keep_alive_ending = False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    if wrap is not None:
        server.socket = wrap(server.socket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(autouse=True)
def fresh_pools(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    outbound.forget_pools()
    yield
    outbound.forget_pools()


@pytest.fixture
def server():
    server = _serve()
    yield f"http://127.0.0.1:{server.server_port}"
    Counting.release.set()
    server.shutdown()
    server.server_close()


def test_calls_one_after_another_share_one_connection_and_send_no_cookie_back(app, server):
    def call():
        with app.app_context():
            assert outside._post_to(f"{server}/bron", {"bsn": "999990019"}) == {"ok": True}

    call()
    for _ in range(2):  # from other threads too: the process's pool, not a thread's
        thread = threading.Thread(target=call)
        thread.start()
        thread.join()
    assert len(Counting.connections) == 1
    assert Counting.cookies == [None, None, None]


def test_calls_at_once_each_have_a_connection_and_the_next_ones_reuse_them(app, server):
    def call(path):
        with app.app_context():
            outside._post_to(f"{server}/{path}", {})

    slow = [threading.Thread(target=call, args=("traag",)) for _ in range(3)]
    for thread in slow:
        thread.start()
    deadline = time.monotonic() + 10
    while len(Counting.lines) < 3:  # all three are being answered
        assert time.monotonic() < deadline, Counting.lines
        threading.Event().wait(0.01)
    Counting.release.set()
    for thread in slow:
        thread.join()
    for _ in range(3):
        call("bron")
    assert len(Counting.connections) == 3 and len(Counting.lines) == 6


def test_a_request_that_gets_no_answer_is_not_sent_again(app, server):
    with app.app_context(), pytest.raises(outside.OutsideSystemError) as raised:
        outside._post_to(f"{server}/hang", {"bsn": "999990019"})
    with pytest.raises(outbound.Unanswered):  # a GET neither (a ZGW look-up, DigiD's metadata)
        outbound.request("GET", f"{server}/hang", timeout=5)
    assert Counting.lines == ["POST /hang HTTP/1.1", "GET /hang HTTP/1.1"]
    assert "999990019" not in str(raised.value)


def test_no_server_an_error_and_no_json_are_outside_system_errors(app, server):
    closed = _serve()
    address = f"http://127.0.0.1:{closed.server_port}/bron"
    closed.shutdown()
    closed.server_close()
    with app.app_context():
        with pytest.raises(outside.OutsideSystemError, match="NewConnectionError"):
            outside._post_to(address, {})
        with pytest.raises(outside.OutsideSystemError, match="HTTP 404"):
            outside._post_to(f"{server}/nergens", {})
        with pytest.raises(outside.OutsideSystemError, match="not JSON"):
            outside._post_to(f"{server}/tekst", {})


def test_a_kept_connection_idle_too_long_is_not_used(app, server, monkeypatch):
    monkeypatch.setattr(outbound, "IDLE_S", 0)
    for _ in range(2):
        assert outbound.request("POST", f"{server}/bron", json={}, timeout=5).status == 200
    assert len(Counting.connections) == 2 and len(Counting.lines) == 2


def test_a_kept_connection_is_let_go_before_a_servers_keep_alive_time_ends(app, server, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(outbound, "_now", lambda: clock[0])
    assert outbound.request("POST", f"{server}/bron", json={}, timeout=5).status == 200
    clock[0] += 3  # idle for a moment: the connection is used again
    assert outbound.request("POST", f"{server}/bron", json={}, timeout=5).status == 200
    assert len(Counting.connections) == 1
    # A server closes a connection idle for its keep-alive time (5 s in Apache's default and
    # in our gunicorn.conf.py), and a request sent on it just then is lost: 4.5 s idle is
    # already too close to that.
    Counting.keep_alive_ending = True
    clock[0] += 4.5
    with app.app_context():
        assert outside._post_to(f"{server}/bron", {}) == {"ok": True}
    assert len(Counting.connections) == 2 and len(Counting.lines) == 3


def test_a_get_follows_redirects_without_authorization_to_another_host(server):
    other = _serve_another()
    try:
        bearer = {"Authorization": "Bearer geheim"}
        answer = outbound.request("GET", f"{server}/weg", headers=bearer, timeout=5)
        assert answer.status == 200 and answer.json() == {"ok": True}
        Counting.redirect_to = f"http://127.0.0.1:{other.server_port}/bron"  # another port
        assert outbound.request("GET", f"{server}/weg", headers=bearer, timeout=5).status == 200
    finally:
        other.shutdown()
        other.server_close()
    assert Counting.lines == ["GET /weg HTTP/1.1", "GET /bron HTTP/1.1"] * 2
    assert [auth for auth, _proxy in Counting.authorizations] == [
        "Bearer geheim", "Bearer geheim", "Bearer geheim", None]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_post_is_not_sent_where_a_redirect_points(app, server, status):
    Counting.redirect_status = status  # to /bron, which answers: a POST followed would show
    with app.app_context(), pytest.raises(outside.OutsideSystemError, match=f"HTTP {status}"):
        outside._post_to(f"{server}/weg", {"bsn": "999990019"})
    assert Counting.lines == ["POST /weg HTTP/1.1"]


def test_a_header_we_cannot_send_is_our_error_not_the_outside_systems(server):
    with pytest.raises(ValueError):
        outbound.request("POST", f"{server}/bron", headers={"Authorization": "Bearer a\nb"},
                         timeout=5)
    assert Counting.lines == []


def _serve_another():
    """A second Counting server, counting into the same lists as the first."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_environments_proxy_is_taken_with_its_credentials_and_no_proxy_respected(
        server, monkeypatch):
    direct = _serve_another()
    try:
        monkeypatch.setenv("http_proxy", "user:geheim@" + server.removeprefix("http://"))
        monkeypatch.setenv("no_proxy", "nietvia.example,127.0.0.0/8")
        outbound.forget_pools()
        assert outbound.request("POST", "http://bron.example/api/duo", json={}, timeout=5).status == 200
        assert outbound.request("GET", f"http://127.0.0.1:{direct.server_port}/bron",
                                timeout=5).status == 200
    finally:
        direct.shutdown()
        direct.server_close()
    # The proxy gets the absolute form, with the proxy's credentials; the range goes direct.
    assert Counting.lines == ["POST http://bron.example/api/duo HTTP/1.1", "GET /bron HTTP/1.1"]
    assert Counting.authorizations == [(None, "Basic dXNlcjpnZWhlaW0="), (None, None)]


def test_a_proxy_that_cannot_be_used_is_no_answer_not_an_error_of_ours(app, monkeypatch):
    monkeypatch.setenv("https_proxy", "socks5://127.0.0.1:1080")
    outbound.forget_pools()
    with app.app_context(), pytest.raises(outside.OutsideSystemError, match="ProxySchemeUnknown"):
        outside._post_to("https://bron.example/api/duo", {})


def _certificate(folder, name, issuer_key=None, issuer=None, ca=False):
    """(certificate path, key path) for `name` (127.0.0.1 too), signed by `issuer`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    certificate = builder.sign(issuer_key or key, hashes.SHA256())
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path), key, subject


def test_digids_back_channel_shows_our_certificate_and_keeps_its_connection(app, tmp_path):
    ca_cert, _ca_key_path, ca_key, ca_name = _certificate(tmp_path, "DigiD CA", ca=True)
    server_cert, server_key, *_ = _certificate(tmp_path, "digid", ca_key, ca_name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert, server_key)
    context.verify_mode = ssl.CERT_REQUIRED  # two-way TLS, as DigiD's back channel
    sp_key, sp_cert = saml._sp_keys(app.config)
    context.load_verify_locations(sp_cert)
    server = _serve(lambda sock: context.wrap_socket(sock, server_side=True))
    app.config["SAML_IDP_CA_BUNDLE"] = ca_cert
    url = f"https://127.0.0.1:{server.server_port}/artifact"
    try:
        with app.app_context():
            for _ in range(2):
                assert saml._soap(url, "<x/>") == b'{"ok": true}'
            app.config["SAML_IDP_CA_BUNDLE"] = None  # the system's CAs do not know this one
            with pytest.raises(saml.Unreachable, match="SSLError"):
                saml._soap(url, "<x/>")
    finally:
        server.shutdown()
        server.server_close()
    # Two calls over one connection; the third refused DigiD's certificate in its handshake.
    assert len(Counting.lines) == 2 and len(Counting.connections) == 1
    subject = dict(field for rdn in Counting.client_certs[0]["subject"] for field in rdn)
    assert subject["commonName"] == "Ocktoreis SP (development)"
