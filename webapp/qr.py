"""QR codes: the desktop's pairing code as SVG, made with qrcode (its data encoding, error
correction and layout), the mask chosen as qrcode chooses it in half the time."""

import functools
import re

import qrcode
import qrcode.util


def svg(data, border=2):
    """`data` as a QR code in SVG, one module per unit: dark runs of each row as one path on
    white (a third of the bytes of qrcode's own SVG, which draws every module apart)."""
    code = _QRCode(border=border)
    code.add_data(data)
    code.make(fit=True)
    rows = code.get_matrix()
    size = len(rows)
    runs = []
    for y, row in enumerate(rows):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
            f'shape-rendering="crispEdges"><path fill="#fff" d="M0 0h{size}v{size}H0z"/>'
            f'<path d="{"".join(runs)}"/></svg>')


class _QRCode(qrcode.QRCode):
    """qrcode's QR code, its mask chosen as qrcode chooses it (the lowest penalty, as ISO/IEC
    18004 asks) at half the cost: qrcode lays out the whole symbol once per mask; this lays
    out the data once and flips, for each other mask, the modules where the masks differ."""

    def best_mask_pattern(self):
        self.makeImpl(True, 0)
        unmasked_by_0 = self.modules
        best, lowest = 0, None
        for mask, flips in enumerate(_mask_flips(self.version)):
            modules = [row[:] for row in unmasked_by_0]
            for row, col in flips:
                modules[row][col] = not modules[row][col]
            lost = penalty(modules)
            if lowest is None or lost < lowest:
                best, lowest = mask, lost
        return best


_RUN = re.compile(rb"0{5,}|1{5,}")  # N1: five or more modules of one colour in a line
_FINDER_LIKE = re.compile(rb"(?=10111010000|00001011101)")  # N3: 1:1:3:1:1 beside 4 light
_BITS = bytes.maketrans(b"\x00\x01", b"01")


def penalty(modules):
    """The mask penalty of ISO/IEC 18004 (8.8.2) as qrcode reckons it (qrcode.util.lost_point,
    the same number: tests/unit/test_qr_svg.py), on every row and column as a string of bits."""
    size = len(modules)
    rows = [bytes(row).translate(_BITS) for row in modules]
    lines = rows + [bytes(column).translate(_BITS) for column in zip(*modules)]
    points = sum(len(run) - 2 for line in lines for run in _RUN.findall(line))
    points += 40 * sum(len(_FINDER_LIKE.findall(line)) for line in lines)
    # N2: each 2x2 block of one colour, found with the rows as integers.
    numbers = [int(row, 2) for row in rows]
    pairs = (1 << (size - 1)) - 1
    for upper, lower in zip(numbers, numbers[1:]):
        same_down = ~(upper ^ lower)
        points += 3 * (same_down & (same_down >> 1) & ~(upper ^ (upper >> 1)) & pairs).bit_count()
    # N4: 10 points for each 5% the share of dark modules is away from half.
    dark = sum(row.count(b"1") for row in rows)
    return points + int(abs(dark / size ** 2 * 100 - 50) / 5) * 10


@functools.cache
def _mask_flips(version):
    """For each mask, the data modules of a `version` symbol where it differs from mask 0:
    the modules qrcode's layout leaves empty for the data (after the format and version
    information), in which mask 0 and that mask disagree."""
    code = qrcode.QRCode(version=version)
    code.modules_count = size = version * 4 + 17
    code.modules = [[None] * size for _ in range(size)]
    code.setup_position_probe_pattern(0, 0)
    code.setup_position_probe_pattern(size - 7, 0)
    code.setup_position_probe_pattern(0, size - 7)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    code.setup_type_info(True, 0)
    if version >= 7:
        code.setup_type_number(True)
    data = [(row, col) for row in range(size) for col in range(size) if code.modules[row][col] is None]
    masks = [qrcode.util.mask_func(mask) for mask in range(8)]
    return tuple(tuple((row, col) for row, col in data if masks[0](row, col) != masks[mask](row, col))
                 for mask in range(8))
