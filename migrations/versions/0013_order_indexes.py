"""Orders page: indexes for a company's and a shop's orders, newest first

Revision ID: 0013_order_indexes
Revises: 0012_jobs
"""
from alembic import op

revision = "0013_order_indexes"
down_revision = "0012_jobs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_store_order_company_date", "store_order", ["company_id", "order_date", "id"])
    op.create_index("ix_store_order_shop_date", "store_order", ["shop_id", "order_date", "id"])


def downgrade():
    op.drop_index("ix_store_order_shop_date", table_name="store_order")
    op.drop_index("ix_store_order_company_date", table_name="store_order")
