"""alerts: channels, events, messages, deliveries, seen marks; company alert language; user mention ids

Revision ID: 0014_alerts
Revises: 0013_order_indexes
"""
import sqlalchemy as sa
from alembic import op


revision = "0014_alerts"
down_revision = "0013_order_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_language", sa.String(length=8), server_default="zh", nullable=False))
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_mobile", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("alert_user_id", sa.String(length=64), nullable=True))
    op.create_table(
        "alert_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("name_key", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("mention_assignees", sa.Boolean(), nullable=False),
        sa.Column("config_ciphertext", sa.Text(), nullable=True),
        sa.Column("target_host", sa.String(length=255), nullable=True),
        sa.Column("has_secret", sa.Boolean(), nullable=False),
        sa.Column("email_to", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_test_at", sa.DateTime(), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_summary", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_alert_channel_company_id_company"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_alert_channel_created_by_id_user_account"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_channel")),
        sa.UniqueConstraint("company_id", "name_key", name="uq_alert_channel_company_name"),
    )
    with op.batch_alter_table("alert_channel", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_channel_company_id"), ["company_id"], unique=False)
    op.create_table(
        "alert_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_alert_event_company_id_company"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_alert_event_shop_id_shop"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_event")),
        sa.UniqueConstraint("shop_id", "kind", "episode", name="uq_alert_event_shop_kind_episode"),
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index("ix_alert_event_company_open", ["company_id", "closed_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_event_shop_id"), ["shop_id"], unique=False)
    op.create_table(
        "alert_seen",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["alert_event.id"], name=op.f("fk_alert_seen_event_id_alert_event"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_alert_seen_user_id_user_account"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_alert_seen")),
    )
    with op.batch_alter_table("alert_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_seen_user_id"), ["user_id"], unique=False)
    op.create_table(
        "alert_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_summary", sa.String(length=300), nullable=True),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_alert_message_company_id_company"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["alert_channel.id"],
                                name=op.f("fk_alert_message_channel_id_alert_channel"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_message")),
    )
    with op.batch_alter_table("alert_message", schema=None) as batch_op:
        batch_op.create_index("ix_alert_message_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_alert_message_company_created", ["company_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_message_channel_id"), ["channel_id"], unique=False)
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["alert_event.id"],
                                name=op.f("fk_alert_delivery_event_id_alert_event"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["alert_channel.id"],
                                name=op.f("fk_alert_delivery_channel_id_alert_channel"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["alert_message.id"],
                                name=op.f("fk_alert_delivery_message_id_alert_message"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint("event_id", "channel_id", name="uq_alert_delivery_event_channel"),
    )
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_alert_delivery_channel_waiting", ["channel_id", "message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_delivery_message_id"), ["message_id"], unique=False)


def downgrade():
    op.drop_table("alert_delivery")
    op.drop_table("alert_message")
    op.drop_table("alert_seen")
    op.drop_table("alert_event")
    op.drop_table("alert_channel")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("alert_user_id")
        batch_op.drop_column("alert_mobile")
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("alert_language")
