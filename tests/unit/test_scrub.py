"""What a log may not hold of a path: personal links, tokens, artifacts, addresses."""

import pytest

from webapp.serving import scrub


@pytest.mark.parametrize("path, logged", [
    ("/uitnodiging/Abc123/start", "/uitnodiging/…/start"),
    ("/app/koppel/Abc123", "/app/koppel/…"),
    ("/app/verder/Abc123", "/app/verder/…"),  # an invitation token, posted from the link's page
    ("/app/verder/terug?SAMLart=AAQA&RelayState=x", "/app/verder/terug?SAMLart=…&RelayState=…"),
    ("/app/verder/terugweg", "/app/verder/…"),
    ("/dev/outbox?to=sanne@example.org", "/dev/outbox?to=…"),
    ("/app/digid/terug?SAMLart=AAQA", "/app/digid/terug?SAMLart=…"),
])
def test_scrub(path, logged):
    assert scrub(path) == logged
