"""Amazon SP-API regions and marketplaces: the one source of truth for the portal.

Marketplace IDs and the region grouping come from shared/PRODUCT.md ("Regions and marketplaces"),
which follows Amazon's SP-API endpoint and marketplace-ID tables. A shop's marketplaces must all
belong to one region, because one seller authorization (refresh token) is valid for one region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Region:
    """An SP-API region: one API endpoint and one authorization per seller."""

    code: str
    name_en: str
    name_zh: str
    default_endpoint: str
    seller_central_host: str


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace (a country store) and where its sellers sign in."""

    country_code: str
    marketplace_id: str
    region: str
    name_en: str
    name_zh: str
    seller_central_host: str
    currency: str
    domain_name: str = ""
    language_code: str = ""


REGIONS: dict[str, Region] = {
    "NA": Region("NA", "North America", "北美", "https://sellingpartnerapi-na.amazon.com",
                 "sellercentral.amazon.com"),
    "EU": Region("EU", "Europe", "欧洲", "https://sellingpartnerapi-eu.amazon.com",
                 "sellercentral-europe.amazon.com"),
    "FE": Region("FE", "Far East", "远东", "https://sellingpartnerapi-fe.amazon.com",
                 "sellercentral.amazon.co.jp"),
}

_EU_CENTRAL = "sellercentral-europe.amazon.com"

# The order every list shows, the same in every language (not alphabetical by translated name):
# region by region, the marketplaces most sellers use first (US, CA, MX, BR; DE, GB, FR, IT, ES ...;
# JP, AU, SG). Marketplace IDs and the region grouping follow PRODUCT.md's table.
MARKETPLACES: tuple[Marketplace, ...] = (
    Marketplace("US", "ATVPDKIKX0DER", "NA", "United States", "美国", "sellercentral.amazon.com",
                "USD", "www.amazon.com", "en_US"),
    Marketplace("CA", "A2EUQ1WTGCTBG2", "NA", "Canada", "加拿大", "sellercentral.amazon.ca",
                "CAD", "www.amazon.ca", "en_CA"),
    Marketplace("MX", "A1AM78C64UM0Y8", "NA", "Mexico", "墨西哥", "sellercentral.amazon.com.mx",
                "MXN", "www.amazon.com.mx", "es_MX"),
    Marketplace("BR", "A2Q3Y263D00KWC", "NA", "Brazil", "巴西", "sellercentral.amazon.com.br",
                "BRL", "www.amazon.com.br", "pt_BR"),
    Marketplace("DE", "A1PA6795UKMFR9", "EU", "Germany", "德国", _EU_CENTRAL,
                "EUR", "www.amazon.de", "de_DE"),
    Marketplace("GB", "A1F83G8C2ARO7P", "EU", "United Kingdom", "英国", _EU_CENTRAL,
                "GBP", "www.amazon.co.uk", "en_GB"),
    Marketplace("FR", "A13V1IB3VIYZZH", "EU", "France", "法国", _EU_CENTRAL,
                "EUR", "www.amazon.fr", "fr_FR"),
    Marketplace("IT", "APJ6JRA9NG5V4", "EU", "Italy", "意大利", _EU_CENTRAL,
                "EUR", "www.amazon.it", "it_IT"),
    Marketplace("ES", "A1RKKUPIHCS9HS", "EU", "Spain", "西班牙", _EU_CENTRAL,
                "EUR", "www.amazon.es", "es_ES"),
    Marketplace("NL", "A1805IZSGTT6HS", "EU", "Netherlands", "荷兰", "sellercentral.amazon.nl",
                "EUR", "www.amazon.nl", "nl_NL"),
    Marketplace("PL", "A1C3SOZRARQ6R3", "EU", "Poland", "波兰", "sellercentral.amazon.pl",
                "PLN", "www.amazon.pl", "pl_PL"),
    Marketplace("SE", "A2NODRKZP88ZB9", "EU", "Sweden", "瑞典", "sellercentral.amazon.se",
                "SEK", "www.amazon.se", "sv_SE"),
    Marketplace("BE", "AMEN7PMS3EDWL", "EU", "Belgium", "比利时", "sellercentral.amazon.com.be",
                "EUR", "www.amazon.com.be", "fr_BE"),
    Marketplace("IE", "A28R8C7NBKEWEA", "EU", "Ireland", "爱尔兰", "sellercentral.amazon.ie",
                "EUR", "www.amazon.ie", "en_IE"),
    Marketplace("TR", "A33AVAJ2PDY3EV", "EU", "Turkey", "土耳其", "sellercentral.amazon.com.tr",
                "TRY", "www.amazon.com.tr", "tr_TR"),
    Marketplace("AE", "A2VIGQ35RCS4UG", "EU", "United Arab Emirates", "阿联酋",
                "sellercentral.amazon.ae", "AED", "www.amazon.ae", "en_AE"),
    Marketplace("SA", "A17E79C6D8DWNP", "EU", "Saudi Arabia", "沙特阿拉伯", "sellercentral.amazon.sa",
                "SAR", "www.amazon.sa", "ar_SA"),
    Marketplace("EG", "ARBP9OOSHTCHU", "EU", "Egypt", "埃及", "sellercentral.amazon.eg",
                "EGP", "www.amazon.eg", "ar_EG"),
    Marketplace("IN", "A21TJRUUN4KGV", "EU", "India", "印度", "sellercentral.amazon.in",
                "INR", "www.amazon.in", "en_IN"),
    Marketplace("ZA", "AE08WJ6YKNBMC", "EU", "South Africa", "南非", "sellercentral.amazon.co.za",
                "ZAR", "www.amazon.co.za", "en_ZA"),
    Marketplace("JP", "A1VC38T7YXB528", "FE", "Japan", "日本", "sellercentral.amazon.co.jp",
                "JPY", "www.amazon.co.jp", "ja_JP"),
    Marketplace("AU", "A39IBJ37TRP1C6", "FE", "Australia", "澳大利亚", "sellercentral.amazon.com.au",
                "AUD", "www.amazon.com.au", "en_AU"),
    Marketplace("SG", "A19VAU5U5O7RUS", "FE", "Singapore", "新加坡", "sellercentral.amazon.sg",
                "SGD", "www.amazon.sg", "en_SG"),
)

