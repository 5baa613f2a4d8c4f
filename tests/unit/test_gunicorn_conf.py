"""gunicorn.conf.py's hook in each web process (post_worker_init): SIGTERM ends the open
event streams, and DigiD's client is made in the background at the start."""

import runpy
import signal
import types
from pathlib import Path

import gevent

from webapp import saml

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_a_web_process_makes_digids_client_in_the_background_at_its_start(monkeypatch):
    handlers, prepared = {}, []
    monkeypatch.setattr(signal, "signal", lambda number, handler: handlers.update({number: handler}))
    monkeypatch.setattr(signal, "siginterrupt", lambda number, flag: None)
    monkeypatch.setattr(saml, "make_client_at_start", prepared.append)
    app = object()
    worker = types.SimpleNamespace(handle_exit=lambda sig, frame: None, wsgi=app)
    runpy.run_path(str(CONF))["post_worker_init"](worker)
    assert prepared == []  # not in the hook itself: in a greenlet of its own
    gevent.sleep(0)
    assert prepared == [app]
    assert signal.SIGTERM in handlers
