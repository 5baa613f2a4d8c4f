"""Step 7 in the app: the in-app scanner reads the desktop's QR code through a camera;
without a camera the short pairing code does it."""

import pytest
from playwright.sync_api import expect

from webapp.simulators import population

from .camera import write_y4m
from .conftest import phone_device
from .steps import phone_step_done, to_qr_code

SANNE = population.BY_USERNAME["sanne.bakker"]
HENK = population.BY_USERNAME["henk.mulder"]

pytestmark = pytest.mark.e2e


def test_the_app_scans_the_desktops_qr_code_and_the_desktop_follows(
        desktop, launch_chromium, playwright, base_url, tmp_path):
    to_qr_code(desktop, SANNE)
    desktop.locator("#pairing-qr").screenshot(path=str(tmp_path / "qr.png"))
    video = write_y4m(tmp_path / "qr.png", tmp_path / "qr.y4m")
    camera = launch_chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                             f"--use-file-for-fake-video-capture={video}")
    context = camera.new_context(**phone_device(playwright, "Pixel 7"), base_url=base_url,
                                 locale="nl-NL", permissions=["camera"])
    context.set_default_timeout(20_000)
    phone = context.new_page()
    phone.goto("/app/scan")
    has_detector = phone.evaluate("() => 'BarcodeDetector' in window")
    print("decoder:", "BarcodeDetector (if it knows qr_code), else jsQR" if has_detector else "jsQR")

    expect(phone.get_by_role("heading", name="De app is klaar voor gebruik")).to_be_visible()
    assert phone.url.endswith("/app/")  # the pairing token left the address bar
    phone_step_done(desktop, "phone")
    expect(desktop.locator("#announcer")).to_contain_text("Uw telefoon is gekoppeld")


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
