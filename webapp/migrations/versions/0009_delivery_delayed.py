"""delivery delayed: how many times a consented dossier's delivery failed, and when it had
failed all its retries (the phone and desktop then say sending is delayed)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009", "0008"
branch_labels = depends_on = None


# Plain ALTER TABLE, also on SQLite (3.35 and later): a batch's copy of the table would have
# to drop `journey`, which the other tables' foreign keys refuse.
def upgrade():
    op.add_column("journey", sa.Column("delivery_failures", sa.Integer(), nullable=False,
                                       server_default="0"))
    op.add_column("journey", sa.Column("delivery_delayed_at", sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column("journey", "delivery_delayed_at")
    op.drop_column("journey", "delivery_failures")
