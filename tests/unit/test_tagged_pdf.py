"""The tagged-PDF writer: its font subsets draw the font's own glyphs, its lines fit their
column, its structure tree reaches every piece of text on every page, and what it cannot draw
it still writes as text."""

import io
import re

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from webapp import tagged_pdf
from webapp.tagged_pdf import Cell, Paragraph, Run, Style, Table, text

LATIN = "".join(map(chr, range(0x20, 0x250))) + "€–—‘’“”…"


@pytest.mark.parametrize("bold", [False, True])
def test_a_subset_draws_the_fonts_own_glyphs_without_hinting(bold):
    font = tagged_pdf.fonts()[bold]
    gids = sorted({font.gid[ord(c)] for c in LATIN if ord(c) in font.gid})
    original = TTFont(tagged_pdf.FONTS / f"{font.name}.ttf")
    subset = TTFont(io.BytesIO(font.subset(gids)), checkChecksums=2)  # each table's checksum
    names, ours = original.getGlyphOrder(), subset.getGlyphOrder()
    assert len(ours) == len(names)  # glyph ids kept
    for gid in gids:
        theirs, mine = original["glyf"][names[gid]], subset["glyf"][ours[gid]]
        theirs.expand(original["glyf"])
        mine.expand(subset["glyf"])
        assert mine.numberOfContours == theirs.numberOfContours, names[gid]
        if theirs.isComposite():
            assert ([ours.index(c.glyphName) for c in mine.components]
                    == [names.index(c.glyphName) for c in theirs.components]), names[gid]
        elif theirs.numberOfContours:
            assert list(mine.coordinates) == list(theirs.coordinates), names[gid]
            assert list(mine.endPtsOfContours) == list(theirs.endPtsOfContours)
            assert not mine.program.getBytecode()
        assert subset["hmtx"][ours[gid]] == original["hmtx"][names[gid]]
    unused = next(g for g in range(1, len(names))
                  if g not in gids and original["glyf"][names[g]].numberOfContours)
    assert subset["glyf"][ours[unused]].numberOfContours == 0  # not used: empty


def test_lines_fit_their_width_and_break_only_where_they_may():
    words = "Schoolstraat 70, 7424\xa0DM Zwolle " * 6 + "Supercalifragilisticexpialidocious" * 3
    lines = tagged_pdf._break_lines((Run(words),), 120)
    font = tagged_pdf.fonts()[0]
    texts = ["".join(piece for _, piece, _ in line) for line in lines]
    assert len(lines) > 5
    assert all(font.width(t, 10) <= 120 for t in texts)
    assert "".join(texts).replace(" ", "") == words.replace(" ", "")
    assert not any(t.endswith("7424") or t.startswith("DM") for t in texts)  # the no-break space


def test_a_word_across_runs_stays_whole_and_control_characters_do_not_show():
    bold = Style(bold=True)
    room = tagged_pdf.fonts()[1].width("Uitkomst: Vet", 10) + 1  # not for "Uitkomst: Vetje"
    lines = tagged_pdf._break_lines((Run("Uitkomst: Vet", bold), Run("je\tnaam\nhier\x00.")), room)
    texts = ["".join(piece for _, piece, _ in line) for line in lines]
    assert texts[:2] == ["Uitkomst:", "Vetje naam"] and "".join(texts[2:]) == "hier."
    assert [run.style.bold for run, _, _ in lines[1]] == [True, False]


def _document(rows=80):
    table = Table(((Cell("Post", header="Column"), Cell("Bedrag", header="Column", align="right")),
                   *((Cell(f"Regel {n}"), Cell(f"€ {n},00", align="right")) for n in range(rows))),
                  widths=(0.7, 0.3), head=True)
    blocks = [text("Kop", Style(size=16, bold=True), tag="H1"),
              Paragraph((Run("Vet: ", Style(bold=True)), Run("en gewoon, met Zhōu 周."),)),
              table, text("Einde")]
    return tagged_pdf.render(blocks, title="Proef", author="Ockto", subject="Een proef",
                             language="nl", footer=lambda n, count: f"pagina {n} van {count}")


def _resolve(value):
    return value.get_object() if isinstance(value, IndirectObject) else value


