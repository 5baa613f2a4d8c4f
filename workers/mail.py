import dramatiq

from webapp import invitations


@dramatiq.actor(max_retries=10, min_backoff=2_000, max_backoff=300_000)
def send_invitation(application_id):
    """Mail the invitation with the personal link (once)."""
    invitations.send_invitation(application_id)
