"""The dossier as one readable, accessible PDF for the municipality's staff: the applicant
and partner, each source's data as the customer reviewed it (the same rows), with the source
and the moment it was fetched, the consent, Ockto's delivery id and the indicative check.

Made with WeasyPrint from an HTML template: a tagged PDF (headings, lists and tables in its
structure tree) with a text layer, so staff can search, copy and read it aloud.
"""

import dataclasses
import functools
from datetime import datetime
from pathlib import Path

from flask import render_template
from weasyprint import CSS, HTML

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


@functools.cache
def _stylesheet():
    """The dossier's CSS, parsed once per process and shared by every thread: WeasyPrint only
    reads a parsed stylesheet while rendering (it shares its own user-agent sheet the same way),
    and this one has no @font-face, so it is bound to no render's font configuration."""
    return CSS(filename=STYLESHEET)


def render(document):
    """The PDF's bytes."""
    html = render_template("dossier/dossier.html", d=document, label=LABEL, money=money)
    return HTML(string=html).write_pdf(pdf_tags=True, stylesheets=[_stylesheet()])
