"""counters shared by every worker: sign-in throttling, sampling of anonymous audit events

Revision ID: 0009_security
Revises: 0008_amazon_auth_state
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_security"
down_revision = "0008_amazon_auth_state"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "throttle_counter",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("reset_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counter")),
    )
    with op.batch_alter_table("throttle_counter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_throttle_counter_reset_at"), ["reset_at"], unique=False)


def downgrade():
    with op.batch_alter_table("throttle_counter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttle_counter_reset_at"))
    op.drop_table("throttle_counter")
