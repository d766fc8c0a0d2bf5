from collections import Counter

import pytest

from portal.amazon.marketplaces import (
    DEFAULT_DEVELOPER_IDS,
    MARKETPLACES,
    REGIONS,
    by_country,
    display_name,
    marketplace_by_id,
    marketplaces_in,
)


def test_twenty_three_marketplaces_with_unique_ids_and_countries():
    assert len(MARKETPLACES) == 23
    assert len({mp.marketplace_id for mp in MARKETPLACES}) == 23
    assert len({mp.country_code for mp in MARKETPLACES}) == 23


def test_every_marketplace_is_in_exactly_one_existing_region():
    assert list(REGIONS) == ["NA", "EU", "FE"]
    for mp in MARKETPLACES:
        assert mp.region in REGIONS
        assert sum(mp in marketplaces_in(code) for code in REGIONS) == 1
    assert Counter(mp.region for mp in MARKETPLACES) == {"NA": 4, "EU": 16, "FE": 3}


def test_most_used_first_and_known_ids():
    assert [mp.country_code for mp in marketplaces_in("NA")] == ["US", "CA", "MX", "BR"]
    assert [mp.country_code for mp in marketplaces_in("eu")][:5] == ["DE", "GB", "FR", "IT", "ES"]
    assert [mp.country_code for mp in marketplaces_in("fe")] == ["JP", "AU", "SG"]
    assert marketplace_by_id("ATVPDKIKX0DER").country_code == "US"
    assert marketplace_by_id("A21TJRUUN4KGV").region == "EU"  # India is EU for the API
    assert marketplace_by_id("A2Q3Y263D00KWC").region == "NA"  # Brazil is NA
    assert marketplace_by_id("NOPE") is None
    assert marketplaces_in("XX") == []


def test_uk_is_an_alias_of_gb():
    gb = by_country("GB")
    assert gb is not None and gb.marketplace_id == "A1F83G8C2ARO7P"
    assert by_country("UK") is gb
    assert by_country(" uk ") is gb
    assert by_country("ZZ") is None


@pytest.mark.parametrize("code,zh,host", [
    ("US", "美国", "sellercentral.amazon.com"),
    ("DE", "德国", "sellercentral-europe.amazon.com"),
    ("AE", "阿联酋", "sellercentral.amazon.ae"),
    ("JP", "日本", "sellercentral.amazon.co.jp"),
    ("SA", "沙特阿拉伯", "sellercentral.amazon.sa"),
])
def test_names_and_seller_central_hosts(code, zh, host):
    mp = by_country(code)
    assert mp.name_zh == zh
    assert mp.seller_central_host == host


def test_every_marketplace_has_names_hosts_and_currency():
    for mp in MARKETPLACES:
        assert mp.name_en and mp.name_zh and mp.currency and mp.domain_name
        assert mp.seller_central_host.startswith("sellercentral")
        assert "://" not in mp.seller_central_host


def test_display_name_follows_locale():
    us = by_country("US")
    assert display_name(us, "zh_CN") == "美国"
    assert display_name(us, "zh") == "美国"
    assert display_name(us, "en") == "United States"
    assert display_name(us, None) == "United States"
    assert display_name(REGIONS["EU"], "zh_Hans_CN") == "欧洲"


def test_regions_and_developer_ids():
    assert REGIONS["NA"].default_endpoint == "https://sellingpartnerapi-na.amazon.com"
    assert REGIONS["EU"].seller_central_host == "sellercentral-europe.amazon.com"
    assert REGIONS["FE"].seller_central_host == "sellercentral.amazon.co.jp"
    assert DEFAULT_DEVELOPER_IDS == {"NA": "714467252092", "EU": "931020309560",
                                     "FE": "112939318357"}
