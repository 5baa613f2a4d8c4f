"""The dossier as one readable, accessible PDF for the municipality's staff: the applicant
and partner, each source's data as the customer reviewed it (the same rows), with the source
and the moment it was fetched, the consent, Ockto's delivery id and the indicative check.

Made with WeasyPrint from an HTML template: a tagged PDF (headings, lists and tables in its
structure tree) with a text layer, so staff can search, copy and read it aloud.
"""

import dataclasses
import functools
import threading
from datetime import datetime
from pathlib import Path

from flask import render_template
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .domain.indication import LABEL, Indication
from .domain.sources import BY_KEY, describe


@dataclasses.dataclass(frozen=True)
class SourceSection:
    key: str
    fetched_at: datetime
    data: dict

    @property
    def name(self):
        return BY_KEY[self.key].name

    @property
    def rows(self):
        return describe(self.key, self.data)


@dataclasses.dataclass(frozen=True)
class PersonSection:
    role: str  # "applicant" or "partner"
    name: str
    bsn: str
    sources: tuple[SourceSection, ...]


@dataclasses.dataclass(frozen=True)
class DossierDocument:
    gemeente_naam: str
    delivery_id: str
    consent_at: datetime
    people: tuple[PersonSection, ...]
    indication: Indication | None


def money(amount):
    """€ 1.678,20: euros and cents the Dutch way."""
    return "€ " + f"{amount:,.2f}".translate(str.maketrans(",.", ".,"))


STYLESHEET = Path(__file__).parent / "templates" / "dossier" / "dossier.css"

# One font configuration per thread (Dramatiq runs actors in threads): it holds a Pango font map
# and caches WeasyPrint fills while laying text out, and Pango's own way to be used from several
# threads is a font map per thread (its default font map is per thread since 1.32.6). Made afresh
# for every render it cost a fontconfig load and the fonts' reopening and shaping caches.
_thread = threading.local()


@functools.cache
def _stylesheet():
    """The dossier's CSS, parsed once per process and shared by every thread: WeasyPrint only
    reads a parsed stylesheet while rendering (it shares its own user-agent sheet the same way),
    and this one has no @font-face, so it is bound to no thread's font configuration."""
    return CSS(filename=STYLESHEET)


def _font_config():
    if (config := getattr(_thread, "font_config", None)) is None:
        config = _thread.font_config = FontConfiguration()
    return config


def render(document):
    """The PDF's bytes."""
    html = render_template("dossier/dossier.html", d=document, label=LABEL, money=money)
    return HTML(string=html).write_pdf(pdf_tags=True, stylesheets=[_stylesheet()],
                                       font_config=_font_config())
