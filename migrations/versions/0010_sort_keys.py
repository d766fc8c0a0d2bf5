"""stored sort keys (pinyin for Chinese names) for shops, other stores and users, with their list indexes

Revision ID: 0010_sort_keys
Revises: 0009_security
"""
import sqlalchemy as sa
from alembic import op

from portal.sorting import SortKeyType, sort_key

revision = "0010_sort_keys"
down_revision = "0009_security"
branch_labels = None
depends_on = None

# table -> (the name column the key is computed from, the index of the list that sorts by it)
TABLES = {
    "shop": ("name", "ix_shop_company_sort_name"),
    "other_store": ("name", "ix_other_store_company_sort_name"),
    "user_account": ("display_name", "ix_user_account_company_sort_name"),
}
BATCH = 1000


def _fill(table_name: str, source: str) -> None:
    """Compute the key of every existing row, BATCH rows at a time in id order."""
    bind = op.get_bind()
    table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(source, sa.String),
                     sa.column("sort_name", sa.String))
    update = table.update().where(table.c.id == sa.bindparam("row_id")).values(sort_name=sa.bindparam("key"))
    last = 0
    while True:
        rows = bind.execute(sa.select(table.c.id, table.c[source]).where(table.c.id > last)
                            .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(update, [{"row_id": row_id, "key": sort_key(name)} for row_id, name in rows])
        last = rows[-1][0]


def upgrade():
    for table_name, (source, index) in TABLES.items():
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sort_name", SortKeyType, nullable=True))
        _fill(table_name, source)
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.alter_column("sort_name", existing_type=SortKeyType, nullable=False)
            batch_op.create_index(index, ["company_id", "sort_name", "id"], unique=False)


def downgrade():
    for table_name, (_source, index) in TABLES.items():
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.drop_index(index)
            batch_op.drop_column("sort_name")
