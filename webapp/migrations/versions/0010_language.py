"""language: the language of an application (nl or en), for its mails and every device that
opens its link

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0010", "0009"
branch_labels = depends_on = None


def upgrade():
    op.add_column("application", sa.Column("language", sa.String(5), nullable=False,
                                           server_default="nl"))


def downgrade():
    op.drop_column("application", "language")
