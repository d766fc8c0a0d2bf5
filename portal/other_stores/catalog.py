"""Platforms, countries and currencies for other stores and their orders.

Country and currency names come from Babel's CLDR data, so they follow the user's language. Countries are
listed with the common cross-border markets first (the same order in every language), then the rest by
pinyin in Chinese or alphabetically in English (portal/sorting.py)."""
from datetime import date
from functools import lru_cache

from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies, list_currencies
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ..sorting import sort_key, sorted_by_name

OTHER = "other"
PLATFORMS = {
    "ebay": "eBay", "walmart": "Walmart", "shopee": "Shopee", "lazada": "Lazada", "aliexpress": "AliExpress",
    "shopify": "Shopify", "tiktok_shop": "TikTok Shop", "temu": "Temu", "mercado_libre": "Mercado Libre",
    "etsy": "Etsy", "wayfair": "Wayfair", "rakuten": "Rakuten", "allegro": "Allegro", "ozon": "Ozon",
}
# CLDR territories that are not countries a store sells in.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
# The markets cross-border sellers pick most, first in every picker, in this order.
COMMON_COUNTRIES = ("US", "GB", "DE", "JP", "FR", "IT", "ES", "CA", "AU", "MX", "BR", "SG", "MY", "TH", "VN", "PH",
                    "ID", "TW", "KR", "AE", "SA", "NL", "PL", "SE", "BE", "TR", "IN", "HK")
DEFAULT_CURRENCY = "USD"


def platform_label(code: str, other_name: str | None = None) -> str:
    if code == OTHER:
        return other_name or str(_l("Other"))
    return PLATFORMS.get(code, code)


def platform_choices() -> list[tuple[str, str]]:
    return [*PLATFORMS.items(), (OTHER, str(_l("Other")))]


def _locale() -> Locale:
    return get_locale() or Locale("en")


@lru_cache(maxsize=4)
def _countries(locale_name: str) -> tuple[tuple[str, str], ...]:
    territories = Locale.parse(locale_name).territories
    codes = [code for code in territories if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES]
    common = [(code, territories[code]) for code in COMMON_COUNTRIES if code in territories]
    rest = sorted_by_name(((code, territories[code]) for code in codes if code not in COMMON_COUNTRIES),
                          name=lambda item: item[1])
    return tuple(common + rest)


def country_choices() -> tuple[tuple[str, str], ...]:
    """(code, name) of every country: the common markets first, then the rest by name (pinyin in Chinese)."""
    return _countries(str(_locale()))


def common_country_codes() -> frozenset[str]:
    return frozenset(COMMON_COUNTRIES)


@lru_cache(maxsize=4)
def _search_texts(locale_name: str) -> dict[str, str]:
    """What the picker's filter matches for each country: code, name, English name and the name's pinyin
    (so "mei", "meiguo" and "united" all find 美国)."""
    english = dict(_countries("en"))
    texts = {}
    for code, name in _countries(locale_name):
        key = sort_key(name)
        texts[code] = " ".join(dict.fromkeys([code.lower(), name.casefold(), english.get(code, "").casefold(), key,
                                              key.replace(" ", "")]))
    return texts


def country_search_text(code: str) -> str:
    return _search_texts(str(_locale())).get(code, code.lower())


def country_codes() -> frozenset[str]:
    return frozenset(code for code, _name in _countries("en"))


def country_name(code: str) -> str:
    return dict(_countries(str(_locale()))).get(code, code)


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    """ISO 4217 codes legal tender somewhere today (CLDR also lists historical ones)."""
    today = date.today()
    current = set()
    for territory in Locale("en").territories:
        if len(territory) == 2 and territory.isalpha():
            current.update(get_territory_currencies(territory, start_date=today, tender=True))
    return frozenset(code for code in current if code in list_currencies())


@lru_cache(maxsize=4)
def _currencies(locale_name: str) -> tuple[tuple[str, str], ...]:
    common = ["CNY", "USD", "EUR", "GBP", "JPY", "HKD", "CAD", "AUD", "SGD", "MXN", "BRL", "PLN", "TRY", "AED"]
    rest = sorted(currency_codes() - set(common))
    return tuple((code, f"{code} · {get_currency_name(code, locale=locale_name)}") for code in common + rest)


def currency_choices() -> tuple[tuple[str, str], ...]:
    return _currencies(str(_locale()))


@lru_cache(maxsize=512)
def country_currency(code: str | None) -> str | None:
    """The currency a store in this country sells in (Taiwan: TWD), or None when CLDR names none that is
    current legal tender (Antarctica)."""
    if not code:
        return None
    for currency in get_territory_currencies(code.upper(), start_date=date.today(), tender=True):
        if currency in currency_codes():
            return currency
    return None


def default_currency(countries) -> str:
    """The currency of a store's orders when nobody chose one: that of its first country, else USD."""
    return next((country_currency(code) for code in countries[:1] if country_currency(code)), DEFAULT_CURRENCY)
