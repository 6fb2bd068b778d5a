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
    pass


def downgrade():
    pass
