"""Dead letters as the dashboard reads and retries them (messaging.deadletters), on the
StubBroker and on a real RabbitMQ: listed by job and error class, one put back by its id
runs again from its first try, the others stay where they were."""

import threading

import dramatiq
import pytest

from messaging import deadletters
from messaging.broker import make_broker
from tests.services import fresh_rabbitmq_vhost

from .deployment import wait_for


class Flaky(Exception):
    pass


@pytest.fixture(params=["stub", "rabbitmq"])
def broker(request):
    if request.param == "stub":
        broker = make_broker(None)
        yield broker
        broker.close()
        return
    url, delete_vhost = fresh_rabbitmq_vhost()
    broker = make_broker(url)
    yield broker
    broker.close()
    delete_vhost()


def test_a_dead_letter_is_listed_and_put_back_by_its_id(broker):
    attempts, done = {}, threading.Event()

    def sometimes_fails(name):
        attempts[name] = attempts.get(name, 0) + 1
        if attempts[name] == 1:
            raise Flaky(f"first try of {name}")  # the message may hold data: never shown
        done.set()

    actor = dramatiq.actor(sometimes_fails, actor_name="sometimes_fails", queue_name="default",
                           broker=broker, max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        first, second = actor.send("eerste"), actor.send("tweede")
        wait_for(lambda: deadletters.count(broker, "default") == 2, 30, "two dead letters")
        found = deadletters.dead_letters(broker, "default")
        assert {letter.message_id for letter in found} == {first.message_id, second.message_id}
        letter = next(letter for letter in found if letter.message_id == first.message_id)
        assert letter.actor_name == "sometimes_fails" and letter.args == ("eerste",)
        if isinstance(broker, dramatiq.brokers.stub.StubBroker):  # RabbitMQ keeps the message as sent
            assert letter.error == "Flaky" and letter.failed_at is not None
        assert deadletters.count(broker, "default") == 2  # reading leaves them there

        assert deadletters.requeue(broker, "default", {first.message_id})
        assert done.wait(30), "the requeued job never ran again"
        assert attempts == {"eerste": 2, "tweede": 1}
        remaining = deadletters.dead_letters(broker, "default")
        assert [letter.message_id for letter in remaining] == [second.message_id]
        assert not deadletters.requeue(broker, "default", {first.message_id})  # not dead any more
    finally:
        worker.stop()
