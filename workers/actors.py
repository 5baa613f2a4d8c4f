"""The Dramatiq actors: thin and idempotent, they take ids and call the use cases.

A use case asks for a job through the outbox (webapp.outbox.Job); each actor here is
declared under that job's name by `declare(broker)`, on the broker of the process that
runs them, never at import time.
"""

import dramatiq

from webapp import invitations, journeys, keys, outside
from webapp.domain.journey import DELIVERY_LEASE_S, DELIVERY_RETRIES
from webapp.outbox import QUEUE, Job


def send_mail(application_id):
    """Mail the invitation, or the reminder that is due (each once)."""
    invitations.send_mail(application_id)


def resend_mail(application_id, number, resend_id):
    """Send an application's latest mail again, as an operator asked."""
    invitations.resend_mail(application_id, number, resend_id)


def queue_mail(application_ids):
    """Ask for each application's mail on its own, so a failure retries one, not the batch."""
    invitations.queue_mails(application_ids)


def fetch_source(journey_id, role, source):
    """Fetch one source for one person of a journey."""
    journeys.fetch_source(journey_id, role, source)


def deliver_dossier(journey_id):
    """Deliver the consented dossier to the municipality; while another run of it holds the
    delivery, again once that hold ends (that run has delivered by then, or let go)."""
    try:
        journeys.deliver(journey_id)
    except journeys.DeliveryUnderWay as held:
        raise dramatiq.Retry(str(held), delay=int(1000 * max(1, held.wait_s + 1))) from None


def mail_undelivered(application_id, journey_id):
    """Tell the customer the dossier never arrived and the same link starts again."""
    invitations.mail_undelivered(application_id, journey_id)


def purge_journey(journey_id):
    """Remove the journey's personal data once the dossier is delivered."""
    journeys.purge(journey_id)


def forget_key(journey_id):
    """Delete a purged journey's data key that Redis could not delete at the purge."""
    journeys.forget_key(journey_id)


def send_restart_mail(application_id, journey_id):
    """Tell a customer who had consented that their journey ended and how to start again."""
    invitations.send_restart_mail(application_id, journey_id)


def _until_the_keys_are_back(tries):
    """Retry a job while the key store (Redis) is unreachable, however long: the journey's
    time to live ends it at the latest (the job then finds it purged); other errors `tries`."""
    def retry_when(retries, exception):
        return isinstance(exception, keys.KeysUnavailable) or retries < tries
    return retry_when


def _until_delivered_or_given_up(tries):
    """A delivery: tried again while the key store is unreachable or another run holds it,
    and after each failure at the municipality until the use case gives up (it counts those
    on the journey); any other error `tries` times."""
    def retry_when(retries, exception):
        if isinstance(exception, journeys.DeliveryGivenUp):
            return False
        return isinstance(exception, (keys.KeysUnavailable, dramatiq.Retry,
                                      outside.OutsideSystemError)) or retries < tries
    return retry_when


def _mail_worth_retrying(retries, exception):
    """Up to ten tries, but none for a mail that can never be sent: it goes to the dead letters."""
    return retries < 10 and not isinstance(exception, invitations.MailUndeliverable)


# Retries back off well below RabbitMQ's 30-minute consumer timeout.
MAIL_RETRIES = {"retry_when": _mail_worth_retrying, "min_backoff": 2_000, "max_backoff": 300_000}
ACTORS = {
    Job.SEND_MAIL: (send_mail, MAIL_RETRIES),
    Job.RESEND_MAIL: (resend_mail, MAIL_RETRIES),
    Job.QUEUE_MAIL: (queue_mail, {"max_retries": 10, "min_backoff": 1_000, "max_backoff": 60_000}),
    Job.FETCH_SOURCE: (fetch_source, {"retry_when": _until_the_keys_are_back(3), "min_backoff": 500,
                                      "max_backoff": 10_000}),
    # A run is stopped at half the delivery's lease, well before its hold ends (journeys.deliver).
    Job.DELIVER_DOSSIER: (deliver_dossier, {"retry_when":
                                            _until_delivered_or_given_up(DELIVERY_RETRIES),
                                            "min_backoff": 1_000, "max_backoff": 300_000,
                                            "time_limit": DELIVERY_LEASE_S * 1000 // 2}),
    Job.MAIL_UNDELIVERED: (mail_undelivered, MAIL_RETRIES),
    Job.PURGE_JOURNEY: (purge_journey, {"max_retries": 10, "min_backoff": 1_000,
                                        "max_backoff": 300_000}),
    Job.FORGET_KEY: (forget_key, {"retry_when": _until_the_keys_are_back(0), "min_backoff": 1_000,
                                  "max_backoff": 60_000}),
    Job.SEND_RESTART_MAIL: (send_restart_mail, MAIL_RETRIES),
}


def declare(broker, delivery_retries=DELIVERY_RETRIES):
    """Declare every actor on `broker` (a delivery that fails at the municipality is tried
    until the use case gives up after `delivery_retries`, the setting DELIVERY_RETRIES; other
    errors that many times too); returns them by job."""
    options = {job: dict(opts) for job, (_, opts) in ACTORS.items()}
    options[Job.DELIVER_DOSSIER]["retry_when"] = _until_delivered_or_given_up(delivery_retries)
    return {job: dramatiq.actor(fn, actor_name=job.value, queue_name=QUEUE, broker=broker,
                                **options[job])
            for job, (fn, _) in ACTORS.items()}
