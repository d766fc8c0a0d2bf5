"""Platforms, countries and currencies for other stores and their orders.

Country and currency names come from Babel's CLDR data, so they follow the user's language."""
from datetime import date
from functools import lru_cache

from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies, list_currencies
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

OTHER = "other"
PLATFORMS = {
    "ebay": "eBay", "walmart": "Walmart", "shopee": "Shopee", "lazada": "Lazada", "aliexpress": "AliExpress",
    "shopify": "Shopify", "tiktok_shop": "TikTok Shop", "temu": "Temu", "mercado_libre": "Mercado Libre",
    "etsy": "Etsy", "wayfair": "Wayfair", "rakuten": "Rakuten", "allegro": "Allegro", "ozon": "Ozon",
}
# CLDR territories that are not countries a store sells in.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}


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
    return tuple(sorted(((code, territories[code]) for code in codes), key=lambda item: item[1]))


def country_choices() -> tuple[tuple[str, str], ...]:
    return _countries(str(_locale()))


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
