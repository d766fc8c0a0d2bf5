"""stored sort keys (pinyin for Chinese names) for shops, other stores and users, with their list indexes;
the currency of an other store's orders (that of its first country)

Revision ID: 0010_sort_keys
Revises: 0009_security
"""
import sqlalchemy as sa
from alembic import op

from portal.other_stores.catalog import default_currency
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


def _fill_currencies() -> None:
    """Each store's orders default to the currency of its first country (USD when it has none)."""
    bind = op.get_bind()
    store = sa.table("other_store", sa.column("id", sa.Integer), sa.column("currency", sa.String))
    country = sa.table("other_store_country", sa.column("store_id", sa.Integer), sa.column("country_code", sa.String),
                       sa.column("position", sa.Integer))
    first = {}
    for store_id, code in bind.execute(sa.select(country.c.store_id, country.c.country_code)
                                       .order_by(country.c.store_id, country.c.position.desc())):
        first[store_id] = code  # the last one read per store is position 0
    rows = [{"row_id": store_id, "code": default_currency([code])} for store_id, code in first.items()]
    rows = [row for row in rows if row["code"] != "USD"]
    for start in range(0, len(rows), BATCH):
        bind.execute(store.update().where(store.c.id == sa.bindparam("row_id")).values(currency=sa.bindparam("code")),
                     rows[start:start + BATCH])


# Plain ALTER TABLE ADD / DROP COLUMN only, never batch mode's copy-and-move: on SQLite (foreign keys on)
# dropping the old table would cascade-delete every shop's marketplaces and assignments. A NOT NULL column
# with a server default is added in place on both backends, so no second step is needed.
def upgrade():
    for table_name, (source, index) in TABLES.items():
        op.add_column(table_name, sa.Column("sort_name", SortKeyType, server_default="", nullable=False))
        _fill(table_name, source)
        op.create_index(index, table_name, ["company_id", "sort_name", "id"], unique=False)
    op.add_column("other_store", sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False))
    _fill_currencies()


def downgrade():
    op.drop_column("other_store", "currency")
    for table_name, (_source, index) in TABLES.items():
        op.drop_index(index, table_name=table_name)
        op.drop_column(table_name, "sort_name")
