"""Benchmark the pairing QR code: `python -m bench.qr [--times 200]`.

Draws the QR codes of N pairing URLs as the desktop's QR step does (a production-length URL:
an https host, /app/koppel/ and a 43-character token; each URL differs, as each journey's
does), first with qrcode's own choice of mask, then with ours (webapp.qr), which must give
the same symbols. The last line is `qr codes=N qrcode_ms=A ours_ms=B`, CPU time per code.
"""

import argparse
import secrets
import time

import qrcode

from webapp import qr


def _cpu_ms_per_code(draw, urls):
    started = time.process_time()
    symbols = [draw(url) for url in urls]
    return 1000 * (time.process_time() - started) / len(urls), symbols


def _theirs(url):
    code = qrcode.QRCode(border=2)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def _ours(url):
    code = qr._QRCode(border=2)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.qr")
    parser.add_argument("--times", type=int, default=200)
    args = parser.parse_args()
    urls = [f"https://ockto.gezondverzekerd.nl/app/koppel/{secrets.token_urlsafe(32)}"
            for _ in range(args.times)]
    _ours(urls[0])  # the mask flips of this version, made once per process
    theirs_ms, theirs = _cpu_ms_per_code(_theirs, urls)
    ours_ms, ours = _cpu_ms_per_code(_ours, urls)
    svg_ms, _svgs = _cpu_ms_per_code(qr.svg, urls)
    if ours != theirs:
        raise SystemExit("our symbols differ from qrcode's")
    print(f"the same {len(urls)} symbols; qr.svg (ours and the SVG) {svg_ms:.2f} ms per code")
    print(f"qr codes={len(urls)} qrcode_ms={theirs_ms:.2f} ours_ms={ours_ms:.2f}")


if __name__ == "__main__":
    main()
