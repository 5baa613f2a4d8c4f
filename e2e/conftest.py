"""Playwright journeys in Debian's Chromium against a real server, on pytest-playwright.

The plugin's fixtures (`browser`, `context`, `page`, `new_context`, `launch_browser`) and
flags (`--headed`, `--browser-channel`, `--tracing`, `--screenshot`, `--output`) work as in
any Playwright suite; this file only sets what the journeys need:

- the browser: Debian's Chromium (or `CHROMIUM`) unless `--browser-channel` chooses one,
  with CHROMIUM_ARGS;
- every context: the base URL and locale nl-NL (`browser_context_args`); the plugin's
  `context`/`page` is a 1280x900 desktop, `phone` a Pixel 7;
- the system under test: `--base-url URL` runs against that deployment (it needs
  SIMULATORS, DEV_PAGES and RATE_LIMITS_OFF on, and ACCEPTANCE_MODE for the reminder
  journey); without it `python -m webapp` is started on a free port with a fresh instance
  folder. OCKTOREIS_E2E_DATABASE_URL: the deployment's database, for the "nothing kept"
  check (known automatically for the self-started server); OCKTOREIS_E2E_GEMEENTE_PASSWORD:
  the staff password of Zwolle's inbox there (the self-started server is given a new one);
  OCKTOREIS_E2E_OPERATOR_PASSWORD: the operators' dashboard password there (likewise).
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.services import free_port
from webapp.operations import password_hash
from webapp.simulators.gemeente import staff_password_hash

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}
LOCALE = "nl-NL"
TIMEOUT_MS = 15_000


def pytest_configure(config):
    if os.environ.get("OCKTOREIS_BASE_URL"):
        raise pytest.UsageError("OCKTOREIS_BASE_URL is no longer read: pass --base-url "
                                f"{os.environ['OCKTOREIS_BASE_URL']} instead")
    if config.getoption("--device", default=None):
        raise pytest.UsageError("--device does not apply to the journeys: each chooses its "
                                "own (a 1280x900 desktop, a Pixel 7, ...)")


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
def server(pytestconfig, tmp_path_factory):
    """(base URL, database URL or None, whether it is ours alone) of the system under test."""
    # --base-url (or the base_url ini value or PYTEST_BASE_URL, as pytest-base-url reads them)
    if base_url := pytestconfig.getoption("--base-url") or pytestconfig.getini("base_url"):
        yield base_url.rstrip("/"), os.environ.get("OCKTOREIS_E2E_DATABASE_URL"), False
        return
    instance = tmp_path_factory.mktemp("instance")
    port = free_port()
    staff_password = secrets.token_urlsafe(12)  # Zwolle's, as QA would configure it
    operator_password = secrets.token_urlsafe(12)  # the dashboard's, likewise
    env = {**os.environ, "OCKTOREIS_INSTANCE": str(instance), "SOURCE_SIM_LATENCY_MS": "300",
           "DEV_PAGES": "1", "RATE_LIMITS_OFF": "1", "ACCEPTANCE_MODE": "1", "DELIVERY_RETRIES": "1", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "GEMEENTE_STAFF_PASSWORDS": json.dumps(
               {"GM0193": staff_password_hash("GM0193", staff_password)}),
           "OPERATOR_PASSWORD_HASH": password_hash(operator_password)}
    for name in ("DATABASE_URL", "INBOX_DATABASE_URL", "OUTBOX_DIR", "RABBITMQ_URL", "REDIS_URL",
                 "MAIL_SERVER", "DIGID_URL", "SOURCES_URL", "GEMEENTE_URL", "SIMULATORS"):
        env.pop(name, None)  # the self-started server runs on the embedded defaults
    log = open(instance / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", process)
        with pytest.MonkeyPatch.context() as patch:  # where the steps read it, as against QA
            patch.setenv("OCKTOREIS_E2E_GEMEENTE_PASSWORD", staff_password)
            patch.setenv("OCKTOREIS_E2E_OPERATOR_PASSWORD", operator_password)
            yield f"http://127.0.0.1:{port}", f"sqlite:///{instance / 'ocktoreis.db'}", True
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def base_url(server):
    """The plugin's (and pytest-base-url's) base_url: --base-url, else the self-started server."""
    return server[0]


@pytest.fixture(scope="session")
def database_url(server):
    return server[1]


@pytest.fixture(scope="session")
def self_started(server):
    """True without --base-url: the suite started the server itself."""
    return server[2]


@pytest.fixture(scope="session")
def whole_database_is_ours(self_started):
    """True for the self-started server: then every row of every table is searched."""
    return self_started


def _chromium_executable():
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, browser_name):
    """The plugin's launch options (--headed, --browser-channel, --slowmo) for Chromium with
    CHROMIUM_ARGS; Debian's Chromium unless a channel is chosen (Playwright cannot download
    its own browsers on these machines)."""
    if browser_name != "chromium":
        return browser_type_launch_args
    options = {**browser_type_launch_args,
               "args": [*CHROMIUM_ARGS, *browser_type_launch_args.get("args", [])]}
    if "channel" not in options:
        options.setdefault("executable_path", _chromium_executable())
    return options


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Every context (the plugin's base URL included) speaks Dutch."""
    return {**browser_context_args, "locale": LOCALE}


@pytest.fixture
def context(new_context):
    """The plugin's `context`, as a desktop browser window of 1280x900."""
    context = new_context(viewport=DESKTOP_VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def desktop(page):
    """A desktop page (1280x900, nl-NL) at the system under test: the plugin's `page`."""
    return page


@pytest.fixture
def phone(new_context, playwright):
    """A page on a Pixel 7, in a context of its own (traced like every context)."""
    context = new_context(**phone_device(playwright, "Pixel 7"))
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def phone_device(playwright, name):
    """Playwright's device settings for Chromium (WebKit's iPhones are emulated in Chromium)."""
    if name == "Android 360x640":
        pixel = playwright.devices["Pixel 5"]
        return {**pixel, "viewport": {"width": 360, "height": 640},
                "screen": {"width": 360, "height": 640}}
    device = dict(playwright.devices[name])
    device.pop("default_browser_type", None)
    return device


def pytest_terminal_summary(terminalreporter):
    from .a11y import RESULTS, results_table
    if RESULTS:
        terminalreporter.write_sep("-", "axe-core results per page")
        terminalreporter.write_line(results_table())
