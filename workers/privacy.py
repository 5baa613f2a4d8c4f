import dramatiq

from webapp import privacy


@dramatiq.actor(max_retries=3, min_backoff=5_000, max_backoff=60_000)
def purge_overdue_journeys():
    """Purge what has passed its time to live (the clock sends this every minute)."""
    privacy.purge_overdue()
