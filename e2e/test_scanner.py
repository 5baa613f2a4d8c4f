"""Step 7 in the app: the in-app scanner reads the desktop's QR code through a camera;
without a camera the short pairing code does it."""

import pytest
import qrcode
from playwright.sync_api import expect

from webapp.simulators.population import HENK

from .a11y import check_axe
from .camera import write_y4m
from .conftest import phone_device
from .steps import phone_step_done, to_qr_code

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone_with_camera(launch_browser, browser_type_launch_args, browser_context_args,
                      _artifacts_recorder, playwright, tmp_path):
    """A phone whose camera films the given PNG picture: a Chromium of its own, started with
    the plugin's launch_browser and a fake camera; its context is traced and screenshotted
    like the plugin's own (through the plugin's artifacts recorder)."""
    browsers, contexts = [], []

    def start(picture_png):
        video = write_y4m(picture_png, tmp_path / "camera.y4m")
        browsers.append(launch_browser(args=[
            *browser_type_launch_args.get("args", []), "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]))
        context = browsers[-1].new_context(**browser_context_args, **phone_device(playwright, "Pixel 7"),
                                           permissions=["camera"])
        _artifacts_recorder.on_did_create_browser_context(context)
        contexts.append(context)
        context.set_default_timeout(20_000)
        return context.new_page()

    yield start
    try:
        for context in contexts:
            _artifacts_recorder.on_will_close_browser_context(context)
            context.close()
    finally:
        for browser in browsers:
            browser.close()


def test_the_app_scans_the_desktops_qr_code_and_the_desktop_follows(desktop, phone_with_camera, tmp_path):
    to_qr_code(desktop, HENK)
    desktop.locator("#pairing-qr").screenshot(path=str(tmp_path / "qr.png"))
    phone = phone_with_camera(tmp_path / "qr.png")
    phone.goto("/app/scan")
    has_detector = phone.evaluate("() => 'BarcodeDetector' in window")
    print("decoder:", "BarcodeDetector (if it knows qr_code), else jsQR" if has_detector else "jsQR")

    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    assert phone.url.endswith("/app/")  # the pairing token left the address bar
    phone_step_done(desktop, "phone")
    expect(desktop.locator("#announcer")).to_contain_text("Uw telefoon is gekoppeld")


def test_a_qr_code_of_another_site_is_not_followed(phone_with_camera, base_url, tmp_path):
    qrcode.make("https://example.org/app/koppel/abc").save(tmp_path / "other.png")
    phone = phone_with_camera(tmp_path / "other.png")
    phone.goto("/app/scan")
    expect(phone.locator("#scan-status")).to_contain_text("Dit is geen QR-code van Ockto")
    assert phone.url == f"{base_url}/app/scan"
    expect(phone.locator("#scanner-video")).to_be_visible()
    check_axe(phone, "7 app: scannen, camera aan")


def test_without_a_camera_the_app_explains_and_pairs_with_the_code(desktop, phone):
    to_qr_code(desktop, HENK)
    code = desktop.get_by_test_id("pairing-code").inner_text()
    phone.goto("/app/scan")
    expect(phone.locator("#scan-status")).to_contain_text("Typ hieronder de koppelcode")
    expect(phone.get_by_role("button", name="Camera aanzetten")).to_be_visible()

    field = phone.get_by_label("Koppelcode")
    field.fill("ABCD-EFGH")
    phone.get_by_role("button", name="Koppelen").click()
    expect(phone.get_by_role("alert")).to_contain_text("Deze code klopt niet of is verlopen")
    expect(phone.get_by_label("Koppelcode")).to_have_value("ABCD-EFGH")

    phone.get_by_label("Koppelcode").fill(code.lower())
    phone.get_by_role("button", name="Koppelen").click()
    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    phone_step_done(desktop, "phone")
