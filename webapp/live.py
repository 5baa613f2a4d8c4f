"""Live updates: the fragments an open page re-renders when its journey changes, and the
server-sent event streams that carry them.

A stream sends the current state first, so a reconnect never misses a step, then one
render per change, from the progress view the change's event carries (no database query
per open page), and a heartbeat comment every SSE_HEARTBEAT_S seconds (15), so a dead
client is noticed and released. Page loads render the same fragments from the same view.

Events may overtake each other (two processes publish one journey at once): every view
has an order (ProgressView.order), a stream never sends one older than it sent last, and
every event and every fragment says its order (the event's `id`, the `X-View-Version`
header, the live container's `data-version`) so the page never shows an older one either.
"""

import base64
import functools
import threading
import time
from collections import defaultdict

from flask import current_app, g, render_template, request, url_for
from flask.globals import app_ctx, request_ctx

from messaging import events

from . import journeys, metrics, qr
from .db import end_session, session
from .domain import sources as catalogue
from .domain.journey import FETCHING, JourneyState
from .domain.progress import ProgressView
from .models import Journey


def shown(view):
    """This response shows `view`: its order goes out as the `X-View-Version` header."""
    g.view_order = view.order
    return view


def desktop_step_context(view, journey=None):
    """What desktop/_step.html renders: the progress view, and for the QR code step the
    current pairing token and code (from the database: they rotate)."""
    context = {"view": shown(view), "S": JourneyState, "config": current_app.config}
    if view.state is JourneyState.DOWNLOAD:
        context["install_url"] = url_for("pwa.install", _external=True)
    if view.state is JourneyState.AWAITING_PHONE:
        journey = journey or session.get(Journey, view.journey_id)
        token, code = journeys.pairing_token(journey), journeys.pairing_code(journey)
        if token is None or code is None:  # the phone paired (or it ended) meanwhile: show that
            session.refresh(journey)
            return desktop_step_context(journeys.progress_view(journey), journey)
        url = url_for("phone.pair", token=token, _external=True)
        context.update(pairing_url=url, qr_svg=_qr_data_uri(url), pairing_code=code)
    return context


def sources_context(view, error=None):
    """What phone/_sources.html renders: the current person's sources and what is still needed."""
    required = journeys.required_sources(view.gemeente_code)
    return {"view": view, "fetches": view.current_fetches, "required": required,
            "missing": view.missing(required), "source_info": catalogue.BY_KEY, "error": error}


@functools.lru_cache(maxsize=512)
def _qr_data_uri(url):
    """The QR code of `url` (3 ms to make): kept for a while, as the step is drawn for the POST
    that showed it and again for every stream of the journey in this process. A pairing URL
    lives PAIRING_TTL_S; 512 of them are the QR codes of 512 journeys at this step at once."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr.svg(url).encode()).decode()


def _current_view(journey_id):
    return journeys.progress_view(journeys.journey_for_view(journey_id))


class DesktopStream:
    """The desktop's journey page: a change of step sends the whole step (`step`), a source's
    progress only the status line (`status`), a change the page does not show nothing."""

    kind = "desktop"

    __slots__ = ("journey_id", "order", "_state", "_frame", "_status")

    def __init__(self, journey_id):
        self.journey_id = journey_id
        # Of the last view rendered, only what the next needs: a stream holds it while it
        # waits, for every open desktop.
        self.order = self._state = self._frame = self._status = None

    def render(self, view=None):
        """The [(event, data)] to send for `view`; None (a connect, the QR code's timer)
        renders the whole step from the database."""
        whole = view is None
        context = desktop_step_context(view or _current_view(self.journey_id))
        view = context["view"]
        self.order, self._state = view.order, view.state
        frame = (view.state, view.second_device, view.steps)
        status = _fragment("desktop/_status.html", context)
        # Kept for every open desktop, so its hash rather than the line itself.
        if not whole and status and frame == self._frame:
            if hash(status) == self._status:
                return []
            self._status = hash(status)
            return [("status", status)]
        self._frame, self._status = frame, hash(status)
        return [("step", render_template("desktop/_step.html", **context))]

    def refresh_after(self):
        """Seconds until the shown QR code is renewed (render again then), or None."""
        if self._state is not JourneyState.AWAITING_PHONE:
            return None
        return journeys.seconds_until_new_qr(session.get(Journey, self.journey_id))


TAKEN_OVER = "elders"  # the phone stream's state once another device took the journey over


class PhoneStream:
    """The app's screen: the state (the page reloads its screen when the journey moved on
    elsewhere) and, while sources are fetched, their list (`sources`). Once another device
    took the journey over (webapp.domain.devices), the state `elders` only."""

    kind = "phone"

    __slots__ = ("journey_id", "phone_tag", "order")

    def __init__(self, journey_id, phone_tag=None):
        self.journey_id = journey_id
        self.phone_tag = phone_tag
        self.order = None  # the last rendered view's

    def render(self, view=None):
        view = view or _current_view(self.journey_id)
        self.order = view.order
        if self.phone_tag and view.phone_tag != self.phone_tag:
            return [("state", TAKEN_OVER)]  # another phone paired since this page opened
        messages = [("state", view.screen)]
        if view.state in FETCHING:
            messages.append(("sources", _fragment("phone/_sources.html", sources_context(view))))
        return messages

    def refresh_after(self):
        return None


def _fragment(name, context):
    """A fragment that needs only its context and the templates' globals, rendered without
    render_template's context processors and signals: for every event of every open page."""
    return current_app.jinja_env.get_template(name).render(context)


