"""What may happen once, in the process (webapp.once.MemoryOnce): expiry holds between the
sweeps, and a sweep walks what is kept at most once a second."""

import time

from webapp import once


def _clock(monkeypatch, start=1000.0):
    now = [start]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def test_seen_until_it_expires_then_new_again(monkeypatch):
    now = _clock(monkeypatch)
    kept = once.MemoryOnce()
    assert kept.first_time("a", 10) and not kept.first_time("a", 10)
    now[0] += 10.5  # expired, and within a second of no sweep it must still count so
    assert kept.first_time("a", 10)


def test_a_value_is_taken_once_and_not_after_it_expired(monkeypatch):
    now = _clock(monkeypatch)
    kept = once.MemoryOnce()
    kept.put("k", "v", 5)
    assert kept.take("k") == "v" and kept.take("k") is None
    kept.put("k", "v", 5)
    now[0] += 5.5
    assert kept.take("k") is None


def test_the_sweep_walks_what_is_kept_at_most_once_a_second(monkeypatch):
    """A sweep rebuilds what is kept: 101 calls within 1.5 s make two, not one each."""
    now = _clock(monkeypatch)
    kept = once.MemoryOnce()
    built = []  # each sweep's dict, held so that no id is reused
    for key in range(100):
        kept.first_time(str(key), 60)
        built.append(kept._until)
    now[0] += 1.5
    kept.first_time("late", 60)
    built.append(kept._until)
    assert len({id(seen) for seen in built}) == 2
