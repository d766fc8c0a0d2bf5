"""orders from Amazon: Amazon columns on store_order, per-authorization sync state

Revision ID: 0011_orders_sync
Revises: 0010_sort_keys
"""
import sqlalchemy as sa
from alembic import op


revision = "0011_orders_sync"
down_revision = "0010_sort_keys"
branch_labels = None
depends_on = None

ORDER_COLUMNS = (
    ("amazon_order_id", sa.String(length=64)),
    ("marketplace_id", sa.String(length=20)),
    ("amazon_status", sa.String(length=32)),
    ("fulfillment_channel", sa.String(length=16)),
    ("item_count", sa.Integer()),
    ("ordered_at", sa.DateTime()),
    ("last_updated_at", sa.DateTime()),
    ("synced_at", sa.DateTime()),
)


def upgrade():
    with op.batch_alter_table("store_order", schema=None) as batch_op:
        for name, type_ in ORDER_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_unique_constraint("uq_store_order_amazon_order", ["company_id", "source", "amazon_order_id"])

    op.create_table(
        "orders_sync_state",
        sa.Column("authorization_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bucket_level", sa.Float(), nullable=False),
        sa.Column("bucket_at", sa.Float(), nullable=False),
        sa.Column("cursor_at", sa.DateTime(), nullable=True),
        sa.Column("run_family", sa.String(length=8), nullable=True),
        sa.Column("run_after", sa.DateTime(), nullable=True),
        sa.Column("run_before", sa.DateTime(), nullable=True),
        sa.Column("run_marketplaces", sa.Text(), nullable=True),
        sa.Column("run_chunk", sa.Integer(), nullable=False),
        sa.Column("run_token", sa.Text(), nullable=True),
        sa.Column("run_started_at", sa.DateTime(), nullable=True),
        sa.Column("run_pages", sa.Integer(), nullable=False),
        sa.Column("run_orders", sa.Integer(), nullable=False),
        sa.Column("last_started_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_orders", sa.Integer(), nullable=False),
        sa.Column("orders_total", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_detail", sa.String(length=300), nullable=True),
        sa.Column("error_at", sa.DateTime(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_token_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["authorization_id"], ["seller_authorization.id"],
                                name=op.f("fk_orders_sync_state_authorization_id_seller_authorization"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_orders_sync_state_company_id_company"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("authorization_id", name=op.f("pk_orders_sync_state")),
    )
    with op.batch_alter_table("orders_sync_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_sync_state_company_id"), ["company_id"], unique=False)


def downgrade():
    with op.batch_alter_table("orders_sync_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_sync_state_company_id"))
    op.drop_table("orders_sync_state")
    with op.batch_alter_table("store_order", schema=None) as batch_op:
        batch_op.drop_constraint("uq_store_order_amazon_order", type_="unique")
        for name, _ in reversed(ORDER_COLUMNS):
            batch_op.drop_column(name)
