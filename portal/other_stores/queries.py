"""The read side of the other-stores pages: list filters (forms over the query string) and list queries."""
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..csv_export import csv_cell
from ..extensions import db
from ..forms import ChoiceFilter, DayFilter, FilterForm, SearchFilter
from ..models import Order, OtherStore, OtherStoreAssignment, OtherStoreCountry
from ..order_totals import NOT_COUNTED, CurrencyTotal, order_totals  # noqa: F401 (callers import them here)
from ..order_texts import source_label, status_labels
from ..pagination import Page, paginate
from ..texts import N_, csv_amount, day, fast_gettext
from .catalog import country_choices, platform_choices
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


def filtered_orders(store: OtherStore, filters: OrderFilters, base=None):
    """Select of the store's orders matching the filters (unordered: the page and the CSV order it).
    `base` is visible_orders(user) in the views, so every order read starts from portal/access.py."""
    values = filters.values()
    query = store_orders(store) if base is None else base.where(Order.other_store_id == store.id)
    if values["status"]:
        query = query.where(Order.status == values["status"])
    if values["start"]:
        query = query.where(Order.order_date >= values["start"])
    if values["end"]:
        query = query.where(Order.order_date <= values["end"])
    return query


def orders_page(query, raw_page) -> Page:
    return paginate(query.order_by(Order.order_date.desc(), Order.id.desc()), raw_page)


def order_csv_rows(query):
    """The CSV rows of the orders of `query`, oldest first; text cells are safe for spreadsheets."""
    labels = status_labels()
    for order in db.session.scalars(query.order_by(Order.order_date, Order.id)):
        yield [csv_cell(order.order_number), day(order.order_date), csv_cell(str(labels[order.status])),
               order.currency, csv_amount(order.total), csv_cell(order.buyer_name), csv_cell(order.notes),
               source_label(order.source)]
