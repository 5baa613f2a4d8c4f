"""HTTP to the outside systems: DigiD's back channel and metadata, the sources, the
municipality (webapp.saml, webapp.outside, webapp.zgw).

One pool of kept-open connections per process and TLS setting, shared by all its threads and
greenlets (urllib3's PoolManager is made for that): a login, a fetch or a delivery finds the
connection the one before it left open, where a new one costs a handshake, over two-way TLS
to DigiD a costly one. urllib3 directly, not requests on top of it: requests reads the
environment's proxy settings again for every request, and its layers about double a call's
CPU (`python -m bench.outbound`).

A request is sent once: never again behind the caller's back, not even when a kept
connection turns out to be broken (a source or a municipality must not get a POST twice;
the caller sees Unanswered and its job tries again). So that a request is not sent into a
connection that died while idle (a server, load balancer or NAT drops idle connections, often
silently) or that the server is closing just then (its keep-alive time is up), one idle for
more than IDLE_S is closed rather than used, and TCP keepalive probes the others. Redirects
are followed for GET only (at most 10; `Authorization` is not sent to another host): a POST
carries a BSN, a dossier or a signed artifact, which must not go to whatever address a 301
or 302 names, so a 3xx answer to it is returned as it is.
Proxies come from the environment (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`
with host names, domains and address ranges; credentials in the proxy's URL; read once per
process). Certificates are checked against the system's CA certificates unless a bundle is
given (a file, or a folder prepared with `openssl rehash`). Nothing is kept between requests
but the connections: no cookies.
"""

import ipaddress
import json as jsonlib
import os
import socket
import threading
import time
import urllib.request
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote, urlencode, urlsplit

import urllib3
from urllib3.connection import HTTPConnection

# Connections kept open to one host, and hosts kept (a municipality's own ZGW host each);
# more at once are made and closed after use.
KEPT_PER_HOST, HOSTS_KEPT = 32, 50
# A kept connection idle longer is closed, not used: shorter than the keep-alive time of the
# servers (5 s in Apache's default and in this app's gunicorn.conf.py; nginx keeps 75 s). A
# server closes a connection idle for its keep-alive time; a request we send on it as it
# does is lost (Unanswered: a DigiD login failed, a source shown as failed). One closed by
# the server earlier is seen closed (urllib3 looks) and not used.
IDLE_S = 4
_FOLLOWED = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=10,
                          raise_on_redirect=True)
_AS_ANSWERED = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=False)
_KEEPALIVE = [*HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
              # a dead peer found within 11 s; a NAT's state kept alive
              *([(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5),
                 (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 3),
                 (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)] if hasattr(socket, "TCP_KEEPIDLE") else [])]


class Unanswered(Exception):
    """No answer: no connection, a broken one, too many redirects, or the time ran out. Its
    message names the kind of failure only (never an address's query or a body)."""


class Answer(NamedTuple):
    status: int
    data: bytes

    def json(self):
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.data)


_now = time.monotonic  # how long a connection stood idle (a test moves it on)


