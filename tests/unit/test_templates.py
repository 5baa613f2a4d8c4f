"""Every form that posts carries the CSRF token; no template holds inline script."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"
FORMS = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


def _templates():
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_posting_form_carries_the_csrf_token(path):
    for form in FORMS.findall(path.read_text()):
        if re.search(r'method="post"', form, re.I):
            assert "csrf_field()" in form, form[:200]


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_inline_script_or_event_handler(path):
    text = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.I)
    assert not re.search(r"\son[a-z]+=", text, re.I)
