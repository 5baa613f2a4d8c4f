"""pairing code hash: the code under the QR code is looked up by its keyed hash

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:15:00

A journey waiting at the upgrade gets its hash when its QR code next rotates (within
PAIRING_TTL_S); until then its code is refused and the QR code still works.
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('journey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pairing_code_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_journey_pairing_code_hash'), ['pairing_code_hash'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('journey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journey_pairing_code_hash'))
        batch_op.drop_column('pairing_code_hash')
