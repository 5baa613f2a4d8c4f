import dramatiq

from webapp import journeys


@dramatiq.actor(max_retries=3, min_backoff=500, max_backoff=10_000)
def fetch_source(journey_id, role, source):
    """Fetch one source for one person of a journey."""
    journeys.fetch_source(journey_id, role, source)