def test_the_structure_tree_reaches_every_marked_piece_of_every_page():
    reader = PdfReader(io.BytesIO(_document()), strict=True)
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and root["/Lang"] == "nl"
    assert len(reader.pages) >= 2
    tree = root["/StructTreeRoot"]
    found, tags = {}, []
    page_of = {page.indirect_reference.idnum: n for n, page in enumerate(reader.pages)}

    def walk(element):
        tags.append(element["/S"])
        for kid in element["/K"]:
            kid = _resolve(kid)
            if kid.get("/Type") == "/MCR":
                found[(page_of[kid.raw_get("/Pg").idnum], kid["/MCID"])] = element
            else:
                assert _resolve(kid["/P"]) == element
                walk(kid)
    walk(_resolve(tree["/K"]))
    assert tags[:4] == ["/Document", "/H1", "/P", "/Table"] and tags[-1] == "/P"
    assert tags.count("/TR") == 81 and tags.count("/THead") == 1 and tags.count("/TBody") == 1

    parents = tree["/ParentTree"]["/Nums"]
    for n, page in enumerate(reader.pages):
        content = page.get_contents().get_data().decode("latin-1")
        marked = [int(m) for m in re.findall(r"<</MCID (\d+)>> BDC", content)]
        assert marked == list(range(len(marked))) and marked
        assert page["/StructParents"] == n and parents[2 * n] == n
        by_mcid = [_resolve(e) for e in parents[2 * n + 1]]
        assert [found[(n, mcid)] for mcid in marked] == by_mcid
        if n:  # the header row again, as an artifact, not in the structure
            assert content.index("/Artifact BMC BT") < content.index("<</MCID 0>>")
    header = next(e for e in found.values() if e["/S"] == "/TH")
    assert header["/A"]["/Scope"] == "/Column"


def test_the_text_layer_holds_every_piece_in_reading_order_within_the_margins():
    reader = PdfReader(io.BytesIO(_document()))
    text_ = " ".join(page.extract_text() for page in reader.pages)
    assert "Vet: en gewoon, met Zhōu 周." in text_  # 周 is not in the font: drawn empty, still text
    positions = [text_.index(f"Regel {n} € {n},00") for n in range(80)]
    assert positions == sorted(positions)
    assert f"pagina 1 van {len(reader.pages)}" in text_
    bottom, top = tagged_pdf.PAGE_MARGIN[0], tagged_pdf.A4[1] - tagged_pdf.PAGE_MARGIN[0]
    for page in reader.pages:
        placed = []

        def note(text_, cm, tm, font, size, placed=placed):
            if text_.strip():
                placed.append((text_, tm[5]))
        page.extract_text(visitor_text=note)
        footer = [y for t, y in placed if t.startswith("pagina")]
        body = [y for t, y in placed if not t.startswith("pagina")]
        assert len(footer) == 1 and footer[0] < bottom
        assert body and min(body) >= bottom and max(body) < top


def _tagged_pages(pdf):
    """{struct tag: the pages its marked content is on} of a rendered PDF."""
    reader = PdfReader(io.BytesIO(pdf))
    parents = reader.trailer["/Root"]["/StructTreeRoot"]["/ParentTree"]["/Nums"]
    found = {}
    for n in range(len(reader.pages)):
        for element in parents[2 * n + 1]:
            found.setdefault(_resolve(element)["/S"], set()).add(n)
    return reader, found


@pytest.mark.parametrize("lines", range(44, 52))
def test_a_heading_stays_on_the_page_of_what_follows_it(lines):
    """Whatever room is left at the page's foot, the H2 and its table's header row and first
    row share a page."""
    filler = [text(f"Regel {n}") for n in range(lines)]
    table = Table(((Cell("Post", header="Column"), Cell("Bedrag", header="Column")),
                   (Cell("Loon"), Cell("€ 1"))), widths=(0.5, 0.5), head=True)
    blocks = [*filler, text("Inkomen", Style(size=13, bold=True), tag="H2", space_before=20,
                            space_after=6, rule_below=0.6), table]
    _, pages = _tagged_pages(tagged_pdf.render(blocks, title="t", author="a", subject="s",
                                               language="nl", footer=lambda n, c: f"{n}"))
    assert pages["/H2"] == pages["/TD"] and len(pages["/TH"]) == 1 and pages["/TH"] == pages["/TD"]


def test_every_font_a_page_uses_is_in_its_resources_and_a_lacking_glyph_shows_a_replacement():
    pdf = tagged_pdf.render([text("   ", Style(bold=True)), text("Zhōu 周")], title="t", author="a",
                            subject="s", language="nl", footer=lambda n, c: "")
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    used = set(re.findall(r"(/F\d) ", page.get_contents().get_data().decode("latin-1")))
    assert used <= set(page["/Resources"]["/Font"])
    font = page["/Resources"]["/Font"]["/F0"]
    cid_font = font["/DescendantFonts"][0].get_object()
    to_gid = cid_font["/CIDToGIDMap"].get_data()
    cmap = font["/ToUnicode"].get_data().decode("ascii")
    cid = int(re.search(r"<([0-9A-F]{4})> <5468>", cmap).group(1), 16)  # 周
    regular = tagged_pdf.fonts()[0]
    assert int.from_bytes(to_gid[2 * cid:2 * cid + 2], "big") == regular.gid[0xFFFD] != 0


def test_the_same_blocks_give_the_same_bytes_and_others_another_file_id():
    first, again = _document(), _document()
    assert first == again
    other = _document(rows=79)
    file_id = re.compile(rb"/ID \[<([0-9A-F]+)>")
    assert file_id.search(first).group(1) != file_id.search(other).group(1)
