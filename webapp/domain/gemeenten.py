"""The Dutch municipalities (CBS codes, 2026) and the search over their names."""

import csv
import dataclasses
import functools
import unicodedata
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "gemeenten.csv"


@dataclasses.dataclass(frozen=True)
class Gemeente:
    code: str
    naam: str
    provincie: str


def _fold(text):
    """Lower case without accents, so 'sudwest' finds Súdwest-Fryslân."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.cache
def all_gemeenten():
    """Every municipality, sorted by name."""
    with DATA_FILE.open(encoding="utf-8", newline="") as f:
        rows = [Gemeente(r["code"], r["naam"], r["provincie"]) for r in csv.DictReader(f)]
    return tuple(sorted(rows, key=lambda g: _fold(g.naam)))


@functools.cache
def _by_code():
    return {g.code: g for g in all_gemeenten()}


def by_code(code):
    """The municipality with this CBS code, or None."""
    return _by_code().get(code)


def by_name(name):
    """The municipality with exactly this name (case and accents ignored), or None."""
    folded = _fold(name.strip())
    return next((g for g in all_gemeenten() if _fold(g.naam) == folded), None)


def search(query, limit=8):
    """Municipalities whose name starts with the query first, then those containing it."""
    folded = _fold(query.strip())
    if not folded:
        return []
    starts = [g for g in all_gemeenten() if _fold(g.naam).startswith(folded)]
    contains = [g for g in all_gemeenten()
                if folded in _fold(g.naam) and not _fold(g.naam).startswith(folded)]
    return (starts + contains)[:limit]
