"""CSRF on every state-changing request, the security headers, the CSP and the cookies."""

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from webapp import create_app, db, security
from webapp.simulators.population import SANNE

from .conftest import embedded_settings
from .helpers import Walk, application_form

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"


def plain_client(app):
    """A browser without the helper that adds the CSRF token: what a forged form sends."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def _token(client):
    page = client.get("/").text
    return re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)


def _state_changing_routes(app):
    for rule in app.url_map.iter_rules():
        if {"POST", "PUT", "PATCH", "DELETE"} & rule.methods:
            yield rule


def test_every_state_changing_route_outside_the_simulator_apis_checks_the_token(app):
    client = plain_client(app)
    _token(client)  # the session has a token; the forged request just does not carry it
    checked = []
    for rule in _state_changing_routes(app):
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        response = client.post(path, data={"anything": "1"})
        if path.startswith(security.EXEMPT_PREFIXES):
            assert response.status_code != 403 or "verlopen" not in response.text, path
            continue
        assert response.status_code == 403, path
        assert "Deze pagina is verlopen" in response.text, path
        checked.append(path)
    assert "/aanvraag" in checked and "/app/versturen" in checked and len(checked) >= 15


def test_a_forged_application_is_refused_and_nothing_is_stored(app):
    client = plain_client(app)
    _token(client)
    response = client.post("/aanvraag", data=application_form(SANNE),
                           headers={"X-CSRF-Token": "guessed"})
    assert response.status_code == 403
    assert not list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))


def test_the_page_token_works_in_the_htmx_header_and_in_the_form_field(app):
    client = plain_client(app)
    token = _token(client)
    assert f'name="csrf_token" value="{token}"' in client.get("/").text
    by_header = client.post("/aanvraag", data=application_form(SANNE),
                            headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert by_header.status_code == 204
    by_field = client.post("/aanvraag", data={**application_form(SANNE), "csrf_token": token})
    assert by_field.status_code == 303


def test_another_site_cannot_post_even_with_the_token(app):
    client = plain_client(app)
    token = _token(client)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post("/aanvraag", data=application_form(SANNE),
                               headers={"X-CSRF-Token": token, **headers})
        assert response.status_code == 403, headers
    same = client.post("/aanvraag", data=application_form(SANNE),
                       headers={"X-CSRF-Token": token, "Origin": "http://localhost",
                                "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303


def test_every_page_has_the_security_headers_and_a_csp_without_inline_script(app, desktop):
    response = desktop.get("/")
    headers = response.headers
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] in ("no-referrer", "strict-origin")
    assert "camera=(self)" in headers["Permissions-Policy"]


def test_session_cookie_is_httponly_samesite_and_secure_over_https(app):
    cookie = plain_client(app).get("/").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = create_app({**embedded_settings(Path(app.config["INSTANCE_DIR"])),
                         "PUBLIC_URL": "https://ockto.example"})
    cookie = plain_client(secure).get("/").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    db.dispose(secure)


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix()
                                            for p in TEMPLATES.rglob("*.html")
                                            if p.parent.name != "mail"))
def test_templates_have_no_inline_script_style_or_event_handlers(template):
    text = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "on*= event handler"
    assert not re.search(r"\sstyle\s*=", text), "inline style"
    assert "hx-on" not in text and "javascript:" not in text


def test_the_dev_mail_page_frames_the_mail_with_its_own_strict_policy(app, desktop, walk_apply):
    outbox = desktop.get("/dev/outbox").text
    mail_url = re.search(r'href="(/dev/outbox/[^"]+)"', outbox).group(1)
    page = desktop.get(mail_url)
    assert "srcdoc" not in page.text and f'src="{mail_url}/html"' in page.text
    framed = desktop.get(f"{mail_url}/html")
    assert "script-src" not in framed.headers["Content-Security-Policy"]
    assert "default-src 'none'" in framed.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in framed.headers["Content-Security-Policy"]


@pytest.fixture
def walk_apply(app, desktop, phone, run_jobs):
    Walk(app, desktop, phone, run_jobs).apply(SANNE)


def test_tampered_session_cookie_is_ignored(app, desktop, phone, run_jobs):
    walk = Walk(app, desktop, phone, run_jobs)
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    cookie = phone.get_cookie("ocktoreis")
    tampered = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    thief = plain_client(app)
    thief.set_cookie("ocktoreis", tampered)
    assert thief.get("/app/").status_code == 403
    assert thief.get(walk.journey_url).status_code == 404


def test_another_browser_cannot_read_the_event_streams(app, desktop, phone, run_jobs):
    walk = Walk(app, desktop, phone, run_jobs)
    walk.start(walk.apply(SANNE))
    phone.get(walk.to_qr())
    stranger = app.test_client()
    assert stranger.get(f"{walk.journey_url}/events").status_code == 404
    assert stranger.get(f"{walk.journey_url}/stap").status_code == 404
    assert stranger.get("/app/events").status_code == 403
    assert stranger.get("/app/scherm").status_code == 403
