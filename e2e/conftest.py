"""Playwright journeys in Debian's Chromium against a real server.

OCKTOREIS_BASE_URL set: run against that deployment (it needs SIMULATORS and DEV_PAGES on,
and ACCEPTANCE_MODE for the reminder journey).
Unset: start `python -m webapp` on a free port with a fresh instance folder.
OCKTOREIS_E2E_DATABASE_URL: the deployment's database, for the "nothing kept" check
(known automatically for the self-started server).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url, process, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout_s} s")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """(base URL, database URL or None, whether it is ours alone) of the system under test."""
    if base_url := os.environ.get("OCKTOREIS_BASE_URL"):
        yield base_url.rstrip("/"), os.environ.get("OCKTOREIS_E2E_DATABASE_URL"), False
        return
    instance = tmp_path_factory.mktemp("instance")
    port = _free_port()
    env = {**os.environ, "OCKTOREIS_INSTANCE": str(instance), "SOURCE_SIM_LATENCY_MS": "300",
           "DEV_PAGES": "1", "RATE_LIMITS_OFF": "1", "ACCEPTANCE_MODE": "1", "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    for name in ("DATABASE_URL", "RABBITMQ_URL", "REDIS_URL", "MAIL_SERVER"):
        env.pop(name, None)  # the self-started server runs on the embedded defaults
    log = open(instance / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}", f"sqlite:///{instance / 'ocktoreis.db'}", True
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def base_url(server):
    return server[0]


@pytest.fixture(scope="session")
def database_url(server):
    return server[1]


@pytest.fixture(scope="session")
def whole_database_is_ours(server):
    """True for the self-started server: then every row of every table is searched."""
    return server[2]


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as p:
        yield p


def _chromium_executable():
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=_chromium_executable(), headless=True,
                                         args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def desktop(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900},
                                  locale="nl-NL")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser, base_url, playwright):
    device = playwright.devices["Pixel 7"]
    context = browser.new_context(**device, base_url=base_url, locale="nl-NL")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def phone_device(playwright, name):
    """Playwright's device settings for Chromium (WebKit's iPhones are emulated in Chromium)."""
    if name == "Android 360x640":
        pixel = playwright.devices["Pixel 5"]
        return {**pixel, "viewport": {"width": 360, "height": 640},
                "screen": {"width": 360, "height": 640}}
    device = dict(playwright.devices[name])
    device.pop("default_browser_type", None)
    return device


@pytest.fixture
def launch_chromium(playwright):
    """Start an extra Chromium with more arguments (e.g. a fake camera); closed afterwards."""
    browsers = []

    def launch(*args):
        browsers.append(playwright.chromium.launch(executable_path=_chromium_executable(), headless=True,
                                                   args=[*CHROMIUM_ARGS, *args]))
        return browsers[-1]

    yield launch
    for browser in browsers:
        browser.close()


def pytest_terminal_summary(terminalreporter):
    from .a11y import RESULTS, results_table
    if RESULTS:
        terminalreporter.write_sep("-", "axe-core results per page")
        terminalreporter.write_line(results_table())
