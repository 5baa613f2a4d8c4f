"""reminder schedule

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 14:04:07.993630
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reminders_sent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_mail_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('mail_claimed_until', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_application_next_mail_at', ['next_mail_at'], unique=False, postgresql_where=sa.text('next_mail_at IS NOT NULL'), sqlite_where=sa.text('next_mail_at IS NOT NULL'))



def downgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_next_mail_at', postgresql_where=sa.text('next_mail_at IS NOT NULL'), sqlite_where=sa.text('next_mail_at IS NOT NULL'))
        batch_op.drop_column('mail_claimed_until')
        batch_op.drop_column('next_mail_at')
        batch_op.drop_column('reminders_sent')
        batch_op.drop_column('expires_at')

