"""outbox: job requests committed with the change that needs them

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005", "0004"
branch_labels = depends_on = None


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("message_id", sa.String(length=36), nullable=False, unique=True),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("args", sa.Text(), nullable=False))


def downgrade():
    op.drop_table("outbox")
