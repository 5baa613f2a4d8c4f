"""The privacy and accessibility statements: their figures are the settings the code runs
with, and every area's pages link to both."""

import pytest

from webapp.domain.sources import SOURCES


@pytest.fixture
def app_config():
    return {"JOURNEY_TTL_HOURS": 12.0, "INVITATION_TTL_DAYS": 21, "RECEIPT_RETENTION_DAYS": 30,
            "REMINDER_DAYS": (4, 9)}


def test_the_privacy_statement_says_what_the_settings_make_the_code_do(desktop):
    page = desktop.get("/privacy")
    assert page.status_code == 200
    for said in ("12 uur nadat u begon", "21 dagen na de uitnodiging", "bewaren wij 30 dagen",
                 "hoogstens 2 herinneringen", "support@gezondverzekerd.nl", "038 - 455 29 20"):
        assert said in page.text, said
    for source in SOURCES:
        assert f"{source.name}: {source.description[:1].lower()}{source.description[1:]}" in page.text


@pytest.mark.parametrize("path", ["/", "/privacy", "/toegankelijkheid", "/app/installeren",
                                  "/uitnodiging/onzin", "/beheer/inloggen"])
def test_every_area_links_to_both_statements(desktop, path):
    page = desktop.get(path)
    assert 'href="/privacy"' in page.text and 'href="/toegankelijkheid"' in page.text, path
