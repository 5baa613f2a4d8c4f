"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 13:26:44.099624
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('application',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('gemeente_code', sa.String(length=6), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('has_partner', sa.Boolean(), nullable=False),
    sa.Column('invitation_sent_at', sa.DateTime(), nullable=True),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('bsn', sa.String(length=9), nullable=True),
    sa.Column('partner_name', sa.String(length=100), nullable=True),
    sa.Column('partner_bsn', sa.String(length=9), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('receipt',
    sa.Column('journey_id', sa.String(length=32), nullable=False),
    sa.Column('gemeente_code', sa.String(length=6), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('consent_at', sa.DateTime(), nullable=True),
    sa.Column('consent_sources', sa.Text(), nullable=True),
    sa.Column('consent_roles', sa.String(length=32), nullable=True),
    sa.Column('delivery_reference', sa.String(length=64), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('journey_id')
    )
    op.create_table('journey',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('application_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('phone_only', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('desktop_secret_hash', sa.String(length=64), nullable=False),
    sa.Column('pairing_nonce', sa.String(length=32), nullable=True),
    sa.Column('pairing_token_hash', sa.String(length=64), nullable=True),
    sa.Column('pairing_expires_at', sa.DateTime(), nullable=True),
    sa.Column('phone_secret_hash', sa.String(length=64), nullable=True),
    sa.Column('paired_at', sa.DateTime(), nullable=True),
    sa.Column('data_key', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pairing_token_hash')
    )
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('journey_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('logged_in_at', sa.DateTime(), nullable=False),
    sa.Column('bsn', sa.String(length=9), nullable=True),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('journey_id', 'role')
    )
    op.create_table('source_fetch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('journey_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('journey_id', 'role', 'source')
    )


def downgrade():
    op.drop_table('source_fetch')
    op.drop_table('person')
    op.drop_table('journey')
    op.drop_table('receipt')
    op.drop_table('application')
