"""Every text a citizen reads comes from the catalogue, and the English catalogue is whole.

- Every template a citizen sees (the ones `webapp/translations/babel.cfg` extracts) has no
  visible text outside `{% trans %}` and `_()`: no text between tags, no text in an
  attribute a person reads or hears (aria-label, alt, title, placeholder, hx-confirm).
- The code never hands a citizen a bare text: what it passes to a problem page, a journey's
  error or a screen's error is a gettext call, or a name that holds one.
- The catalogue is up to date: what `bin/translations extract` finds in the code now is what
  each language's .po holds, every entry translated and none fuzzy, and the committed .mo is
  the compiled .po.
"""

import ast
import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "webapp" / "translations"
TEMPLATES = ROOT / "webapp" / "templates"
LANGUAGES = ("en",)  # besides Dutch, the source language (webapp/i18n.py)

# Names that read the same in every language.
NAMES = {"Gezondverzekerd.nl", "Ockto", "DigiD", "Simulator", "MijnOverheid"}
READ_ATTRIBUTES = ("aria-label", "alt", "title", "placeholder", "hx-confirm", "aria-roledescription")


def _ignored():
    config = (TRANSLATIONS / "babel.cfg").read_text(encoding="utf-8")
    return re.findall(r"^\[ignore: (.+)\]$", config, re.M)


def citizen_templates():
    ignored = _ignored()
    return sorted(path for path in TEMPLATES.rglob("*")
                  if path.suffix in (".html", ".txt")
                  and not any(fnmatch.fnmatch(path.relative_to(ROOT).as_posix(), pattern)
                              for pattern in ignored))


def untranslated(source):
    """The visible texts of a template that do not come from the catalogue."""
    text = re.sub(r"\{%-?\s*trans\b.*?endtrans\s*-?%\}", " ", source, flags=re.S)
    text = re.sub(r"\{% block body_class %\}.*?\{% endblock %\}", " ", text)  # a class, not text
    text = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    found = []
    for attribute, value in re.findall(r'\b(%s)="([^"]*)"' % "|".join(READ_ATTRIBUTES), text):
        if re.search(r"[A-Za-z]{2,}", value):
            found.append(f'{attribute}="{value}"')
    # (a macro that writes attributes has them outside a tag in its source)
    between_tags = re.sub(r'<[^>]*>|[\w-]+="[^"]*"', " ", text)
    for words in re.findall(r"[^\s<>]*[A-Za-zÀ-ÿ]{2,}[^<>\n]*", between_tags):
        words = words.strip()
        if any(re.search(r"[A-Za-zÀ-ÿ]{2}", word) and word not in NAMES
               for word in words.split()):
            found.append(words)
    return found


@pytest.mark.parametrize("path", citizen_templates(), ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_every_visible_text_of_a_citizen_template_is_in_the_catalogue(path):
    assert untranslated(path.read_text(encoding="utf-8")) == []


def test_the_scan_finds_text_outside_the_catalogue():
    page = ('<h1>{% trans %}Klaar{% endtrans %}</h1><p>Nog niet vertaald</p>'
            '<button aria-label="Sluiten">{{ _("Sluit") }}</button>')
    assert untranslated(page) == ['aria-label="Sluiten"', "Nog niet vertaald"]


# What shows its text arguments to a citizen; the municipality's staff pages stay Dutch.
SHOWN = {"problem", "JourneyError", "InvitationClosed", "JourneyUnderWay", "_screen_page",
         "_screen_errors"}
STAFF = ("webapp/simulators/gemeente.py", "webapp/operators.py", "webapp/dev.py")


def bare_texts(source):
    """Literal texts (words, not a key) passed to something that shows them to a citizen."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in SHOWN:
            for arg in node.args:
                if isinstance(arg, ast.JoinedStr) or (
                        isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                        and " " in arg.value.strip()):
                    found.append(ast.get_source_segment(source, arg))
    return found


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "webapp").rglob("*.py")
                                        if p.relative_to(ROOT).as_posix() not in STAFF),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_code_hands_a_citizen_no_bare_text(path):
    assert bare_texts(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_a_bare_text():
    code = 'problem(_("Mis"), "Probeer het opnieuw.")\nraise JourneyError(f"Bron {x} kan niet")'
    assert bare_texts(code) == ['"Probeer het opnieuw."', 'f"Bron {x} kan niet"']


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The catalogue of the code as it is now: `bin/translations extract` into a temp file."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([str(ROOT / "bin" / "translations"), "extract"], check=True,
                   env={**os.environ, "POT": str(pot),
                        "PYBABEL": str(Path(sys.executable).parent / "pybabel")})
    with pot.open("rb") as file:
        return read_po(file)


def _catalogue(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file)


def _ids(catalogue):
    return {message.id if isinstance(message.id, str) else message.id[0]
            for message in catalogue if message.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_holds_every_text_of_the_code_and_nothing_else(extracted, language):
    catalogue = _catalogue(language)
    assert sorted(_ids(extracted) - _ids(catalogue)) == [], "run bin/translations update"
    assert sorted(_ids(catalogue) - _ids(extracted)) == [], "run bin/translations update"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language):
    catalogue = _catalogue(language)
    entries = [message for message in catalogue if message.id]
    assert [m.id for m in entries if m.fuzzy] == []
    empty = [m.id for m in entries
             if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert empty == []


def _key(text):
    return tuple(text) if isinstance(text, (list, tuple)) else text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as file:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(file) if m.id}
    written = {_key(m.id): _key(m.string) for m in _catalogue(language) if m.id}
    assert compiled == written, "run bin/translations compile"
