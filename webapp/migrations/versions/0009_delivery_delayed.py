"""delivery delayed: how many times a consented dossier's delivery failed, and when it had
failed all its retries (the phone and desktop then say sending is delayed)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009", "0008"
branch_labels = depends_on = None


def upgrade():
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_failures", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("delivery_delayed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.drop_column("delivery_delayed_at")
        batch_op.drop_column("delivery_failures")