class StreamLimits:
    """How many event streams this process holds open per journey's device and per address.

    A journey's page may be open in a few tabs: a new stream beyond SSE_STREAMS_PER_DEVICE
    closes that device's oldest (never refused: a reconnect must always work; a tab that was
    closed this way reconnects in turn). Many phones share one carrier address, so the cap
    per address (SSE_STREAMS_PER_ADDRESS) is high; beyond it a stream is refused and the
    page polls. One cookie or one address cannot fill a web process with streams.

    It holds every open stream of the process, so a process that is stopping (a deploy, a
    scale-in) ends them all at once (`end_all`) rather than hold them until it is killed.
    """

    def __init__(self, per_device, per_address):
        self.per_device, self.per_address = per_device, per_address
        self._devices = defaultdict(list)  # (kind, journey): subscriptions, oldest first
        self._addresses = defaultdict(int)
        self._lock = threading.Lock()
        self.oldest_closed = self.refused = 0  # counted since the process started
        self.stopping = False

    def open(self, device, address, subscription):
        """Take a place for the stream, closing the device's oldest if needed; None, or why
        not as (message, status): the address has no room left, or the process is stopping."""
        with self._lock:
            if self.stopping:  # the proxy asks another process (503), a browser retries
                return "This process is stopping; connect again.", 503
            if self._addresses[address] >= self.per_address:
                self.refused += 1
                metrics.STREAMS_CLOSED.labels("address_cap").inc()
                return "Too many live updates from this address; poll instead.", 429
            self._addresses[address] += 1
            streams = self._devices[device]
            streams.append(subscription)
            while len(streams) > self.per_device:
                streams.pop(0).put(events.DISCONNECTED)  # its stream ends; the tab reconnects
                self.oldest_closed += 1
                metrics.STREAMS_CLOSED.labels("device_oldest").inc()
            return None

    def close(self, device, address, subscription):
        with self._lock:
            self._addresses[address] -= 1
            if not self._addresses[address]:
                del self._addresses[address]
            streams = self._devices[device]
            if subscription in streams:
                streams.remove(subscription)
            if not streams:
                del self._devices[device]

    def end_all(self):
        """The process is stopping: end every open stream, each with a clean end of its
        response, and refuse new ones. The browsers reconnect (EventSource's retry), through
        the proxy to another process, and get the current state first."""
        with self._lock:
            self.stopping = True
            subscriptions = [s for streams in self._devices.values() for s in streams]
        for subscription in subscriptions:
            subscription.put(events.DISCONNECTED)


