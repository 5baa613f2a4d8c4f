"""The dossier as one readable, accessible PDF for the municipality's staff: the applicant
and partner, each source's data as the customer reviewed it (the same rows), with the source
and the moment it was fetched, the consent, Ockto's delivery id and the indicative check.

Set by webapp.tagged_pdf: a tagged PDF (headings, paragraphs and tables in its structure tree)
with a text layer, so staff can search, copy and read it aloud.
"""

import dataclasses
from datetime import datetime

from . import tagged_pdf
from .domain.indication import LABEL, Indication
from .domain.sources import BY_KEY, describe
from .tagged_pdf import MM, TEXT_WIDTH, Cell, Paragraph, Run, Style, Table, text


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


H1 = Style(size=16, bold=True)
H2 = Style(size=13, bold=True)
H3 = Style(size=11, bold=True)
META = Style(size=9, grey=0.267)
BODY = Style()
STRONG = Style(bold=True)
NOTICE_FRAME = (0.710, 0.506, 0.0)  # #b58100


def _when(moment):
    return moment.strftime("%d-%m-%Y om %H:%M")


def _h2(title):
    return text(title, H2, tag="H2", space_before=8 * MM, space_after=2 * MM, rule_below=0.6)


def _h3(title):
    return text(title, H3, tag="H3", space_before=5 * MM, space_after=1 * MM)


def _meta(line):
    return text(line, META, space_after=1 * MM)


def _rows(rows):
    """A two-column table of (term, value): the terms as row headers."""
    return Table(tuple((Cell(term, header="Row"), Cell(value)) for term, value in rows),
                 widths=(0.45, 0.55))


def blocks(d):
    """The dossier in reading order: headings, paragraphs and tables."""
    found = [
        text("Gegevens voor de gemeentepolis", H1, tag="H1", space_after=4 * MM),
        _meta(f"Gemeente {d.gemeente_naam}. Aangeleverd met de Ockto app."),
        _meta(f"Kenmerk van Ockto: {d.delivery_id}"),
        _meta(f"Toestemming gegeven op {_when(d.consent_at)} (UTC), voor de gegevens hieronder."),
    ]
    for person in d.people:
        role = "Aanvrager" if person.role == "applicant" else "Partner"
        found += [_h2(f"{role}: {person.name}"), _meta(f"BSN {person.bsn}")]
        for source in person.sources:
            found += [_h3(source.name),
                      _meta(f"Opgehaald bij {source.name} op {_when(source.fetched_at)} (UTC)"),
                      _rows(source.rows)]
    if (i := d.indication) is not None:
        estimate = " (schatting, geen officieel bedrag)" if i.norm.estimate else ""
        found += [
            _h2(f"Indicatieve toets ({LABEL})"),
            text(f"Dit is een {LABEL}: een hulpmiddel voor de medewerker, gemaakt uit de gegevens "
                 "hierboven. De gemeente beslist zelf. De burger heeft deze toets niet gezien.",
                 BODY, space_before=2 * MM, space_after=2 * MM, frame=NOTICE_FRAME),
            _rows((("Huishouden", i.household),
                   ("Bijstandsnorm (netto per maand)",
                    f"{money(i.norm_amount)}, vanaf {i.norm.start.strftime('%d-%m-%Y')}{estimate}"),
                   ("Bron van de norm", i.norm.source),
                   (f"Inkomensgrens ({i.rules.percent}% van de norm)",
                    f"{money(i.income_limit)} (regel: {i.rules.source})"))),
            _h3("Inkomen"),
            _amounts((Cell("Post", header="Column"), Cell("Herkomst", header="Column"),
                      Cell("Bedrag per maand", header="Column", align="right")),
                     i.income, "Totaal", i.income_total),
        ]
        if i.assets_below is not None:
            found += [_h3("Vermogen"),
                      _amounts(None, i.assets, f"Totaal, grens {money(i.assets_limit)}",
                               i.assets_total)]
        else:
            found.append(text("De gemeente telt vermogen niet mee.", space_after=3 * MM))
        found.append(Paragraph((Run(f"Uitkomst ({LABEL}): ", STRONG), Run(i.outcome, BODY)),
                               space_before=2 * MM))
    return found


def _amounts(head, facts, total_label, total):
    """A table of amounts: each fact's label, origin and amount, then the total."""
    amount_width = 9 * BODY.size / TEXT_WIDTH  # 9 em
    rows = [] if head is None else [head]
    rows += [(Cell(f.label), Cell(f.origin), _amount(f.amount)) for f in facts]
    rows.append((Cell(total_label, header="Row"), Cell(""), _amount(total)))
    return Table(tuple(rows), widths=((1 - amount_width) / 2, (1 - amount_width) / 2, amount_width),
                 head=head is not None)


def _amount(amount):
    """An amount on one line, right-aligned."""
    return Cell(money(amount).replace(" ", "\xa0"), align="right")


def render(document):
    """The PDF's bytes."""
    return tagged_pdf.render(
        blocks(document), title=f"Dossier gemeentepolis {document.delivery_id}", author="Ockto",
        subject="Gegevens voor de gemeentepolis, aangeleverd met de Ockto app", language="nl",
        footer=lambda page, pages: f"pagina {page} van {pages}")
