"""The journeys' data keys (webapp.keys): sealing, and the embedded store."""

import pytest
from cryptography.exceptions import InvalidTag

from webapp.keys import MemoryKeys, seal, unseal


def test_sealed_data_opens_only_with_its_key_and_for_its_journey():
    store = MemoryKeys()
    key = store.create("journey-a", 60)
    sealed = seal(key, "journey-a", b'{"box1": 14831}')
    assert b"14831" not in sealed and len(key) == 32
    assert unseal(key, "journey-a", sealed) == b'{"box1": 14831}'
    with pytest.raises(InvalidTag):
        unseal(key, "journey-b", sealed)  # copied into another journey's row
    with pytest.raises(InvalidTag):
        unseal(store.create("journey-b", 60), "journey-a", sealed)


def test_the_same_data_sealed_twice_differs():
    key = MemoryKeys().create("j", 60)
    assert seal(key, "j", b"same") != seal(key, "j", b"same")


def test_a_key_is_made_once_and_gone_after_delete_or_its_time_to_live():
    store = MemoryKeys()
    key = store.create("j", 60)
    assert store.create("j", 60) == key == store.get("j")
    store.delete("j")
    assert store.get("j") is None
    store.create("short", 0)
    assert store.get("short") is None  # its time to live is over
