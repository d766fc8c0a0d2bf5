"""index for shop counts and the attention banner

Revision ID: 0006_shop_status_index
Revises: 0005_audit
"""
from alembic import op

revision = "0006_shop_status_index"
down_revision = "0005_audit"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.create_index("ix_shop_company_authorization_status", ["company_id", "authorization_id", "check_status"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_company_authorization_status")
