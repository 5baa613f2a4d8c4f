"""webapp.saml.Cache: SAML clients made from metadata, kept per key, the first of a key made
once however many ask for it at once."""

import threading
import types

import pytest

from webapp import saml


class _Waiting:
    """How many threads wait for a first making: saml's threading.Event, counted."""

    def __init__(self):
        self.count, self.changed = 0, threading.Condition()
        watch = self

        class Event(threading.Event):
            def wait(self, timeout=None):
                with watch.changed:
                    watch.count += 1
                    watch.changed.notify_all()
                return super().wait(timeout)

        self.Event = Event

    def until(self, count):
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= count, timeout=5)


@pytest.fixture
def waiting(monkeypatch):
    watch = _Waiting()
    monkeypatch.setattr(saml, "threading", types.SimpleNamespace(Lock=threading.Lock, Event=watch.Event))
    return watch


def _all_at_once(count, target):
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_the_first_of_a_key_is_made_once_while_the_others_wait(waiting):
    cache, made, got = saml.Cache(max_age_s=60), [], []

    def make():
        made.append(1)
        waiting.until(7)  # the seven others ask meanwhile
        return object()

    _all_at_once(8, lambda: got.append(cache.get("digid", make)))
    assert len(made) == 1
    assert len(got) == 8 and len({id(thing) for thing in got}) == 1


def test_when_the_first_making_fails_a_waiting_one_makes_it(waiting):
    cache, outcomes, tries = saml.Cache(max_age_s=60), [], []

    def make():
        tries.append(1)
        if len(tries) == 1:
            waiting.until(1)
            raise saml.Unreachable("metadata down")
        return "client"

    def ask():
        try:
            outcomes.append(cache.get("digid", make))
        except saml.Unreachable:
            outcomes.append("refused")

    _all_at_once(2, ask)
    assert sorted(outcomes) == ["client", "refused"]
    assert cache.get("digid", make) == "client" and len(tries) == 2


def test_a_stale_one_serves_while_its_metadata_cannot_be_read(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(saml.time, "monotonic", lambda: now[0])
    cache = saml.Cache(max_age_s=60, retry_s=5)
    assert cache.get("digid", lambda: "old") == "old"
    now[0] += 61

    def down():
        raise saml.Unreachable("metadata down")

    assert cache.get("digid", down) == "old"
    assert cache.get("digid", lambda: "new") == "old"  # tried again after retry_s, not before
    now[0] += 6
    assert cache.get("digid", lambda: "new") == "new"
