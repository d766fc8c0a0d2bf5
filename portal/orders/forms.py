"""The Orders page's filters, read from the query string. Shop and country are checked against what
the user may see (OrderListFilters.restrict): an id or code out of scope is dropped, never used."""
from wtforms import StringField

from ..fields import parse_db_id
from ..forms import ChoiceFilter, DayFilter, FilterForm, SearchFilter
from ..models import ORDER_SOURCE_AMAZON, ORDER_SOURCE_MANUAL
from ..order_texts import SOURCE_TEXTS, STATUS_TEXTS
from ..texts import N_, fast_gettext

SHOP_KINDS = {"shop": ORDER_SOURCE_AMAZON, "store": ORDER_SOURCE_MANUAL}  # key prefix -> the orders' source


def status_options():
    return [("", fast_gettext(N_("Any status"))), *((key, fast_gettext(text)) for key, text in STATUS_TEXTS.items())]


def source_options():
    return [("", fast_gettext(N_("All sources"))), *((key, fast_gettext(text)) for key, text in SOURCE_TEXTS.items())]


def place_key(kind: str, place_id: int) -> str:
    """The value of the shop select: "shop-12" for an Amazon shop, "store-7" for an other store."""
    return f"{kind}-{place_id}"


def parse_place_key(text) -> tuple[str, int] | None:
    if not isinstance(text, str) or len(text) > 20:
        return None
    kind, _sep, raw_id = text.partition("-")
    place_id = parse_db_id(raw_id)
    return (kind, place_id) if kind in SHOP_KINDS and place_id is not None else None


class PlaceFilter(StringField):
    """An Amazon shop or an other store, as "shop-12" / "store-7"; "" when absent or malformed."""

    def process_formdata(self, valuelist):
        parsed = parse_place_key(valuelist[0]) if valuelist else None
        self.data = place_key(*parsed) if parsed else ""

    def _value(self):
        return self.data or ""


class CountryFilter(StringField):
    """A two-letter country code, upper case; "" when absent or malformed."""

    def process_formdata(self, valuelist):
        raw = valuelist[0].strip().upper() if valuelist and isinstance(valuelist[0], str) else ""
        self.data = raw if len(raw) == 2 and raw.isascii() and raw.isalpha() else ""

    def _value(self):
        return self.data or ""


class OrderListFilters(FilterForm):
    q = SearchFilter()
    shop = PlaceFilter()
    shop_q = SearchFilter()  # a shop's name, where the shops are too many for a select
    country = CountryFilter()
    status = ChoiceFilter(choices=status_options)
    source = ChoiceFilter(choices=source_options)
    start = DayFilter()
    end = DayFilter()

    def restrict(self, places) -> "OrderListFilters":
        """Drop a shop or country the user does not see (`places`: queries.Places); returns self."""
        if self.shop.data and self.shop.data not in places.by_key:
            self.shop.data = ""
        if self.country.data and self.country.data not in places.country_codes:
            self.country.data = ""
        return self

    @property
    def bad_dates(self) -> bool:
        return self.start.invalid or self.end.invalid
