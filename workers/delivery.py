import dramatiq

from webapp import journeys


@dramatiq.actor(max_retries=10, min_backoff=1_000, max_backoff=300_000)
def deliver_dossier(journey_id):
    """Deliver the consented dossier to the municipality."""
    journeys.deliver(journey_id)


@dramatiq.actor(max_retries=10, min_backoff=1_000, max_backoff=300_000)
def purge_journey(journey_id):
    """Remove the journey's personal data once the dossier is delivered."""
    journeys.purge(journey_id)
