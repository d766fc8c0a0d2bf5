"""The read side of the Orders page: the shops and stores the user sees (filter options and row labels),
the filtered orders, a page of them and the CSV rows. Every query starts from portal/access.py.

A page costs a constant number of statements: the user's shops, their stores, the totals per currency
(whose counts are also the list's row count) and the page itself. The page picks its 50 ids from the
(company_id, order_date, id) index first and loads only those rows (a deferred join), so a deep page
walks index entries, not whole rows."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import func, or_, select

from ..access import visible_other_stores, visible_shops
from ..amazon.marketplaces import by_country, marketplace_by_id
from ..csv_export import csv_cell
from ..extensions import db
from ..models import ORDER_SOURCE_AMAZON, Order, OtherStore, OtherStoreCountry, Shop, ShopMarketplace
from ..pagination import Page, window
from ..texts import csv_amount, day
from .forms import OrderListFilters, parse_place_key, place_key

NEWEST_FIRST = (Order.order_date.desc(), Order.id.desc())


@dataclass(frozen=True)
class Place:
    """An Amazon shop (kind "shop") or an other store (kind "store") the user sees."""
    kind: str
    id: int
    name: str
    countries: tuple[str, ...]

    @property
    def key(self) -> str:
        return place_key(self.kind, self.id)


@dataclass
class Places:
    """The shops and stores of the filter and the rows. `complete`: all the user sees (the shop filter is a
    select of them); otherwise (a company over ORDERS_PLACE_SELECT_LIMIT) only the chosen one and those of
    the page's rows, the filter being a search by name, and `countries` given apart."""
    shops: list[Place]
    stores: list[Place]
    complete: bool = True
    countries: set[str] | None = None
    by_key: dict[str, Place] = field(init=False)
    country_codes: set[str] = field(init=False)

    def __post_init__(self):
        self.by_key = {place.key: place for place in (*self.shops, *self.stores)}
        self.country_codes = self.countries if self.countries is not None else \
            {code for place in self.by_key.values() for code in place.countries}

    def add(self, more: Places) -> None:
        for place in (*more.shops, *more.stores):
            self.by_key.setdefault(place.key, place)

    def shop(self, shop_id) -> Place | None:
        return self.by_key.get(place_key("shop", shop_id))

    def store(self, store_id) -> Place | None:
        return self.by_key.get(place_key("store", store_id))

    def of(self, order: Order) -> Place | None:
        return self.shop(order.shop_id) if order.shop_id else self.store(order.other_store_id)

    def country_options(self) -> list[tuple[str, str]]:
        """(code, "Germany (DE)") of the countries of these shops and stores, by name in the user's language."""
        names = get_locale().territories
        return sorted(((code, f"{names.get(code, code)} ({code})") for code in self.country_codes),
                      key=lambda option: option[1])


def _grouped(rows, kind: str) -> list[Place]:
    places: dict[int, tuple[str, list[str]]] = {}
    for place_id, name, country in rows:
        codes = places.setdefault(place_id, (name, []))[1]
        if country and country not in codes:
            codes.append(country)
    return [Place(kind, place_id, name, tuple(codes)) for place_id, (name, codes) in places.items()]


def visible_places(user, shop_ids=None, store_ids=None) -> Places:
    """The shops and stores `user` sees, with their countries, by name: two queries. With `shop_ids` /
    `store_ids`, only those of them (an empty list: none)."""
    shop_query = visible_shops(user)
    store_query = visible_other_stores(user)
    if shop_ids:
        shop_query = shop_query.where(Shop.id.in_(shop_ids))
    if store_ids:
        store_query = store_query.where(OtherStore.id.in_(store_ids))
    shop_rows = [] if shop_ids == [] else db.session.execute(  # no ids asked for: no query
        shop_query.with_only_columns(Shop.id, Shop.name, ShopMarketplace.marketplace_id)
        .outerjoin(ShopMarketplace, ShopMarketplace.shop_id == Shop.id)
        .order_by(Shop.sort_name, Shop.id, ShopMarketplace.position))
    shops = _grouped(((shop_id, name, _country_of(marketplace_id)) for shop_id, name, marketplace_id in shop_rows),
                     "shop")
    store_rows = [] if store_ids == [] else db.session.execute(
        store_query.with_only_columns(OtherStore.id, OtherStore.name, OtherStoreCountry.country_code)
        .outerjoin(OtherStoreCountry, OtherStoreCountry.store_id == OtherStore.id)
        .order_by(OtherStore.sort_name, OtherStore.id, OtherStoreCountry.position))
    return Places(shops, _grouped(store_rows, "store"))


