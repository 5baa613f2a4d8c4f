"""Dramatiq actors: thin and idempotent, they take ids and call webapp.journeys.

`dramatiq workers` imports this package: the broker module first, then every actor.
"""

from messaging import broker  # noqa: F401  (sets the broker before any actor exists)

from . import delivery, mail, privacy, sources  # noqa: F401,E402
