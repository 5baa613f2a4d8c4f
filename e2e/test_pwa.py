"""The Ockto app is installable: manifest, icons, service worker, offline page, and a
cache that never holds anything personal."""

import io
from urllib.parse import urljoin, urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect

from webapp.simulators.population import HENK

from .steps import digid_login, to_qr_code

pytestmark = pytest.mark.e2e

SHELL_PATHS = {"/app/offline", "/app/offline/en", "/static/manifest.webmanifest",
               "/static/manifest.en.webmanifest", "/static/css/site.css",
               "/static/js/site.js", "/static/js/scan.js", "/static/vendor/htmx-2.0.11.min.js",
               "/static/vendor/htmx-ext-sse-2.2.4.js", "/static/vendor/jsQR-1.4.0.js",
               "/static/icons/icon-192.png", "/static/icons/favicon-32.png"}


def _wait_for_service_worker(page):
    """Wait until the service worker is active and controls this page."""
    page.evaluate("() => navigator.serviceWorker.ready")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def _cached(page):
    """{path: body} of everything in the page's Cache Storage."""
    return page.evaluate("""async () => {
      const found = {};
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
          found[new URL(request.url).pathname] = await (await cache.match(request)).text();
        }
      }
      return found;
    }""")


def test_the_manifest_has_what_android_and_ios_need(phone):
    phone.goto("/app/scan")
    href = phone.locator("link[rel=manifest]").get_attribute("href")
    response = phone.request.get(href)
    assert response.ok
    manifest = response.json()
    assert manifest["name"] == "Ockto app" and manifest["short_name"] == "Ockto"
    assert manifest["scope"] == "/app/" and manifest["start_url"].startswith("/app/")
    assert manifest["display"] == "standalone"
    assert "orientation" not in manifest  # WCAG 1.3.4: the app turns with the phone
    assert manifest["theme_color"] and manifest["background_color"]
    icons = {(icon["sizes"], icon.get("purpose", "any")): icon["src"] for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= icons.keys()
    apple = phone.locator("link[rel=apple-touch-icon]").get_attribute("href")
    for (sizes, _purpose), src in [*icons.items(), (("180x180", "apple"), apple)]:
        icon = phone.request.get(urljoin(phone.url, src))
        assert icon.status == 200 and icon.headers["content-type"] == "image/png", src
        width, height = Image.open(io.BytesIO(icon.body())).size
        assert f"{width}x{height}" == sizes, src


def test_chromium_finds_the_app_installable(phone):
    phone.goto("/app/installeren")
    _wait_for_service_worker(phone)
    cdp = phone.context.new_cdp_session(phone)
    errors = [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
    print("Chromium installability errors:", errors or "none")
    assert not [e for e in errors if e != "in-incognito"], errors  # Playwright's contexts are incognito
    expect(phone.get_by_text("Op een iPhone of iPad: zet de app op uw beginscherm")).to_be_visible()


def test_the_service_worker_controls_the_app_and_caches_nothing_personal(desktop, phone):
    pairing_url = to_qr_code(desktop, HENK)
    phone.goto(pairing_url)
    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    _wait_for_service_worker(phone)
    phone.reload()  # a page loaded through the service worker
    script = phone.evaluate("() => navigator.serviceWorker.controller.scriptURL")
    assert urlsplit(script).path == "/app/sw.js"
    digid_login(phone, HENK)
    card = phone.locator('.source-card[data-source="mijnoverheid"]')
    card.get_by_role("button").click()
    expect(card).to_have_attribute("data-status", "fetched")

    cached = _cached(phone)
    assert "/app/offline" in cached
    assert set(cached) <= SHELL_PATHS, set(cached) - SHELL_PATHS
    for path, body in cached.items():
        for personal in (HENK.name, HENK.bsn, "Verzamelinkomen"):
            assert personal not in body, f"{personal!r} cached in {path}"


def test_without_network_the_app_shows_the_offline_page_not_an_old_copy(phone):
    phone.goto("/app/scan")
    _wait_for_service_worker(phone)
    phone.reload()
    phone.context.set_offline(True)
    try:
        for path in ("/app/", "/app/scan", "/app/start"):
            phone.goto(path)
            expect(phone.get_by_role("heading", name="Geen internetverbinding")).to_be_visible()
            assert urlsplit(phone.url).path == path
    finally:
        phone.context.set_offline(False)
    phone.reload()
    expect(phone.get_by_role("heading", name="Scan de QR-code")).to_be_visible()


def test_in_english_the_manifest_and_the_offline_page_are_english(phone):
    phone.goto("/app/scan")
    _wait_for_service_worker(phone)
    phone.locator('.language-switch button[lang="en"]').click()
    expect(phone.get_by_role("heading", name="Scan the QR code")).to_be_visible()
    manifest = phone.request.get(phone.locator("link[rel=manifest]").get_attribute("href")).json()
    assert manifest["lang"] == "en" and manifest["description"].startswith("Send your income")
    # the page registers the worker again with its language: the English offline page
    phone.wait_for_function(
        "() => (navigator.serviceWorker.controller || {scriptURL: ''}).scriptURL.endsWith('taal=en')")
    phone.context.set_offline(True)
    try:
        phone.goto("/app/")
        expect(phone.get_by_role("heading", name="No internet connection")).to_be_visible()
        expect(phone.locator("html")).to_have_attribute("lang", "en")
    finally:
        phone.context.set_offline(False)