class _ClosesIdle:
    """A connection pool that closes a connection idle for more than IDLE_S when it is
    taken (urllib3 then connects afresh)."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        if (not connection.is_closed
                and _now() - getattr(connection, "ocktoreis_returned_at", 0) > IDLE_S):
            connection.close()
        return connection

    def _put_conn(self, connection):
        if connection is not None:
            connection.ocktoreis_returned_at = _now()
        super()._put_conn(connection)


class _HTTPPool(_ClosesIdle, urllib3.HTTPConnectionPool):
    pass


class _HTTPSPool(_ClosesIdle, urllib3.HTTPSConnectionPool):
    pass


def request(method, url, *, timeout, params=None, json=None, body=None, headers=None,
            client_cert=None, ca_bundle=None):
    """Send one request and read the whole answer. `json` is sent as JSON, `body` as it is;
    `params` are added to the query (those that are None left out). Over https,
    `client_cert` (certificate path, key path) is shown to the server (two-way TLS), and the
    server's certificate is checked against `ca_bundle` (a file, or a folder prepared with
    `openssl rehash`) or the system's CA certificates. A GET follows redirects; any other
    method gets a 3xx answer as it is. Raises Unanswered."""
    headers = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers.setdefault("Content-Type", "application/json")
    if params := {name: value for name, value in (params or {}).items() if value is not None}:
        url += ("&" if urlsplit(url).query else "?") + urlencode(params, doseq=True)
    follow = method == "GET"
    parts = urlsplit(url)
    try:
        pool = _pool(_proxy_for(parts.scheme, parts.hostname or ""), client_cert, ca_bundle)
    except ValueError as exc:  # a proxy address it cannot read, or a scheme it cannot speak
        raise Unanswered(type(exc).__name__) from None
    try:
        answer = pool.request(method, url, body=body, headers=headers, redirect=follow,
                              retries=_FOLLOWED if follow else _AS_ANSWERED,
                              timeout=urllib3.Timeout(connect=timeout, read=timeout))
    except urllib3.exceptions.MaxRetryError as exc:
        raise Unanswered("TooManyRedirects" if isinstance(exc.reason, urllib3.exceptions.ResponseError)
                         else type(exc.reason).__name__) from None
    except urllib3.exceptions.HTTPError as exc:
        raise Unanswered(type(exc).__name__) from None
    return Answer(answer.status, answer.data)


_pools = {}
_pools_lock = threading.Lock()


def _pool(proxy, client_cert, ca_bundle):
    """The process's pool for this proxy ((URL, credentials) or None) and TLS setting, made
    once."""
    key = (proxy, client_cert, ca_bundle)
    if (pool := _pools.get(key)) is None:
        with _pools_lock:
            if (pool := _pools.get(key)) is None:
                settings = {"num_pools": HOSTS_KEPT, "maxsize": KEPT_PER_HOST,
                            "socket_options": _KEEPALIVE, "cert_reqs": "CERT_REQUIRED",
                            ("ca_cert_dir" if ca_bundle and os.path.isdir(ca_bundle) else "ca_certs"): ca_bundle}
                if client_cert:
                    settings.update(cert_file=client_cert[0], key_file=client_cert[1])
                if proxy:
                    url, credentials = proxy
                    headers = urllib3.make_headers(proxy_basic_auth=credentials) if credentials else None
                    pool = urllib3.ProxyManager(url, proxy_headers=headers, **settings)
                else:
                    pool = urllib3.PoolManager(**settings)
                pool.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
                _pools[key] = pool
    return pool


@lru_cache(maxsize=1)
def _environment_proxies():
    return urllib.request.getproxies_environment()


@lru_cache(maxsize=256)
def _proxy_for(scheme, host):
    """(the proxy's URL, its "user:password" or None) that the environment names for this
    scheme and host; None for none, or a host `no_proxy` lists."""
    proxies = _environment_proxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if (not proxy or urllib.request.proxy_bypass_environment(host, proxies)
            or _in_ranges(host, proxies.get("no", ""))):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # "proxy:3128", as curl and requests take it
    parts = urlsplit(proxy)
    credentials = (f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                   if parts.username else None)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl(), credentials


def _in_ranges(host, no_proxy):
    """True when `host` is an address in one of the ranges (10.0.0.0/8) `no_proxy` lists."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in no_proxy.split(","):
        try:
            if "/" in entry and address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def forget_pools():
    """Close every kept connection and read the environment's proxies again (tests)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.clear()
        _start_afresh()


def _after_fork():
    """A forked child starts without its parent's connections (its copies of their sockets
    are let go, never used) and with a lock of its own."""
    global _pools_lock
    _pools_lock = threading.Lock()
    _start_afresh()


def _start_afresh():
    _pools.clear()
    _environment_proxies.cache_clear()
    _proxy_for.cache_clear()


os.register_at_fork(after_in_child=_after_fork)