# The seed's MWS-era developer name and IDs. They never yield an SP-API refresh token; the portal
# shows a developer name/ID only when the operator configures AMAZON_DEVELOPER_* (see config.py).
DEFAULT_DEVELOPER_NAME = "xiaomi"
DEFAULT_DEVELOPER_IDS: dict[str, str] = {
    "NA": "714467252092",
    "EU": "931020309560",
    "FE": "112939318357",
}

_BY_ID: dict[str, Marketplace] = {mp.marketplace_id: mp for mp in MARKETPLACES}
_BY_COUNTRY: dict[str, Marketplace] = {mp.country_code: mp for mp in MARKETPLACES}
# Amazon itself writes "UK" in some places (e.g. Seller Central), ISO says GB.
_COUNTRY_ALIASES = {"UK": "GB"}


class _Named(Protocol):
    name_en: str
    name_zh: str


def marketplace_by_id(marketplace_id: str) -> Marketplace | None:
    """Return the marketplace with this SP-API marketplace ID, or None if unknown."""
    return _BY_ID.get((marketplace_id or "").strip())


def marketplaces_in(region_code: str) -> list[Marketplace]:
    """Return the marketplaces of a region, most used first (empty for an unknown region)."""
    code = (region_code or "").strip().upper()
    return [mp for mp in MARKETPLACES if mp.region == code]


def in_list_order(marketplace_ids) -> list[str]:
    """`marketplace_ids` in the order lists show them (MARKETPLACES); unknown ids last, as given."""
    rank = {mp.marketplace_id: i for i, mp in enumerate(MARKETPLACES)}
    return sorted(marketplace_ids, key=lambda mid: rank.get(mid, len(rank)))


def by_country(country_code: str) -> Marketplace | None:
    """Return the marketplace for an ISO country code (case-insensitive; "UK" means GB)."""
    code = (country_code or "").strip().upper()
    return _BY_COUNTRY.get(_COUNTRY_ALIASES.get(code, code))


def display_name(item: _Named, locale: object = None) -> str:
    """Name of a marketplace or region for a locale: Chinese for any "zh..." locale, else English.

    ``locale`` may be a string ("zh_CN", "en") or a babel ``Locale``; None means English.
    """
    if locale is not None and str(locale).lower().startswith("zh"):
        return item.name_zh
    return item.name_en


def seller_central_hosts() -> set[str]:
    """Every Seller Central host of the marketplace table (and of the regions), and the Amazon store
    hosts (``amazon.com``, ``www.amazon.com``, ...) that Amazon's documented callback URIs use."""
    stores = {mp.domain_name for mp in MARKETPLACES} | {mp.domain_name.removeprefix("www.") for mp in MARKETPLACES}
    return {mp.seller_central_host for mp in MARKETPLACES} | {r.seller_central_host for r in REGIONS.values()} | stores


def region_of_host(host: str) -> str | None:
    """The region whose Seller Central this host is (None if it is none of them)."""
    host = (host or "").lower()
    for region in REGIONS.values():
        if region.seller_central_host == host:
            return region.code
    for mp in MARKETPLACES:
        if host in (mp.seller_central_host, mp.domain_name, mp.domain_name.removeprefix("www.")):
            return mp.region
    return None
