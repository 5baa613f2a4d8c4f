"""HTTP to the outside systems: DigiD's back channel and metadata, the sources, the
municipality (webapp.saml, webapp.outside, webapp.zgw).

One pool of kept-open connections per process and TLS setting, shared by all its threads and
greenlets (urllib3's PoolManager is made for that): a login, a fetch or a delivery finds the
connection the one before it left open, where a new one costs a handshake, over two-way TLS
to DigiD a costly one. urllib3 directly, not requests on top of it: requests reads the
environment's proxy settings again for every request, and its layers about double a call's
CPU (`python -m bench.outbound`).

Like requests: redirects are followed (at most 10; Authorization is not sent to another
host), a request is never sent twice, and the proxies of the environment (`https_proxy`,
`http_proxy`, `no_proxy`, read once per process) are used. Certificates are checked against
the system's CA certificates unless a bundle is given. Nothing is kept between requests but
the connections: no cookies.
"""

import json as jsonlib
import threading
import urllib.request
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

import urllib3

# Connections kept open to one host, and hosts kept (a municipality's own ZGW host each);
# more at once are made and closed after use.
KEPT_PER_HOST, HOSTS_KEPT = 10, 50
# A request is sent once (a POST to a source or the municipality must not be repeated
# behind the caller's back); redirects are followed, as requests does.
_ONCE = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=10,
                      raise_on_redirect=True)


class Unanswered(Exception):
    """No answer: no connection, a broken one, too many redirects, or the time ran out. Its
    message names the kind of failure only (never an address's query or a body)."""


class Answer(NamedTuple):
    status: int
    data: bytes

    def json(self):
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.data)

    @property
    def text(self):
        return self.data.decode("utf-8", errors="replace")


def request(method, url, *, timeout, params=None, json=None, body=None, headers=None,
            client_cert=None, ca_bundle=None):
    """Send one request and read the whole answer. `json` is sent as JSON, `body` as it is;
    `params` are added to the query (those that are None left out). Over https, `client_cert` (certificate path, key path)
    is shown to the server (two-way TLS), and the server's certificate is checked against
    `ca_bundle` (a path) or the system's CA certificates. Raises Unanswered."""
    headers = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers.setdefault("Content-Type", "application/json")
    if params := {name: value for name, value in (params or {}).items() if value is not None}:
        url += ("&" if urlsplit(url).query else "?") + urlencode(params, doseq=True)
    parts = urlsplit(url)
    pool = _pool(_proxy_for(parts.scheme, parts.hostname or ""), client_cert, ca_bundle)
    try:
        answer = pool.request(method, url, body=body, headers=headers, retries=_ONCE,
                              timeout=urllib3.Timeout(connect=timeout, read=timeout))
    except urllib3.exceptions.MaxRetryError as exc:
        raise Unanswered(type(exc.reason).__name__ if exc.reason else "TooManyRedirects") from None
    except urllib3.exceptions.HTTPError as exc:
        raise Unanswered(type(exc).__name__) from None
    return Answer(answer.status, answer.data)


_pools = {}
_pools_lock = threading.Lock()


def _pool(proxy, client_cert, ca_bundle):
    """The process's pool for this proxy and TLS setting, made once."""
    key = (proxy, client_cert, ca_bundle)
    if (pool := _pools.get(key)) is None:
        with _pools_lock:
            if (pool := _pools.get(key)) is None:
                tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca_bundle}
                if client_cert:
                    tls.update(cert_file=client_cert[0], key_file=client_cert[1])
                sizes = {"num_pools": HOSTS_KEPT, "maxsize": KEPT_PER_HOST}
                pool = _pools[key] = (urllib3.ProxyManager(proxy, **sizes, **tls) if proxy
                                      else urllib3.PoolManager(**sizes, **tls))
    return pool


@lru_cache(maxsize=1)
def _environment_proxies():
    return urllib.request.getproxies_environment()


@lru_cache(maxsize=256)
def _proxy_for(scheme, host):
    """The proxy the environment names for this scheme and host, or None (also for a host
    that `no_proxy` lists)."""
    proxies = _environment_proxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(host, proxies):
        return None
    return proxy


def forget_pools():
    """Close every kept connection and read the environment's proxies again (tests, and a
    process that forked)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.clear()
        _pools.clear()
    _environment_proxies.cache_clear()
    _proxy_for.cache_clear()
