"""view version: a counter on the journey that every published progress view takes the next
value of, so every process orders a journey's live updates the same way

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0011", "0010"
branch_labels = depends_on = None


# No existing column grows with every change: `updated_at` is not touched when a source's
# status changes, and clocks (a frozen one in tests, several machines') may repeat a value.
# A defaulted column: old processes during a rolling deploy insert journeys without it.
def upgrade():
    op.add_column("journey", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    op.drop_column("journey", "version")
