"""users, tokens, cycles and sessions

Revision ID: 966ffe982391
Revises: 
Create Date: 2026-11-24 11:00:21.758298

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '966ffe982391'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('work_seconds', sa.Integer(), nullable=False),
    sa.Column('short_break_seconds', sa.Integer(), nullable=False),
    sa.Column('long_break_seconds', sa.Integer(), nullable=False),
    sa.Column('long_break_interval', sa.Integer(), nullable=False),
    sa.Column('auto_start_breaks', sa.Boolean(), nullable=False),
    sa.Column('auto_start_work', sa.Boolean(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('cycles',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('completed_work_sessions', sa.Integer(), nullable=False),
    sa.Column('long_break_interval', sa.Integer(), nullable=False),
    sa.Column('next_session_type', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("next_session_type IN ('work', 'short_break', 'long_break')", name='ck_cycles_next_session_type'),
    sa.CheckConstraint("status IN ('active', 'finished')", name='ck_cycles_status'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.create_index('ix_cycles_user_created', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('uq_cycles_one_active_per_user', ['user_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('cycle_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('remaining_seconds', sa.Double(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('running', 'paused', 'completed', 'cancelled')", name='ck_sessions_status'),
    sa.CheckConstraint("type IN ('work', 'short_break', 'long_break')", name='ck_sessions_type'),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index('ix_sessions_status_ends_at', ['status', 'ends_at'], unique=False)
        batch_op.create_index('ix_sessions_user_started', ['user_id', 'started_at'], unique=False)
        batch_op.create_index('uq_sessions_one_open_per_user', ['user_id'], unique=True, sqlite_where=sa.text("status IN ('running', 'paused')"), postgresql_where=sa.text("status IN ('running', 'paused')"))



def downgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('uq_sessions_one_open_per_user', sqlite_where=sa.text("status IN ('running', 'paused')"), postgresql_where=sa.text("status IN ('running', 'paused')"))
        batch_op.drop_index('ix_sessions_user_started')
        batch_op.drop_index('ix_sessions_status_ends_at')
        batch_op.drop_index(batch_op.f('ix_sessions_cycle_id'))

    op.drop_table('sessions')
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.drop_index('uq_cycles_one_active_per_user', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index('ix_cycles_user_created')

    op.drop_table('cycles')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_index('uq_users_email_lower', table_name='users')
    op.drop_table('users')
