"""tasks, session task, note and interruptions

Revision ID: a1b2c3d4e5f6
Revises: 966ffe982391
Create Date: 2026-12-01 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1b2c3d4e5f6'
down_revision = '966ffe982391'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tasks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('estimated_pomodoros', sa.Integer(), nullable=False),
    sa.Column('completed_pomodoros', sa.Integer(), nullable=False),
    sa.Column('focused_seconds', sa.Double(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_user_position', ['user_id', 'done', 'position'], unique=False)
        batch_op.create_index('uq_tasks_one_active_per_user', ['user_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    # Existing sessions keep their rows: no task, no note, no interruptions.
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('interruptions_internal', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('interruptions_external', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_sessions_task_id'), ['task_id'], unique=False)
        batch_op.create_foreign_key('fk_sessions_task_id_tasks', 'tasks', ['task_id'], ['id'], ondelete='SET NULL')

def downgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sessions_task_id_tasks', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sessions_task_id'))
        batch_op.drop_column('interruptions_external')
        batch_op.drop_column('interruptions_internal')
        batch_op.drop_column('note')
        batch_op.drop_column('task_id')

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_tasks_one_active_per_user', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
        batch_op.drop_index('ix_tasks_user_position')

    op.drop_table('tasks')