def filter_places(user, raw_shop) -> Places:
    """The places the filter needs: all of them while the user sees at most ORDERS_PLACE_SELECT_LIMIT;
    beyond, a select would be too long to read and to send, so only the chosen one and the countries."""
    limit = current_app.config["ORDERS_PLACE_SELECT_LIMIT"]
    shops = db.session.scalar(visible_shops(user).with_only_columns(func.count(Shop.id)).order_by(None))
    stores = db.session.scalar(visible_other_stores(user).with_only_columns(func.count(OtherStore.id)).order_by(None))
    if shops + stores <= limit:
        return visible_places(user)
    chosen = parse_place_key(raw_shop)
    kind, place_id = chosen if chosen else (None, None)
    some = visible_places(user, [place_id] if kind == "shop" else [], [place_id] if kind == "store" else [])
    shop_ids = visible_shops(user).with_only_columns(Shop.id).order_by(None)
    store_ids = visible_other_stores(user).with_only_columns(OtherStore.id).order_by(None)
    marketplaces = db.session.scalars(select(ShopMarketplace.marketplace_id).distinct()
                                      .where(ShopMarketplace.shop_id.in_(shop_ids)))
    codes = {code for code in map(_country_of, marketplaces) if code}
    codes |= set(db.session.scalars(select(OtherStoreCountry.country_code).distinct()
                                    .where(OtherStoreCountry.store_id.in_(store_ids))))
    return Places(some.shops, some.stores, complete=False, countries=codes)


def add_places_of(places: Places, user, orders) -> Places:
    """`places` with those of `orders` (the page's rows) added, when it does not hold them all already."""
    if not places.complete:
        shop_ids = sorted({o.shop_id for o in orders if o.shop_id and places.shop(o.shop_id) is None})
        store_ids = sorted({o.other_store_id for o in orders if o.other_store_id and places.store(o.other_store_id) is None})
        if shop_ids or store_ids:
            places.add(visible_places(user, shop_ids, store_ids))
    return places


def _country_of(marketplace_id: str | None) -> str | None:
    marketplace = marketplace_by_id(marketplace_id) if marketplace_id else None
    return marketplace.country_code if marketplace else None


def _country_condition(code: str, places: Places):
    conditions = []
    marketplace = by_country(code)
    if marketplace is not None:
        conditions.append((Order.source == ORDER_SOURCE_AMAZON) & (Order.marketplace_id == marketplace.marketplace_id))
    conditions.append(Order.other_store_id.in_(select(OtherStoreCountry.store_id)
                                               .where(OtherStoreCountry.country_code == code)))
    return or_(*conditions)


def filtered_orders(user, base, filters: OrderListFilters, places: Places):
    """Select of the orders of `base` (visible_orders(user)) matching the filters (restricted to `places`)."""
    values = filters.values()
    query = base
    if values["shop_q"]:
        shops = visible_shops(user).with_only_columns(Shop.id).where(
            Shop.name.icontains(values["shop_q"], autoescape=True)).order_by(None)
        stores = visible_other_stores(user).with_only_columns(OtherStore.id).where(
            OtherStore.name.icontains(values["shop_q"], autoescape=True)).order_by(None)
        query = query.where(or_(Order.shop_id.in_(shops), Order.other_store_id.in_(stores)))
    if values["shop"]:
        place = places.by_key[values["shop"]]
        query = query.where(Order.shop_id == place.id if place.kind == "shop" else Order.other_store_id == place.id)
    if values["country"]:
        query = query.where(_country_condition(values["country"], places))
    if values["status"]:
        query = query.where(Order.status == values["status"])
    if values["source"]:
        query = query.where(Order.source == values["source"])
    if values["start"]:
        query = query.where(Order.order_date >= values["start"])
    if values["end"]:
        query = query.where(Order.order_date <= values["end"])
    if values["q"]:
        query = query.where(Order.order_number.icontains(values["q"], autoescape=True))
    return query


def orders_page(query, total: int, raw_page) -> Page:
    """The page `raw_page` of `query`, newest first; `total` is the row count (from the totals)."""
    page = window(total, raw_page)
    if total:
        ids = query.with_only_columns(Order.id).order_by(*NEWEST_FIRST).limit(page.size).offset(page.offset)
        page.items = list(db.session.scalars(select(Order).where(Order.id.in_(ids)).order_by(*NEWEST_FIRST)))
    return page


def country_text(order: Order, place: Place | None) -> str:
    """An Amazon order's marketplace country; a manual order has its store's countries."""
    if order.source == ORDER_SOURCE_AMAZON:
        return _country_of(order.marketplace_id) or ""
    return " ".join(place.countries) if place else ""


def order_csv_rows(query, places: Places, texts):
    """The CSV rows of the orders of `query`, newest first (as on the page); text cells are
    spreadsheet-safe, dates 2026-12-01, amounts plain numbers. `texts`: rows.RowTexts."""
    for order in db.session.scalars(query.order_by(*NEWEST_FIRST).execution_options(yield_per=1000)):
        place = places.of(order)
        yield [csv_cell(order.order_number), day(order.order_date), texts.sources.get(order.source, order.source),
               csv_cell(place.name if place else ""), country_text(order, place),
               texts.statuses.get(order.status, order.status), csv_cell(order.amazon_status),
               csv_cell(order.fulfillment_channel), "" if order.item_count is None else order.item_count,
               order.currency, csv_amount(order.total), csv_cell(order.buyer_name)]

