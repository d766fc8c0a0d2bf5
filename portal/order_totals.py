"""Order totals per currency, shared by every order list (a store's orders, the Orders page).

Refunded and cancelled orders brought no money: they are never counted in a total, but summed apart
so a page can say what was left out."""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select

from .extensions import db

# Orders that brought no money: shown apart under the totals, never counted in them.
NOT_COUNTED = ("refunded", "cancelled")


@dataclass(frozen=True)
class CurrencyTotal:
    """The orders of one currency: what they add up to, and the refunded/cancelled ones left out."""
    currency: str
    total: Decimal
    count: int
    excluded_total: Decimal
    excluded_count: int

    @property
    def orders(self) -> int:
        """Every order of this currency, counted or not."""
        return self.count + self.excluded_count


def _cents(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))  # SQLite sums NUMERIC as float


def order_totals(query) -> list[CurrencyTotal]:
    """Totals per currency of the orders of `query` (a Select of Order), in one aggregate query."""
    sub = query.order_by(None).subquery()
    left_out = sub.c.status.in_(NOT_COUNTED)
    counted_total, counted = case((left_out, None), else_=sub.c.total), case((left_out, None), else_=1)
    statement = (select(sub.c.currency, func.sum(counted_total), func.count(counted),
                        func.sum(case((left_out, sub.c.total))), func.count(case((left_out, 1))))
                 .group_by(sub.c.currency).order_by(sub.c.currency))
    return [CurrencyTotal(currency, _cents(total), count, _cents(excluded_total), excluded_count)
            for currency, total, count, excluded_total, excluded_count in db.session.execute(statement)]


def orders_counted(totals: list[CurrencyTotal]) -> int:
    """How many orders the totals cover: the list's row count, without a COUNT query of its own."""
    return sum(total.orders for total in totals)
