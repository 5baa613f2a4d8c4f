"""pairing tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 14:06:32.939771
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pairing_token',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('journey_id', sa.String(length=32), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('refused_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('pairing_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pairing_token_journey_id'), ['journey_id'], unique=False)



def downgrade():
    with op.batch_alter_table('pairing_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pairing_token_journey_id'))

    op.drop_table('pairing_token')
