"""The citizen service number (BSN) and its eleven-test."""


def is_valid_bsn(value):
    """True for nine digits that pass the eleven-test (weights 9..2 and -1)."""
    if len(value) != 9 or not value.isascii() or not value.isdigit() or value == "000000000":
        return False
    digits = [int(c) for c in value]
    total = sum(w * d for w, d in zip(range(9, 1, -1), digits)) - digits[8]
    return total % 11 == 0


def normalise_bsn(value):
    """Strip the spaces, dots and dashes people type; keep everything else for validation."""
    return "".join(c for c in value if c not in " .-")
