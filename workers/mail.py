import dramatiq

from webapp import invitations


@dramatiq.actor(max_retries=10, min_backoff=2_000, max_backoff=300_000)
def send_mail(application_id):
    """Mail the invitation, or the reminder that is due (each once)."""
    invitations.send_mail(application_id)


@dramatiq.actor(max_retries=10, min_backoff=1_000, max_backoff=60_000)
def queue_mail(application_ids):
    """Queue each application's mail on its own, so a failure retries one, not the batch."""
    for application_id in application_ids:
        send_mail.send(application_id)
