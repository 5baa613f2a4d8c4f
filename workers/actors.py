"""The Dramatiq actors: thin and idempotent, they take ids and call the use cases.

A use case asks for a job through the outbox (webapp.outbox.Job); each actor here is
declared under that job's name by `declare(broker)`, on the broker of the process that
runs them, never at import time.
"""

import dramatiq

from webapp import invitations, journeys
from webapp.domain.journey import DELIVERY_RETRIES
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
    """Deliver the consented dossier to the municipality."""
    journeys.deliver(journey_id)


def mail_undelivered(application_id, journey_id):
    """Tell the customer the dossier never arrived and the same link starts again."""
    invitations.mail_undelivered(application_id, journey_id)


def purge_journey(journey_id):
    """Remove the journey's personal data once the dossier is delivered."""
    journeys.purge(journey_id)


def _mail_worth_retrying(retries, exception):
    """Up to ten tries, but none for a mail that can never be sent: it goes to the dead letters."""
    return retries < 10 and not isinstance(exception, invitations.MailUndeliverable)


# Retries back off well below RabbitMQ's 30-minute consumer timeout.
ACTORS = {
    Job.SEND_MAIL: (send_mail, {"retry_when": _mail_worth_retrying, "min_backoff": 2_000,
                                "max_backoff": 300_000}),
    Job.RESEND_MAIL: (resend_mail, {"retry_when": _mail_worth_retrying, "min_backoff": 2_000,
                                    "max_backoff": 300_000}),
    Job.QUEUE_MAIL: (queue_mail, {"max_retries": 10, "min_backoff": 1_000, "max_backoff": 60_000}),
    Job.FETCH_SOURCE: (fetch_source, {"max_retries": 3, "min_backoff": 500, "max_backoff": 10_000}),
    Job.DELIVER_DOSSIER: (deliver_dossier, {"max_retries": DELIVERY_RETRIES, "min_backoff": 1_000,
                                            "max_backoff": 300_000}),
    Job.MAIL_UNDELIVERED: (mail_undelivered, {"retry_when": _mail_worth_retrying,
                                              "min_backoff": 2_000, "max_backoff": 300_000}),
    Job.PURGE_JOURNEY: (purge_journey, {"max_retries": 10, "min_backoff": 1_000,
                                        "max_backoff": 300_000}),
}


def declare(broker, delivery_retries=DELIVERY_RETRIES):
    """Declare every actor on `broker` (a delivery retried `delivery_retries` times: the
    setting DELIVERY_RETRIES, which the use case counts against too); returns them by job."""
    options = {job: dict(opts) for job, (_, opts) in ACTORS.items()}
    options[Job.DELIVER_DOSSIER]["max_retries"] = delivery_retries
    return {job: dramatiq.actor(fn, actor_name=job.value, queue_name=QUEUE, broker=broker,
                                **options[job])
            for job, (fn, _) in ACTORS.items()}
