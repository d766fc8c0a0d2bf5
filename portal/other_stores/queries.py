"""The read side of the other-stores pages: list filters (forms over the query string) and list queries."""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import selectinload

from ..csv_export import csv_cell
from ..extensions import db
from ..forms import ChoiceFilter, DayFilter, FilterForm, SearchFilter
from ..models import ORDER_SOURCE_AMAZON, ORDER_SOURCE_MANUAL, Order, OtherStore, OtherStoreAssignment, OtherStoreCountry
from ..pagination import Page, paginate
from ..texts import N_, csv_amount, day, fast_gettext
from .catalog import country_choices, platform_choices
from .forms import status_labels
from .services import store_orders


def platform_options():
    return [("", fast_gettext(N_("All platforms"))), *platform_choices()]


def country_options():
    return [("", fast_gettext(N_("All countries"))), *((code, f"{label} ({code})") for code, label in country_choices())]


def order_status_options():
    return [("", fast_gettext(N_("Any status"))), *((key, str(label)) for key, label in status_labels().items())]


class StoreFilters(FilterForm):
    q = SearchFilter()
    platform = ChoiceFilter(choices=platform_options)
    country = ChoiceFilter(choices=country_options, normalize=str.upper)


class OrderFilters(FilterForm):
    status = ChoiceFilter(choices=order_status_options)
    start = DayFilter()
    end = DayFilter()

    @property
    def bad_dates(self) -> bool:
        return self.start.invalid or self.end.invalid


def stores_page(base, filters: StoreFilters, raw_page, *, with_staff: bool) -> Page:
    """A page of the stores of `base` (visible_other_stores) matching the filters, by name (pinyin order)."""
    values = filters.values()
    query = base.options(selectinload(OtherStore.countries))
    if with_staff:
        query = query.options(selectinload(OtherStore.assignments).selectinload(OtherStoreAssignment.user))
    if values["q"]:
        like = f"%{values['q'].casefold()}%"
        query = query.where(or_(OtherStore.name_key.like(like), OtherStore.platform_key.like(like)))
    if values["platform"]:
        query = query.where(OtherStore.platform == values["platform"])
    if values["country"]:
        query = query.where(OtherStore.id.in_(select(OtherStoreCountry.store_id)
                                              .where(OtherStoreCountry.country_code == values["country"])))
    return paginate(query.order_by(OtherStore.sort_name, OtherStore.id), raw_page)


def filtered_orders(store: OtherStore, filters: OrderFilters):
    """Select of the store's orders matching the filters (unordered: the page and the CSV order it)."""
    values = filters.values()
    query = store_orders(store)
    if values["status"]:
        query = query.where(Order.status == values["status"])
    if values["start"]:
        query = query.where(Order.order_date >= values["start"])
    if values["end"]:
        query = query.where(Order.order_date <= values["end"])
    return query


def orders_page(query, raw_page) -> Page:
    return paginate(query.order_by(Order.order_date.desc(), Order.id.desc()), raw_page)


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


def _cents(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))  # SQLite sums NUMERIC as float


def order_totals(query) -> list[CurrencyTotal]:
    """Totals per currency of the orders of `query`, in one aggregate query: refunded and cancelled
    orders are not counted in the total, but summed apart so the page can say what was left out."""
    sub = query.order_by(None).subquery()
    left_out = sub.c.status.in_(NOT_COUNTED)
    counted_total, counted = case((left_out, None), else_=sub.c.total), case((left_out, None), else_=1)
    statement = (select(sub.c.currency, func.sum(counted_total), func.count(counted),
                        func.sum(case((left_out, sub.c.total))), func.count(case((left_out, 1))))
                 .group_by(sub.c.currency).order_by(sub.c.currency))
    return [CurrencyTotal(currency, _cents(total), count, _cents(excluded_total), excluded_count)
            for currency, total, count, excluded_total, excluded_count in db.session.execute(statement)]


# Where an order came from, in words (the CSV "Source" column).
SOURCE_LABELS = {ORDER_SOURCE_MANUAL: N_("Manual entry"), ORDER_SOURCE_AMAZON: N_("Amazon")}


def source_label(source: str) -> str:
    label = SOURCE_LABELS.get(source)
    return fast_gettext(label) if label else source


def order_csv_rows(query):
    """The CSV rows of the orders of `query`, oldest first; text cells are safe for spreadsheets."""
    labels = status_labels()
    for order in db.session.scalars(query.order_by(Order.order_date, Order.id)):
        yield [csv_cell(order.order_number), day(order.order_date), csv_cell(str(labels[order.status])),
               order.currency, csv_amount(order.total), csv_cell(order.buyer_name), csv_cell(order.notes),
               source_label(order.source)]
