"""daily goal and calendar feed token

Revision ID: b2c3d4e5f6a7
Revises: a1b2c3d4e5f6
Create Date: 2026-12-01 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b2c3d4e5f6a7'
down_revision = 'a1b2c3d4e5f6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('daily_goal', sa.Integer(), server_default='8', nullable=False))
        batch_op.add_column(sa.Column('calendar_secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('calendar_secret_created_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_users_calendar_secret_hash', ['calendar_secret_hash'], unique=True)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_calendar_secret_hash')
        batch_op.drop_column('calendar_secret_created_at')
        batch_op.drop_column('calendar_secret_hash')
        batch_op.drop_column('daily_goal')
