"""Row view-models of the Orders page: every display value of a row computed once, in Python; texts
that every row repeats are translated once per request (RowTexts)."""
from __future__ import annotations

from dataclasses import dataclass

from ..models import ORDER_SOURCE_AMAZON, Order
from ..texts import N_, day, money, translations
from ..urls import UrlBuilder
from ..order_texts import SOURCE_TEXTS, STATUS_TEXTS
from .queries import Places, country_text

CSV_HEADER = (N_("Order number"), N_("Order date"), N_("Source"), N_("Shop"), N_("Country"), N_("Status"),
              N_("Amazon status"), N_("Fulfillment"), N_("Items"), N_("Currency"), N_("Total amount"),
              N_("Buyer name"))


@dataclass(frozen=True)
class OrderRow:
    """What one row prints (plain strings: the template escapes them)."""
    id: int
    dom_id: str
    number: str
    date: str
    source: str
    amazon: bool
    place: str
    place_url: str
    country: str
    status: str
    amazon_status: str  # Amazon's own status and fulfilment channel, "" for manual orders
    items: str
    total: str
    buyer: str
    edit_url: str  # the store's page, where a manual order is edited; "" for Amazon orders (read-only)


class RowTexts:
    """The texts every row repeats (and the CSV header), translated once per request."""

    def __init__(self):
        _ = translations().ugettext
        self.sources = {key: _(text) for key, text in SOURCE_TEXTS.items()}
        self.statuses = {key: _(text) for key, text in STATUS_TEXTS.items()}
        self.read_only = _("Read-only")
        self.read_only_title = _("Pulled from Amazon: Amazon orders cannot be edited or deleted here.")
        self.edit = _("Edit on the shop's page")
        self.heading = {"date": _("Order date"), "source": _("Source"), "shop": _("Shop"),
                        "country": _("Country"), "status": _("Status"), "items": _("Items"),
                        "total": _("Total amount"), "buyer": _("Buyer name")}
        self.csv_header = [_(text) for text in CSV_HEADER]


class RowBuilder:
    def __init__(self, places: Places):
        self.places, self.texts = places, RowTexts()
        self.shop_url = UrlBuilder("shops.detail", "shop_id")
        self.store_url = UrlBuilder("other_stores.detail", "store_id")

    def __call__(self, order: Order) -> OrderRow:
        amazon, place = order.source == ORDER_SOURCE_AMAZON, self.places.of(order)
        url = self.shop_url(order.shop_id) if amazon else self.store_url(order.other_store_id)
        channel = " · ".join(part for part in (order.amazon_status, order.fulfillment_channel) if part)
        return OrderRow(
            id=order.id, dom_id=f"order-{order.id}", number=order.order_number, date=day(order.order_date),
            source=self.texts.sources.get(order.source, order.source), amazon=amazon,
            place=place.name if place else "", place_url=url, country=country_text(order, place),
            status=self.texts.statuses.get(order.status, order.status), amazon_status=channel if amazon else "",
            items="" if order.item_count is None else str(order.item_count), total=money(order.total, order.currency),
            buyer=order.buyer_name or "", edit_url="" if amazon else url)
