"""state of "Authorize with Amazon" attempts

Revision ID: 0008_amazon_auth_state
Revises: 0007_attempt_request_id
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_amazon_auth_state"
down_revision = "0007_attempt_request_id"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "amazon_auth_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("marketplace_id", sa.String(length=20), nullable=False),
        sa.Column("shop_name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("seller_id", sa.String(length=32), nullable=True),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        sa.Column("participations", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_amazon_auth_state_company_id_company"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_amazon_auth_state_shop_id_shop"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_amazon_auth_state_user_id_user_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_auth_state")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_amazon_auth_state_state_hash")),
    )
    with op.batch_alter_table("amazon_auth_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_amazon_auth_state_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("amazon_auth_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amazon_auth_state_user_id"))
    op.drop_table("amazon_auth_state")
