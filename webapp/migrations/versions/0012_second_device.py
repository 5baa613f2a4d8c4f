"""second device: when a device last scanned one of the journey's QR codes after it stopped
working, kept on the journey, so a progress view reads it with the journey instead of
searching the pairing tokens every time (every published view, every page)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0012", "0011"
branch_labels = depends_on = None


def upgrade():
    op.add_column("journey", sa.Column("second_device_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE journey SET second_device_at = (SELECT max(refused_at) FROM pairing_token "
               "WHERE pairing_token.journey_id = journey.id) WHERE EXISTS (SELECT 1 FROM "
               "pairing_token WHERE pairing_token.journey_id = journey.id "
               "AND pairing_token.refused_at IS NOT NULL)")


def downgrade():
    op.drop_column("journey", "second_device_at")
