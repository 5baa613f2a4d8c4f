"""delivery lease: a run of a journey's delivery holds it until `delivering_until`, so two runs
of the same job never talk to the municipality at once

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0013", "0012"
branch_labels = depends_on = None


def upgrade():
    op.add_column("journey", sa.Column("delivering_until", sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column("journey", "delivering_until")
