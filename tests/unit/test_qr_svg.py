"""The desktop's QR code as drawn: exactly the modules qrcode computed, dark on white.
(e2e/test_scanner.py films it with a camera and decodes it.)"""

import re

import qrcode

from webapp.live import qr_svg

URL = "https://ocktoreis.example.nl/app/koppel/" + "x" * 43


def _dark_cells(svg):
    """The (x, y) of every module the runs of the second path cover."""
    cells = set()
    runs = re.findall(r'<path d="([^"]*)"', svg)[-1]
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", runs):
        cells.update((int(x) + i, int(y)) for i in range(int(width)))
    assert re.sub(r"M(\d+) (\d+)h(\d+)v1h-\3z", "", runs) == ""  # nothing else in the path
    return cells


def test_the_svg_draws_exactly_the_dark_modules_on_a_white_square():
    code = qrcode.QRCode(border=2)
    code.add_data(URL)
    code.make(fit=True)
    matrix = code.get_matrix()
    svg = qr_svg(URL)
    size = len(matrix)
    assert f'viewBox="0 0 {size} {size}"' in svg
    assert f'<path fill="#fff" d="M0 0h{size}v{size}H0z"/>' in svg
    assert _dark_cells(svg) == {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
