"""funnel: daily aggregates per municipality and step, each application's last counted step;
operator sessions of the dashboard

Revision ID: 0007
Revises: 0006

Applications made before this upgrade have no counted step and are not counted (the funnel
begins with the upgrade).
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0007", "0006"
branch_labels = depends_on = None


def upgrade():
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(sa.Column("funnel_step", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("funnel_step_at", sa.DateTime(), nullable=True))
    op.create_table(
        "funnel_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("gemeente_code", sa.String(length=6), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "gemeente_code", "step", "reminders_sent", "bucket"))
    op.create_table(
        "operator_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"))


def downgrade():
    op.drop_table("operator_session")
    op.drop_table("funnel_day")
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_column("funnel_step_at")
        batch_op.drop_column("funnel_step")
