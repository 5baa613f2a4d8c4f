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
    # The old keys and plain BSNs are overwritten before the columns go (on SQLite the batch
    # copies the table; on PostgreSQL a dropped column's values stay in the rows until they
    # are rewritten).
    op.execute("UPDATE journey SET data_key = NULL")
    op.execute("UPDATE person SET bsn = NULL")
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_made_at", sa.DateTime(), nullable=True))
        batch_op.drop_column("data_key")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_bsn", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("bsn")
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
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bsn", sa.String(length=9), nullable=True))
        batch_op.drop_column("sealed_bsn")
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_key", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("key_made_at")
