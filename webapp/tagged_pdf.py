"""A small writer of tagged PDF (ISO 32000-1, §14.8): A4 pages of text in one embedded TrueType
family, laid out as headings, paragraphs, framed notices and tables, with a structure tree
(Document, H1–H3, P, Table, TR, TH, TD) and a text layer, so that staff can search it, copy from
it and have it read aloud. Rules and page numbers are marked as artifacts.

It does what the dossier needs and no more, at a few milliseconds a document: no kerning or
shaping (the names and values are Latin script), greedy line breaking at spaces, a word wider
than its column broken between characters. A character the font lacks is drawn as the font's
replacement character (U+FFFD) but keeps its text (its own CID, with its Unicode value in the
ToUnicode map); line breaks and tabs in a value are spaces, other control characters dropped.

The fonts are embedded as subsets that keep the glyph ids (glyphs not used are emptied), so a
subset is byte slicing and no shaping engine is needed. Every object but the streams is packed
in one compressed object stream. The same blocks give the same bytes:
no dates, the file identifier is a digest of the content (a retried delivery is byte for byte
the same).
"""

import dataclasses
import functools
import hashlib
import re
import struct
import sys
import zlib
from array import array
from pathlib import Path

from fontTools.ttLib import TTFont

FONTS = Path(__file__).parent / "data" / "fonts"
MM = 72 / 25.4
A4 = (595.276, 841.89)
LINE_HEIGHT = 1.4  # of the font size
LITTLE_ENDIAN = sys.byteorder == "little"  # TrueType's tables are big-endian


# --- The fonts -----------------------------------------------------------------------------

