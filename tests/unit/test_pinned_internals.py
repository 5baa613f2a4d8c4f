"""What messaging/ takes from Dramatiq's and flask-sse's insides, checked on the installed
versions. pyproject.toml pins both to the range tested here; a new version that moves one of
these fails here, by name, before anything runs on it. Nothing connects: no broker, no Redis.
"""

import inspect
import json
import threading
from unittest import mock

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import Retries
from flask_sse import ServerSentEventsBlueprint

from messaging.broker import ErrorsWithoutValues, SharedConnectionRabbitmqBroker

URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # never reached: nothing here connects


class FakeConnection:
    is_open = True

    def channel(self):
        return mock.Mock(is_open=True)


def test_rabbitmq_broker_keeps_its_connection_and_channel_in_self_state():
    """SharedConnectionRabbitmqBroker swaps `state` (a thread-local in Dramatiq) for one
    holder per process: the connection Dramatiq reads must come from there, in any thread."""
    broker = SharedConnectionRabbitmqBroker(url=URL, confirm_delivery=True)
    with mock.patch("pika.BlockingConnection", return_value=FakeConnection()) as opened:
        first = broker.connection
        seen = []
        thread = threading.Thread(target=lambda: seen.append((broker.connection, broker.channel)))
        thread.start()
        thread.join()
    assert opened.call_count == 1, "Dramatiq no longer keeps its connection in `self.state`"
    assert seen[0][0] is first and broker.state.connection is first
    assert broker.state.channel is seen[0][1] and broker.channel is seen[0][1]


def test_rabbitmq_broker_methods_we_wrap_keep_their_signatures():
    assert "delay" in inspect.signature(RabbitmqBroker.enqueue).parameters
    assert "ensure" in inspect.signature(RabbitmqBroker.declare_queue).parameters
    broker = RabbitmqBroker(url=URL)
    assert broker.parameters.host == "127.0.0.1"  # messaging/deadletters.py connects with these


def test_the_queue_names_of_delayed_and_dead_messages():
    assert (dq_name("default"), xq_name("default")) == ("default.DQ", "default.XQ")


def test_stub_broker_keeps_dead_letters_by_queue():
    broker = StubBroker()
    broker.emit_after("process_boot")
    assert isinstance(broker.dead_letters_by_queue["default"], list)


def test_retries_put_the_traceback_in_the_message_options_where_we_trim_it():
    """ErrorsWithoutValues keeps only the error's class of what Retries stores."""
    assert 'message.options["traceback"]' in inspect.getsource(Retries.after_process_message)
    message = dramatiq.Message(queue_name="default", actor_name="a", args=(), kwargs={},
                               options={"traceback": "Traceback …\nsmtplib.SMTPRecipientsRefused: {'x@y'}"})
    ErrorsWithoutValues().before_enqueue(None, message, None)
    assert message.options["traceback"] == "smtplib.SMTPRecipientsRefused"
    hooks = {"before_enqueue", "after_nack", "before_process_message", "after_process_message",
             "after_skip_message"}
    assert hooks <= set(dir(dramatiq.Middleware))


def test_flask_sse_publishes_through_self_redis_as_json_with_data():
    """RedisEvents overrides `redis` and reads what `publish` writes: {"data": …}."""
    blueprint = ServerSentEventsBlueprint("sse", __name__)
    client = mock.Mock()
    with mock.patch.object(ServerSentEventsBlueprint, "redis", client):
        blueprint.publish({"state": "done"}, channel="journey:1")
    (call,) = client.publish.call_args_list
    assert call.kwargs["channel"] == "journey:1"
    assert json.loads(call.kwargs["message"])["data"] == {"state": "done"}
    assert isinstance(inspect.getattr_static(ServerSentEventsBlueprint, "redis"), property)
