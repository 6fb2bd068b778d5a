"""normalised e-mail and browser sessions

Revision ID: d4e5f6a7b8c9
Revises: c3d4e5f6a7b8
Create Date: 2026-12-01 15:10:00.000000

"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = 'c3d4e5f6a7b8'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('id', sa.String), sa.column('email', sa.String),
                 sa.column('email_key', sa.String), sa.column('created_at', sa.DateTime))


def email_key(email: str) -> str:
    """pomodoro.models.email_key as it was when this migration was written
    (a migration keeps its own copy: the model's rule may change after it)."""
    text = unicodedata.normalize("NFKC", email.strip())
    return unicodedata.normalize("NFKC", text.casefold())


def upgrade():
    op.create_table('browser_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('browser_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_browser_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=True))

    # Every existing address gets its key. Two accounts whose addresses the
    # new rule calls the same (the old lower() let some pairs through): the
    # oldest keeps the address; a later one gets a key no one can type
    # ("#<id>" appended), so it stays as it was, unable to log in by that
    # address, and can be merged or renamed by hand.
    connection = op.get_bind()
    taken = set()
    rows = connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.created_at, users.c.id)).all()
    for user_id, email in rows:
        key = email_key(email)[:254]
        if key in taken:
            key = f"{key[:254 - 33]}#{user_id}"
        taken.add(key)
        connection.execute(users.update().where(users.c.id == user_id).values(email_key=key))

    op.drop_index('uq_users_email_lower', table_name='users')  # an expression index: SQLite's batch cannot see it
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('email_key', existing_type=sa.String(length=254), nullable=False)
        batch_op.create_index('uq_users_email_key', ['email_key'], unique=True)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_email_key')
        batch_op.drop_column('email_key')
    op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)

    with op.batch_alter_table('browser_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_browser_sessions_user_id'))
    op.drop_table('browser_sessions')