class Font:
    """One TrueType font, read once per process: its glyphs by character, their widths (in
    thousandths of the font size) and its raw tables, from which a document's subset is cut."""

    # the tables a CIDFontType2 program needs (ISO 32000-1, §9.9); no hinting programs
    TABLES = ("glyf", "head", "hhea", "hmtx", "loca", "maxp")

    def __init__(self, path, name):
        self.name = name
        with TTFont(path, lazy=True) as tt:
            order = tt.getGlyphOrder()
            gid = {glyph: n for n, glyph in enumerate(order)}
            self.gid = {char: gid[glyph] for char, glyph in tt.getBestCmap().items()}
            self.missing = self.gid.get(0xFFFD, 0)  # what a character the font lacks shows
            scale = 1000 / tt["head"].unitsPerEm
            metrics = tt["hmtx"].metrics
            self.widths = [round(metrics[glyph][0] * scale) for glyph in order]
            head, hhea = tt["head"], tt["hhea"]
            self.bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
            self.ascent, self.descent = round(hhea.ascent * scale), round(hhea.descent * scale)
            self.cap_height = round(tt["glyf"][order[self.gid[ord("H")]]].yMax * scale)
            self.bold = tt["OS/2"].usWeightClass >= 600
            self.raw = {tag: tt.reader[tag] for tag in self.TABLES if tag in tt.reader}
            self.metric_count = hhea.numberOfHMetrics
        loca = array("I" if head.indexToLocFormat else "H", self.raw["loca"])
        self.hmtx = array("h", self.raw["hmtx"])
        if LITTLE_ENDIAN:
            loca.byteswap()
            self.hmtx.byteswap()
        self.loca = [offset * (1 if head.indexToLocFormat else 2) for offset in loca]
        self._char_width = {}

    def char_width(self, char):
        """The advance of `char` in thousandths of the font size."""
        if (width := self._char_width.get(char)) is None:
            width = self._char_width[char] = self.widths[self.glyph_of(char)]
        return width

    def glyph_of(self, char):
        return self.gid.get(ord(char), self.missing)

    def width(self, text, size):
        """The advance of `text` at `size`, in points."""
        return sum(map(self.char_width, text)) * size / 1000

    def glyph(self, gid):
        return self.raw["glyf"][self.loca[gid]:self.loca[gid + 1]]

    def components(self, gid):
        """The glyph ids a composite glyph is made of (an accented letter, say)."""
        data = self.glyph(gid)
        if len(data) < 10 or struct.unpack_from(">h", data)[0] >= 0:
            return []
        return [component for _, _, component in _parts(data)[0]]

    def unhinted(self, gid):
        """The glyph's outline without its hinting instructions: a PDF is drawn at any size."""
        data = self.glyph(gid)
        if len(data) < 10:
            return data
        if (contours := struct.unpack_from(">h", data)[0]) >= 0:
            at = 10 + 2 * contours
            points = struct.unpack_from(">H", data, at - 2)[0] + 1 if contours else 0
            outline = at + 2 + struct.unpack_from(">H", data, at)[0]
            return data[:at] + bytes(2) + data[outline:_simple_end(data, outline, points)]
        parts, end = _parts(data)
        at, flags, _ = parts[-1]
        return data[:at] + struct.pack(">H", flags & ~0x0100) + data[at + 2:end]

    def subset(self, gids):
        """A TrueType program with only the glyphs in `gids` (and what they are built of) drawn;
        every other glyph id is kept, empty, so the document's CIDs map to the font's own ids."""
        keep, todo = {0}, list(gids)
        while todo:
            if (gid := todo.pop()) not in keep:
                keep.add(gid)
                todo.extend(self.components(gid))
        count = len(self.loca) - 1
        glyf, loca = bytearray(), array("I", bytes(4 * (count + 1)))
        hmtx = array("h", bytes(4 * self.metric_count + 2 * (count - self.metric_count)))
        unset = 0  # the first glyph id whose offset is not yet set
        for gid in sorted(keep):
            loca[unset:gid + 1] = array("I", (len(glyf),)) * (gid + 1 - unset)
            unset = gid + 1
            glyf += self.unhinted(gid)
            glyf += bytes(-len(glyf) % 4)
            if gid < self.metric_count:  # advance and left side bearing
                hmtx[2 * gid:2 * gid + 2] = self.hmtx[2 * gid:2 * gid + 2]
            else:  # the left side bearing alone
                hmtx[self.metric_count + gid] = self.hmtx[self.metric_count + gid]
        loca[unset:] = array("I", (len(glyf),)) * (count + 1 - unset)
        last = 2 * (self.metric_count - 1)  # the advance of every glyph after the long metrics
        hmtx[last] = self.hmtx[last]
        if LITTLE_ENDIAN:
            loca.byteswap()
            hmtx.byteswap()
        head = bytearray(self.raw["head"])
        head[8:12] = bytes(4)  # checkSumAdjustment, set below
        head[50:52] = struct.pack(">h", 1)  # long offsets in loca
        tables = {**self.raw, "glyf": bytes(glyf), "loca": loca.tobytes(), "hmtx": hmtx.tobytes(),
                  "head": bytes(head)}
        return _sfnt(tables)


def _simple_end(data, at, points):
    """Where a simple glyph's outline, its flags from `at`, ends (before any padding)."""
    coordinates = 0
    while points > 0:
        flags = data[at]
        at += 1
        count = 1
        if flags & 0x08:  # repeated
            count += data[at]
            at += 1
        x = 1 if flags & 0x02 else 0 if flags & 0x10 else 2
        y = 1 if flags & 0x04 else 0 if flags & 0x20 else 2
        coordinates += count * (x + y)
        points -= count
    return at + coordinates


def _parts(data):
    """A composite glyph's components: ([(offset of its flags, flags, glyph id)], where the
    components end)."""
    found, at = [], 10
    while True:
        flags, component = struct.unpack_from(">HH", data, at)
        found.append((at, flags, component))
        at += 4 + (4 if flags & 0x0001 else 2)
        at += 2 if flags & 0x0008 else 4 if flags & 0x0040 else 8 if flags & 0x0080 else 0
        if not flags & 0x0020:
            return found, at


