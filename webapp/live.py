"""Server-sent events: a journey's open pages re-render when the journey changes.

The stream sends the current state first, so a reconnect never misses a step, and a
heartbeat comment every SSE_HEARTBEAT_S seconds (15), so a dead client is noticed and released.
"""

import time

from flask import current_app, stream_with_context

from messaging import events

from .db import session


def stream(journey_id, render, refresh_after=None):
    """An event-stream response; `render(message)` returns the [(event, data)] to send now,
    for the newest message (None on connect and on a timed refresh).

    `refresh_after(message)`, when given, says in how many seconds to render again even without
    a change (the desktop's QR code is renewed on a timer), or None.
    """
    app = current_app._get_current_object()
    heartbeat_s = app.config["SSE_HEARTBEAT_S"]
    try:
        subscription = events.bus(app).subscribe(events.channel_for(journey_id))
    except events.EventsUnavailable:
        return "Live updates are unavailable; poll instead.", 503

    @stream_with_context
    def generate():
        try:
            yield "retry: 2000\n\n"
            message = None
            while True:
                session.remove()  # read fresh state; hold no connection while waiting
                for name, data in render(message):
                    yield _event(name, data)
                due = refresh_after(message) if refresh_after else None
                deadline = None if due is None else time.monotonic() + due
                session.remove()
                message = subscription.get(timeout=_wait_s(deadline, heartbeat_s))
                while message is None:
                    if deadline is not None and time.monotonic() >= deadline:
                        break  # render again: the QR code is due for renewal
                    yield ": heartbeat\n\n"
                    message = subscription.get(timeout=_wait_s(deadline, heartbeat_s))
                # Several changes at once: one render shows them all.
                while message not in (None, events.DISCONNECTED) and (
                        more := subscription.get(timeout=0)) is not None:
                    message = more
                if message is events.DISCONNECTED:
                    return  # the browser reconnects, or polls while we cannot stream
        finally:
            subscription.close()

    response = app.response_class(generate(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _event(name, data):
    """One server-sent event (what flask_sse.Message formats, without its per-line work)."""
    return f"event:{name}\ndata:" + "\ndata:".join(data.splitlines()) + "\n\n"


def _wait_s(deadline, heartbeat_s):
    if deadline is None:
        return heartbeat_s
    return max(0.05, min(heartbeat_s, deadline - time.monotonic()))
