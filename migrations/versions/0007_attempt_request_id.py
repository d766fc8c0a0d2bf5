"""the x-amzn-RequestId of a shop's latest verify attempt (for Amazon support)

Revision ID: 0007_attempt_request_id
Revises: 0006_shop_status_index
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_attempt_request_id"
down_revision = "0006_shop_status_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt_request_id", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_column("attempt_request_id")
