"""Behind proxies: with TRUSTED_PROXIES set, the client's address, the scheme, the host and
the port come from the last proxies' X-Forwarded-* headers; without it, from the peer.

Each client here reaches the app as nginx on this host would pass it on (the peer 127.0.0.1,
the real client in X-Forwarded-For); e2e/test_behind_nginx.py does it with nginx itself.
The addresses are documentation addresses (TEST-NET-3), written in headers only.
"""

import re
import secrets

import pytest

from webapp import create_app, db
from webapp.ratelimit import DEFAULT_RULES
from webapp.simulators.population import HENK

from .conftest import PHONE_UA, embedded_settings
from .helpers import Walk, local

PUBLIC_HOST = "ockto.example"


@pytest.fixture
def app_config():
    return {"TRUSTED_PROXIES": 1, "RATE_LIMITS": DEFAULT_RULES}


def through_nginx(client, address, forwarded_for=None):
    """`client` as nginx passes it on: the peer is nginx; the client's address appended to
    whatever X-Forwarded-For the client sent itself; https on the public host."""
    client.environ_base.update({
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": ", ".join([*filter(None, [forwarded_for]), address]),
        "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": PUBLIC_HOST,
        "HTTP_X_FORWARDED_PORT": "443"})
    return client


def _pair_attempts(client, count):
    return [client.get(f"/app/koppel/{secrets.token_urlsafe(32)}").status_code for _ in range(count)]


def test_the_qr_code_and_digids_return_are_built_with_the_public_scheme_and_host(app, run_jobs):
    desktop = through_nginx(app.test_client(), "203.0.113.10")
    phone = through_nginx(app.test_client(), "203.0.113.11")
    phone.environ_base["HTTP_USER_AGENT"] = PHONE_UA
    walk = Walk(app, desktop, phone, run_jobs)
    walk.start(walk.apply(HENK))
    desktop.post(f"{walk.journey_url}/checklist")
    page = desktop.post(f"{walk.journey_url}/app-klaar", follow_redirects=True).text
    pairing_url = re.search(r'href="([^"]+)" data-testid="pairing-url"', page).group(1)
    assert pairing_url.startswith(f"https://{PUBLIC_HOST}/app/koppel/")  # no :443, no http

    assert phone.get(local(pairing_url)).status_code == 303
    # DigiD's return is the assertion consumer service registered in our SAML metadata: at
    # PUBLIC_URL whatever host a request came in on (the AuthnRequest names it by index).
    to_digid = phone.get("/app/digid")
    assert "SAMLRequest=" in to_digid.headers["Location"]
    metadata = phone.get("/saml/metadata").text
    assert f'Location="{app.config["PUBLIC_URL"]}/app/digid/terug"' in metadata


def test_rate_limits_count_the_real_client_and_a_forged_forwarded_for_changes_nothing(app):
    limited = through_nginx(app.test_client(), "203.0.113.20")
    assert _pair_attempts(limited, 10) == [410] * 10  # unknown codes ("verlopen"): counted all the same
    assert _pair_attempts(limited, 1) == [429]
    other = through_nginx(app.test_client(), "203.0.113.21")
    assert _pair_attempts(other, 1) == [410]
    # The limited client claims to be the other one: nginx appends the real address, and only
    # the last hop is trusted.
    forging = through_nginx(app.test_client(), "203.0.113.20", forwarded_for="203.0.113.21")
    assert _pair_attempts(forging, 1) == [429]


def test_pages_for_this_machine_only_are_refused_to_a_client_behind_a_local_proxy(app):
    remote = through_nginx(app.test_client(), "203.0.113.30")
    assert remote.get("/metrics").status_code == 404
    assert remote.get("/dev/outbox").status_code == 404
    local_client = through_nginx(app.test_client(), "127.0.0.1")
    assert local_client.get("/metrics").status_code == 200
    assert local_client.get("/dev/outbox").status_code == 200


def test_without_trusted_proxies_the_forwarded_headers_are_ignored(tmp_path):
    app = create_app({**embedded_settings(tmp_path), "RATE_LIMITS": DEFAULT_RULES})
    try:
        client = app.test_client()
        statuses = []
        for n in range(11):  # a client that makes up a new address each time
            client.environ_base.update({"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}",
                                        "HTTP_X_FORWARDED_PROTO": "https",
                                        "HTTP_X_FORWARDED_HOST": PUBLIC_HOST})
            statuses += _pair_attempts(client, 1)
        assert statuses == [410] * 10 + [429]
    finally:
        db.dispose(app)
