"""The release step of a deployment: `python -m webapp.release` upgrades the database the
environment names (DATABASE_URL, or the embedded SQLite file) to the newest schema.

The Procfile's `release` line; run once per deploy, before the new processes start.
"""

from . import migrate
from .config import Config
from .db import make_engine


def main():
    engine = make_engine(Config().DATABASE_URL)
    migrate.upgrade(engine)
    engine.dispose()
    print("database schema is up to date")


if __name__ == "__main__":
    main()