def _checksum(data):
    """A TrueType table's checksum: the sum of its big-endian 32-bit words."""
    words = array("I", data + bytes(-len(data) % 4))
    if LITTLE_ENDIAN:
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _sfnt(tables):
    """The bytes of a TrueType file with `tables` ({tag: bytes})."""
    tags = sorted(tables)
    power = 1 << (len(tags).bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, len(tags), 16 * power, power.bit_length() - 1,
                         16 * (len(tags) - power))
    offset = len(header) + 16 * len(tags)
    directory, body, where = bytearray(), bytearray(), {}
    for tag in tags:
        data = tables[tag]
        where[tag] = offset + len(body)
        directory += struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), where[tag], len(data))
        body += data + bytes(-len(data) % 4)
    font = bytearray(header + directory + body)
    at = where["head"]
    font[at + 8:at + 12] = struct.pack(">I", (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


@functools.cache
def fonts():
    """(regular, bold): DejaVu Sans, from the project's own copy (webapp/data/fonts/README.md),
    so that every machine sets a document alike."""
    return (Font(FONTS / "DejaVuSans.ttf", "DejaVuSans"),
            Font(FONTS / "DejaVuSans-Bold.ttf", "DejaVuSans-Bold"))


# --- What a document is made of ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Style:
    size: float = 10
    bold: bool = False
    grey: float = 0.067  # the text's grey level (0 black, 1 white)


@dataclasses.dataclass(frozen=True)
class Run:
    text: str
    style: Style = Style()


@dataclasses.dataclass(frozen=True)
class Paragraph:
    """A heading (tag H1–H3) or a paragraph (P) of one or more runs."""
    runs: tuple[Run, ...]
    tag: str = "P"
    space_before: float = 0
    space_after: float = 0
    rule_below: float | None = None  # a rule's grey under the block (a heading's underline)
    frame: tuple[float, float, float] | None = None  # a notice's frame colour (RGB)


@dataclasses.dataclass(frozen=True)
class Cell:
    text: str
    header: str | None = None  # "Row" or "Column" for a TH, None for a TD
    align: str = "left"


@dataclasses.dataclass(frozen=True)
class Table:
    """Rows of cells; `widths` are the columns' shares of the text width. The first row
    is a header row, repeated on every page the table runs on, when `head` is set."""
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...]
    head: bool = False
    style: Style = Style()
    header_style: Style = Style(grey=0.2)


def text(value, style=Style(), **kwargs):
    """A paragraph of one run."""
    return Paragraph((Run(value, style),), **kwargs)


# --- Layout --------------------------------------------------------------------------------

PAGE_MARGIN = (20 * MM, 18 * MM)  # top and bottom, left and right
TEXT_WIDTH = A4[0] - 2 * PAGE_MARGIN[1]
CELL_PADDING = (1 * MM, 2 * MM)
RULE_WIDTH = 0.75


def _font(style):
    return fonts()[style.bold]


_WORD = re.compile(r"[^ ]+ *| +")  # a word with the spaces after it (a no-break space holds)
_CONTROL = {code: None for code in (*range(0x20), 0x7F)} | {code: " " for code in b"\t\n\v\f\r"}


def _width(pieces):
    return sum(_font(run.style).width(text, run.style.size) for run, text in pieces)


def _trimmed(pieces):
    """The pieces without the spaces that end them (and without what is left empty)."""
    pieces = list(pieces)
    while pieces and not pieces[-1][1].rstrip(" "):
        pieces.pop()
    if pieces:
        run, text = pieces[-1]
        pieces[-1] = (run, text.rstrip(" "))
    return pieces


def _words(runs):
    """The runs' text as words, each [(run, text)] with the spaces after it: a run may end
    inside a word, which then has a piece of each run."""
    words, word = [], []
    for run in runs:
        for piece in _WORD.findall(run.text.translate(_CONTROL)):
            if word and word[-1][1].endswith(" ") and not piece.startswith(" "):
                words.append(word)
                word = []
            word.append((run, piece))
    return words + [word] if word else words


def _cut(word, width):
    """(the first characters of `word` that fit in `width`, at least one; the rest)."""
    chars = [(run, char) for run, text in word for char in text]
    x, n = 0.0, 0
    for run, char in chars:
        x += _font(run.style).char_width(char) * run.style.size / 1000
        if n and x > width:
            break
        n += 1
    return _joined(chars[:n]), _joined(chars[n:])


def _joined(pieces):
    """Neighbouring pieces of one run as one piece."""
    found = []
    for run, text in pieces:
        if found and found[-1][0] is run:
            found[-1] = (run, found[-1][1] + text)
        elif text:
            found.append((run, text))
    return found


def _break_lines(runs, width):
    """The runs broken into lines no wider than `width`, each [(run, text, x)]: at spaces,
    and a word wider than a line between its characters."""
    lines, line, x = [], [], 0.0  # x: the line's width with the spaces that end it
    for word in _words(runs):
        bare = _trimmed(word)
        if line and x + _width(bare) > width:
            lines.append(line)
            line, x = [], 0.0
        while _width(bare) > width and sum(len(text) for _, text in bare) > 1:
            head, word = _cut(word, width)
            lines.append(head)
            bare = _trimmed(word)
        line += word
        x += _width(word)
    if line:
        lines.append(line)
    placed = []
    for line in lines:
        x, pieces = 0.0, []
        for run, text in _joined(_trimmed(line)):
            pieces.append((run, text, x))
            x += _font(run.style).width(text, run.style.size)
        placed.append(pieces)
    return placed or [[]]


def _leading(runs):
    return LINE_HEIGHT * max(run.style.size for run in runs)


def _baseline(top, style, leading):
    """The baseline of a line whose box starts at `top`: half the leading's extra, then the
    font's ascent (CSS's line box)."""
    return top - (leading - style.size) / 2 - style.size * _font(style).ascent / 1000


def _cell_style(block, cell):
    return block.header_style if cell.header else block.style


class _Writer:
    """Lays blocks out on pages and records each page's drawing and marked content."""

    def __init__(self):
        self.top = A4[1] - PAGE_MARGIN[0]
        self.bottom = PAGE_MARGIN[0]
        self.left = PAGE_MARGIN[1]
        self.measure = TEXT_WIDTH
        self.pages = []  # [[content operations]]
        self.marks = []  # [[struct element of each MCID]] per page
        self.cids = ({}, {})  # per font: {char: CID}
        self.root = {"S": "Document", "K": []}
        self.new_page()

    def new_page(self):
        self.pages.append([])
        self.marks.append([])
        self.y = self.top
        self.fresh = True  # nothing on this page yet: a block's space before it is left out

    def room(self, height):
        """Start a new page unless `height` still fits on this one (an empty page always takes)."""
        if self.y - height < self.bottom and not self.fresh:
            self.new_page()

    def element(self, tag, parent, **attributes):
        found = {"S": tag, "K": [], **attributes}
        parent["K"].append(found)
        return found

    def mark(self, element):
        """A new marked-content id on this page for `element`; returns it."""
        mcid = len(self.marks[-1])
        self.marks[-1].append(element)
        element["K"].append((len(self.pages) - 1, mcid))
        return mcid

    def encode(self, text, bold):
        cids = self.cids[bold]
        return "".join(f"{cids.setdefault(char, len(cids) + 1):04X}" for char in text)

    def draw_line(self, element, line, x, baseline):
        """One line of text, as marked content of `element` (None: an artifact)."""
        ops = self.pages[-1]
        self.fresh = False
        ops.append("/Artifact BMC BT" if element is None else
                   f"/{element['S']} <</MCID {self.mark(element)}>> BDC BT")
        for run, piece, dx in line:
            style = run.style
            ops.append(f"{style.grey:.3f} g /F{int(style.bold)} {style.size:g} Tf "
                       f"1 0 0 1 {x + dx:.2f} {baseline:.2f} Tm <{self.encode(piece, style.bold)}> Tj")
        ops.append("ET EMC")

    def artifact(self, operations):
        self.fresh = False
        self.pages[-1].append(f"/Artifact BMC {operations} EMC")

    def rule(self, x0, x1, y, grey):
        self.artifact(f"{grey:.3f} G {RULE_WIDTH} w {x0:.2f} {y:.2f} m {x1:.2f} {y:.2f} l S")

    # blocks

    def opening(self, block):
        """The height the start of `block` takes: a paragraph's first line, a table's first
        row (and the one after its header row)."""
        if isinstance(block, Paragraph):
            return block.space_before + (2 * MM if block.frame else 0) + _leading(block.runs)
        widths = [share * self.measure for share in block.widths]
        return 1 * MM + sum(self._row(row, widths, block)[2] for row in block.rows[:1 + block.head])

    def paragraph(self, block, keep_with=0.0):
        """A paragraph, or a heading kept on one page with `keep_with` of what follows it."""
        heading = block.tag != "P"
        inner = self.measure - (2 * 3 * MM + 2 * RULE_WIDTH if block.frame else 0)
        lines = _break_lines(block.runs, inner)
        leading = _leading(block.runs)
        pad = 2 * MM if block.frame else 0
        rule = RULE_WIDTH if block.rule_below is not None else 0
        if heading:
            self.room(block.space_before + leading * len(lines) + rule + block.space_after + keep_with)
        else:
            self.room(block.space_before + pad + leading)
        if not self.fresh:
            self.y -= block.space_before
        element = self.element(block.tag, self.root)
        top = self.y
        self.y -= pad
        for line in lines:
            if not heading and self.y - leading < self.bottom:
                self._frame(block, top)
                self.new_page()
                top = self.y
            tallest = max((run.style for run in block.runs), key=lambda style: style.size)
            self.draw_line(element, line, self.left + (3 * MM if block.frame else 0),
                           _baseline(self.y, tallest, leading))
            self.y -= leading
        self.y -= pad
        self._frame(block, top)
        if rule:
            self.y -= rule
            self.rule(self.left, self.left + self.measure, self.y + rule / 2, block.rule_below)
        self.y -= block.space_after

    def _frame(self, block, top):
        if block.frame:
            r, g, b = block.frame
            self.artifact(f"{r:.3f} {g:.3f} {b:.3f} RG {RULE_WIDTH} w {self.left:.2f} {self.y:.2f} "
                          f"{self.measure:.2f} {top - self.y:.2f} re S")

    def table(self, block):
        """A table; a row does not split, and the header row comes again on a new page."""
        widths = [share * self.measure for share in block.widths]
        laid = [self._row(row, widths, block) for row in block.rows]
        table = self.element("Table", self.root)
        head = laid[0] if block.head and laid else None
        if not self.fresh:
            self.y -= 1 * MM
        for n, (row, cells, height) in enumerate(laid):
            if self.y - height < self.bottom and not self.fresh:
                self.new_page()
                if head and n > 0:  # the header row again, as an artifact on this page
                    self._draw_row(None, *head, widths, block)
            parent = table
            if block.head:
                parent = self._group(table, "THead" if n == 0 else "TBody")
            self._draw_row(self.element("TR", parent), row, cells, height, widths, block)
        self.y -= 2 * MM

    @staticmethod
    def _group(table, tag):
        if not table["K"] or table["K"][-1]["S"] != tag:
            table["K"].append({"S": tag, "K": []})
        return table["K"][-1]

    def _row(self, row, widths, block):
        """(the row, each cell's lines, the row's height)."""
        cells = [_break_lines((Run(cell.text, _cell_style(block, cell)),), width - 2 * CELL_PADDING[1])
                 for cell, width in zip(row, widths)]
        height = max(len(lines) * LINE_HEIGHT * _cell_style(block, cell).size
                     for cell, lines in zip(row, cells))
        return row, cells, height + 2 * CELL_PADDING[0] + RULE_WIDTH

    def _draw_row(self, tr, row, cells, height, widths, block):
        """A row as structure under `tr` (None: an artifact, a header row drawn again)."""
        x, top = self.left, self.y
        for cell, lines, width in zip(row, cells, widths):
            element = None
            if tr is not None:
                attributes = {"A": {"O": "Table", "Scope": cell.header}} if cell.header else {}
                element = self.element("TH" if cell.header else "TD", tr, **attributes)
            style = _cell_style(block, cell)
            leading = LINE_HEIGHT * style.size
            baseline = _baseline(top - CELL_PADDING[0], style, leading)
            for line in lines:
                if line:
                    run, piece, end = line[-1]
                    end += _font(run.style).width(piece, run.style.size)
                    dx = width - CELL_PADDING[1] - end if cell.align == "right" else CELL_PADDING[1]
                    self.draw_line(element, line, x + dx, baseline)
                baseline -= leading
            x += width
        self.y = top - height
        self.rule(self.left, self.left + self.measure, self.y + RULE_WIDTH / 2, 0.867)

    def footers(self, footer):
        """Each page's number, as a pagination artifact: `footer(n, count)` is its text."""
        font, size = fonts()[0], 8
        for n, ops in enumerate(self.pages, 1):
            label = footer(n, len(self.pages))
            x = self.left + self.measure - font.width(label, size)
            ops.append(f"/Artifact <</Type /Pagination /Subtype /Footer>> BDC BT 0.333 g /F0 {size} Tf "
                       f"1 0 0 1 {x:.2f} {self.bottom - 12:.2f} Tm <{self.encode(label, False)}> Tj ET EMC")


def render(blocks, *, title, author, subject, language, footer):
    """The PDF's bytes for `blocks` (Paragraphs and Tables, in reading order)."""
    writer = _Writer()
    for block, following in zip(blocks, [*blocks[1:], None]):
        if isinstance(block, Table):
            writer.table(block)
        else:
            writer.paragraph(block, writer.opening(following) if following is not None else 0.0)
    writer.footers(footer)
    return _File(writer, title=title, author=author, subject=subject, language=language).pdf()


# --- The file ------------------------------------------------------------------------------

class _Ref(int):
    pass


def _string(value):
    """A PDF text string: literal when printable ASCII, UTF-16BE with its byte order mark
    otherwise."""
    if value.isascii() and value.isprintable():
        return "(" + value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"
    return "<FEFF" + value.encode("utf-16-be").hex().upper() + ">"


def _pdf(value):
    if isinstance(value, _Ref):
        return f"{int(value)} 0 R"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value  # a name (/Name), a string made by _string, or an operand as it is
    if isinstance(value, dict):
        return "<<" + " ".join(f"/{key} {_pdf(item)}" for key, item in value.items()) + ">>"
    return "[" + " ".join(_pdf(item) for item in value) + "]"


class _File:
    def __init__(self, writer, **info):
        self.writer, self.info = writer, info
        self.objects = []  # bytes of each object, numbered from 1

    def reserve(self):
        self.objects.append(None)
        return _Ref(len(self.objects))

    def put(self, value, ref=None):
        ref = ref or self.reserve()
        self.objects[ref - 1] = _pdf(value).encode("latin-1")
        return ref

    def stream(self, data, ref=None, **entries):
        ref = ref or self.reserve()
        packed = zlib.compress(data, 6)
        self.objects[ref - 1] = (_pdf({**entries, "Filter": "/FlateDecode", "Length": len(packed)})
                                 .encode("latin-1") + b"\nstream\n" + packed + b"\nendstream")
        return ref

    def pdf(self):
        """The file's bytes."""
        writer, info = self.writer, self.info
        catalog, pages_ref, tree = self.reserve(), self.reserve(), self.reserve()
        font_refs = {f"F{n}": self.font(fonts()[n], writer.cids[n]) for n in (0, 1) if writer.cids[n]}
        page_refs = [self.reserve() for _ in writer.pages]
        elements = self.structure(writer.root, tree, page_refs)
        for n, (ops, ref) in enumerate(zip(writer.pages, page_refs)):
            content = self.stream("\n".join(ops).encode("latin-1"))
            self.put({"Type": "/Page", "Parent": pages_ref, "MediaBox": [0, 0, *A4],
                      "Resources": {"Font": font_refs}, "Contents": content, "StructParents": n,
                      "Tabs": "/S"}, ref)
        self.put({"Type": "/Pages", "Kids": page_refs, "Count": len(page_refs)}, pages_ref)
        parents = []
        for n, marks in enumerate(writer.marks):
            parents += [n, [elements[id(element)] for element in marks]]
        self.put({"Type": "/StructTreeRoot", "K": elements[id(writer.root)],
                  "ParentTree": {"Nums": parents}, "ParentTreeNextKey": len(writer.pages)}, tree)
        self.put({"Type": "/Catalog", "Pages": pages_ref, "StructTreeRoot": tree,
                  "MarkInfo": {"Marked": True}, "Lang": _string(info["language"]),
                  "ViewerPreferences": {"DisplayDocTitle": True}}, catalog)
        document_info = self.put({"Title": _string(info["title"]), "Author": _string(info["author"]),
                                  "Subject": _string(info["subject"]), "Producer": "(Ocktoreis)"})
        return self.write(catalog, document_info)

    def write(self, catalog, document_info):
        """The file: the streams as they are, every other object packed in one compressed
        object stream (the structure tree is most of them), and a cross-reference stream
        (ISO 32000-1, §7.5.7 and §7.5.8)."""
        packed = [n for n, body in enumerate(self.objects, 1) if not body.endswith(b"endstream")]
        header, bodies = [], bytearray()
        for n in packed:
            header.append(f"{n} {len(bodies)}")
            bodies += self.objects[n - 1] + b"\n"
        first = " ".join(header).encode("ascii") + b"\n"
        object_stream = self.stream(first + bodies, Type="/ObjStm", N=len(packed), First=len(first))
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        where = {n: (2, object_stream, index) for index, n in enumerate(packed)}
        for n, body in enumerate(self.objects, 1):
            if n not in where:
                where[n] = (1, len(out), 0)
                out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
        xref = self.reserve()
        where[xref] = (1, len(out), 0)
        digest = hashlib.md5(out, usedforsecurity=False).hexdigest().upper()
        entries = struct.pack(">BIH", 0, 0, 65535) + b"".join(
            struct.pack(">BIH", *where[n]) for n in range(1, len(self.objects) + 1))
        self.stream(entries, xref, Type="/XRef", Size=len(self.objects) + 1, W=[1, 4, 2],
                    Root=catalog, Info=document_info, ID=[f"<{digest}>", f"<{digest}>"])
        out += b"%d 0 obj\n" % xref + self.objects[xref - 1] + b"\nendobj\n"
        out += b"startxref\n%d\n%%%%EOF\n" % where[xref][1]
        return bytes(out)

    def structure(self, root, tree, page_refs):
        """Write the structure elements; {id(element): its reference}."""
        refs = {}

        def put_element(element, parent):
            ref = refs[id(element)] = self.reserve()
            kids = []
            for kid in element["K"]:
                if isinstance(kid, tuple):
                    page, mcid = kid
                    kids.append({"Type": "/MCR", "Pg": page_refs[page], "MCID": mcid})
                else:
                    kids.append(put_element(kid, ref))
            entry = {"Type": "/StructElem", "S": f"/{element['S']}", "P": parent, "K": kids}
            if "A" in element:
                entry["A"] = {key: f"/{value}" for key, value in element["A"].items()}
            self.put(entry, ref)
            return ref

        put_element(root, tree)
        return refs

    def font(self, font, cids):
        """A Type 0 font of the characters in `cids` ({char: CID}): its subset embedded, each
        CID's glyph, width and Unicode value."""
        by_cid = sorted((cid, char) for char, cid in cids.items())
        gids = [font.glyph_of(char) for _, char in by_cid]
        program = font.subset(gids)
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(program).digest()[:6])
        name = f"/{tag}+{font.name}"
        cid_to_gid = bytes(2) + b"".join(struct.pack(">H", gid) for gid in gids)
        widths = [1, [font.widths[gid] for gid in gids]]
        descriptor = self.put({
            "Type": "/FontDescriptor", "FontName": name, "Flags": 32 | (1 << 18 if font.bold else 0),
            "FontBBox": font.bbox, "ItalicAngle": 0, "Ascent": font.ascent, "Descent": font.descent,
            "CapHeight": font.cap_height, "StemV": 140 if font.bold else 80,
            "FontFile2": self.stream(program, Length1=len(program))})
        descendant = self.put({
            "Type": "/Font", "Subtype": "/CIDFontType2", "BaseFont": name,
            "CIDSystemInfo": {"Registry": "(Adobe)", "Ordering": "(Identity)", "Supplement": 0},
            "FontDescriptor": descriptor, "W": widths, "DW": 0,
            "CIDToGIDMap": self.stream(cid_to_gid)})
        return self.put({"Type": "/Font", "Subtype": "/Type0", "BaseFont": name,
                         "Encoding": "/Identity-H", "DescendantFonts": [descendant],
                         "ToUnicode": self.stream(_to_unicode(by_cid))})


def _to_unicode(by_cid):
    """The CMap from each CID to its character (ISO 32000-1, §9.10.3)."""
    lines = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
             "/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def",
             "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
             "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange"]
    for start in range(0, len(by_cid), 100):
        chunk = by_cid[start:start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{cid:04X}> <{char.encode('utf-16-be').hex().upper()}>" for cid, char in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")
