"""clock tick and the job's request id: for the operators' alerts and logs

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0006", "0005"
branch_labels = depends_on = None


def upgrade():
    op.create_table("clock_tick",
                    sa.Column("name", sa.String(length=20), primary_key=True),
                    sa.Column("at", sa.DateTime(), nullable=False))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("request_id")
    op.drop_table("clock_tick")
