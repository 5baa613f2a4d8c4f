"""Marks a citizen's text in the domain for the catalogue: the domain speaks Dutch, the
source language, and stays free of Flask; a view translates the text where it shows it
(`{{ _(text) }}`). `bin/translations extract` collects every `N_("…")`."""


def N_(text):  # noqa: N802 (gettext's name for "mark only")
    """The text itself, unchanged: only a mark for the catalogue."""
    return text
