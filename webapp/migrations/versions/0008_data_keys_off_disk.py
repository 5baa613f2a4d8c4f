"""data keys off the disk: journey.data_key and person.bsn go; the DigiD identity is sealed
(person.sealed_bsn) under the journey's key, which lives in Redis or in the process
(webapp.keys); journey.key_made_at says a key was made; no statistics on personal columns

Revision ID: 0008
Revises: 0007

This migration drops columns in the release that stops using them, against the rule for
rolling deploys (README, "Schema"), on purpose: a key column that outlived the release would
keep every journey's key next to its ciphertext. Deploy it with the old web and worker
processes stopped (release, then start the new ones). Journeys under way at the upgrade
lose their data (its key goes with the column): they end as "key lost" and the customer
starts again with the invitation's link.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008", "0007"
branch_labels = depends_on = None

# ANALYZE copies sample values of every column into pg_statistic: none of these.
PERSONAL_COLUMNS = {
    "application": ("name", "email", "bsn", "partner_name", "partner_bsn"),
    "person": ("sealed_bsn",),
    "source_fetch": ("payload",),
}


def upgrade():
    # The old keys and plain BSNs are overwritten before their columns go: a dropped column's
    # values stay in the rows (PostgreSQL) or the pages until they are rewritten.
    op.execute("UPDATE journey SET data_key = NULL")
    op.execute("UPDATE person SET bsn = NULL")
    op.add_column("journey", sa.Column("key_made_at", sa.DateTime(), nullable=True))
    op.add_column("person", sa.Column("sealed_bsn", sa.LargeBinary(), nullable=True))
    # A journey under way that had a key had it here: from now on its key counts as lost (it
    # ends at its next step that needs one, as key_lost), and its old ciphertext goes.
    op.execute("UPDATE journey SET key_made_at = updated_at"
               " WHERE EXISTS (SELECT 1 FROM source_fetch f WHERE f.journey_id = journey.id)")
    op.execute("UPDATE source_fetch SET payload = NULL")
    # ALTER TABLE … DROP COLUMN, also on SQLite (3.35 and later): a batch's copy of the table
    # would have to drop `journey`, which the other tables' foreign keys refuse.
    op.drop_column("journey", "data_key")
    op.drop_column("person", "bsn")
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in PERSONAL_COLUMNS.items():
            for column in columns:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 0")
        # Statistics an earlier ANALYZE kept stay until removed; only a superuser can.
        op.execute("""
            DO $$ BEGIN
              IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                DELETE FROM pg_statistic s USING pg_attribute a
                 WHERE s.starelid = a.attrelid AND s.staattnum = a.attnum
                   AND (a.attrelid, a.attname) IN (
                     ('application'::regclass, 'name'), ('application'::regclass, 'email'),
                     ('application'::regclass, 'bsn'), ('application'::regclass, 'partner_name'),
                     ('application'::regclass, 'partner_bsn'));
              END IF;
            END $$""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in PERSONAL_COLUMNS.items():
            for column in columns:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS -1")
    op.add_column("person", sa.Column("bsn", sa.String(length=9), nullable=True))
    op.drop_column("person", "sealed_bsn")
    op.add_column("journey", sa.Column("data_key", sa.LargeBinary(), nullable=True))
    op.drop_column("journey", "key_made_at")
