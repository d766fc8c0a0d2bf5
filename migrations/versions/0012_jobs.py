"""job queue: job runs, consumer heartbeats, claimed periodic slots

Revision ID: 0012_jobs
Revises: 0011_orders_sync
"""
import sqlalchemy as sa
from alembic import op


revision = "0012_jobs"
down_revision = "0011_orders_sync"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("authorization_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("summary", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("consumer", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_job_run_company_id_company"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
    )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.create_index("ix_job_run_company_started", ["company_id", "started_at"], unique=False)
        batch_op.create_index("ix_job_run_authorization", ["authorization_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_run_queued_at"), ["queued_at"], unique=False)
    op.create_table(
        "job_heartbeat",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_job_heartbeat")),
    )
    with op.batch_alter_table("job_heartbeat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_heartbeat_beat_at"), ["beat_at"], unique=False)
    op.create_table(
        "job_claim",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("consumer", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_claim")),
    )


def downgrade():
    op.drop_table("job_claim")
    with op.batch_alter_table("job_heartbeat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_heartbeat_beat_at"))
    op.drop_table("job_heartbeat")
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_run_queued_at"))
        batch_op.drop_index("ix_job_run_authorization")
        batch_op.drop_index("ix_job_run_company_started")
    op.drop_table("job_run")
