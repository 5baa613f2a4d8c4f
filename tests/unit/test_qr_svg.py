"""The desktop's QR code as drawn: exactly the modules qrcode computed, dark on white.
(e2e/test_scanner.py films it with a camera and decodes it.)"""

import random
import re
import string

import qrcode
from qrcode.util import lost_point

from webapp import qr

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
    svg = qr.svg(URL)
    size = len(matrix)
    assert f'viewBox="0 0 {size} {size}"' in svg
    assert f'<path fill="#fff" d="M0 0h{size}v{size}H0z"/>' in svg
    assert _dark_cells(svg) == {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


def _qrcode_own(data):
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    code.make(fit=True)
    return code


def test_the_mask_is_the_one_qrcode_chooses_for_every_size():
    """Our choice of mask (qr._QRCode) gives qrcode's own symbol, module for module: from
    version 1 to 16, with and without the version information (7 and up)."""
    versions = set()
    for length in range(1, 400, 7):
        data = "".join(random.Random(length).choice(string.ascii_letters + "/:.-_") for _ in range(length))
        theirs = _qrcode_own(data)
        ours = qr._QRCode(border=2)
        ours.add_data(data)
        ours.make(fit=True)
        versions.add(theirs.version)
        assert ours.version == theirs.version
        assert ours.get_matrix() == theirs.get_matrix(), (length, theirs.version)
    assert min(versions) == 1 and max(versions) >= 12


def test_the_penalty_is_qrcodes_on_any_pattern():
    """qr.penalty reckons as qrcode.util.lost_point on random symbols of every darkness,
    and on the lines that score in each rule alone."""
    rng = random.Random(7)
    for size in (21, 25, 37, 57):
        for darkness in (0.05, 0.3, 0.5, 0.7, 0.95):
            modules = [[rng.random() < darkness for _ in range(size)] for _ in range(size)]
            assert qr.penalty(modules) == lost_point(modules), (size, darkness)
    finder_like = [[c in (0, 2, 3, 4, 6) for c in range(21)] for _ in range(21)]
    checkered = [[(r + c) % 2 == 0 for c in range(21)] for r in range(21)]
    blocks = [[(r // 2 + c // 2) % 2 == 0 for c in range(21)] for r in range(21)]
    for modules in (finder_like, checkered, blocks):
        assert qr.penalty(modules) == lost_point(modules)