def init_app(app):
    app.extensions["stream_limits"] = StreamLimits(app.config["SSE_STREAMS_PER_DEVICE"],
                                                   app.config["SSE_STREAMS_PER_ADDRESS"])

    @app.after_request
    def _view_version(response):
        if (order := g.get("view_order")) is not None:
            response.headers["X-View-Version"] = str(order)
        return response


def stream(journey_id, page):
    """An event-stream response for `page` (a DesktopStream or PhoneStream)."""
    app = current_app._get_current_object()
    if request.method == "HEAD":  # no body will be read: take no subscription, no place
        return app.response_class(mimetype="text/event-stream")
    heartbeat_s = app.config["SSE_HEARTBEAT_S"]
    try:
        subscription = events.bus(app).subscribe(events.channel_for(journey_id))
    except events.EventsUnavailable:
        return "Live updates are unavailable; poll instead.", 503
    limits = app.extensions["stream_limits"]
    device, address = (page.kind, journey_id), request.remote_addr
    if refused := limits.open(device, address, subscription):
        subscription.close()
        return refused

    kind = page.kind
    # The stream runs in this request's contexts, pushed by the generator itself rather than
    # by stream_with_context, and sends bytes as they are (direct passthrough): each generator
    # wrapped around another is a level of C stack that a waiting stream's greenlet keeps a
    # copy of, and tens of thousands of streams wait at once.
    contexts = (app_ctx._get_current_object(), request_ctx._get_current_object())

    def generate():
        app_context, request_context = contexts
        with app_context, request_context:
            metrics.STREAMS_OPEN.labels(kind).inc()
            try:
                yield b"retry: 2000\n\n"
                view = None
                while True:
                    end_session()  # read fresh state; hold no connection while waiting
                    if view is None or not _before(view.order, page.order):
                        for name, data in page.render(view):
                            yield _event(name, data, page.order).encode()
                            _sent(kind, name).inc()
                    # Nothing sent or received before is kept while the stream waits.
                    name = data = message = more = None
                    due = page.refresh_after()
                    deadline = None if due is None else time.monotonic() + due
                    end_session()
                    message = subscription.get(timeout=_wait_s(deadline, heartbeat_s))
                    while message is None:
                        if deadline is not None and time.monotonic() >= deadline:
                            break  # render again: the QR code is due for renewal
                        yield b": heartbeat\n\n"
                        message = subscription.get(timeout=_wait_s(deadline, heartbeat_s))
                    # Several changes at once: one render shows the newest.
                    view = _view_of(message)
                    while message not in (None, events.DISCONNECTED) and (
                            more := subscription.get(timeout=0)) is not None:
                        message = more
                        if more is not events.DISCONNECTED:
                            view = _newest(view, _view_of(more))
                    if message is events.DISCONNECTED:
                        return  # the browser reconnects, or polls while we cannot stream
            finally:
                metrics.STREAMS_OPEN.labels(kind).dec()
                subscription.close()
                limits.close(device, address, subscription)

    response = app.response_class(generate(), mimetype="text/event-stream", direct_passthrough=True)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@functools.cache
def _sent(kind, name):
    """The counter of events `name` sent to `kind` streams, looked up once per process."""
    return metrics.EVENTS_SENT.labels(kind, name)


def _view_of(message):
    """The view an event carries; None: render from the database."""
    return ProgressView.from_json(message["view"]) if isinstance(message, dict) and "view" in message else None


def _older(view, than):
    return than is not None and _before(view.order, than.order)


def _before(order, other):
    return order is not None and other is not None and order < other


def _newest(view, other):
    """Of two events' views, the one to render (None, the database's, is the newest)."""
    if view is None or other is None:
        return None
    return view if _older(other, view) else other


def _event(name, data, order=None):
    """One server-sent event (what flask_sse.Message formats, without its per-line work),
    its `id` the view's order."""
    event = f"event:{name}\ndata:" + "\ndata:".join(data.splitlines()) + "\n"
    return event + (f"id:{order}\n\n" if order is not None else "\n")


def _wait_s(deadline, heartbeat_s):
    if deadline is None:
        return heartbeat_s
    return max(0.05, min(heartbeat_s, deadline - time.monotonic()))
