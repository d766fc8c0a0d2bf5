"""Countries in the order sellers expect: Amazon's most used marketplaces first in each region, the same in
Chinese and English; the other-store picker with the common cross-border markets first, then the rest by
pinyin (Chinese) or alphabetically (English)."""
import re

import pytest

from portal.amazon.marketplaces import marketplaces_in

ZH, EN = {"Accept-Language": "zh"}, {"Accept-Language": "en"}


def codes_in(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


@pytest.mark.parametrize("region, first", [("NA", ["US", "CA", "MX", "BR"]),
                                           ("EU", ["DE", "GB", "FR", "IT", "ES", "NL", "PL"]),
                                           ("FE", ["JP", "AU", "SG"])])
@pytest.mark.parametrize("headers", [ZH, EN])
def test_shop_form_lists_most_used_first(client, admin_a, login, region, first, headers):
    login(client, admin_a)
    html = client.get(f"/shops/form-fields?region={region}&mode=multi", headers=headers).get_data(as_text=True)
    ids = {m.marketplace_id: m.country_code for m in marketplaces_in(region)}
    shown = [ids[mid] for mid in codes_in(html, r'type="checkbox"[^>]*value="([A-Z0-9]+)"') if mid in ids]
    assert shown[:len(first)] == first


def test_zh_shop_form_does_not_start_with_ireland(client, admin_a, login):
    login(client, admin_a)
    html = client.get("/shops/form-fields?region=EU&mode=single", headers=ZH).get_data(as_text=True)
    assert html.index("德国 (DE)") < html.index("英国 (GB)") < html.index("爱尔兰 (IE)")
    html = client.get("/shops/form-fields?region=NA&mode=single", headers=ZH).get_data(as_text=True)
    assert html.index("美国 (US)") < html.index("加拿大 (CA)")


def test_shop_row_lists_countries_in_list_order(client, admin_a, login, make_shop):
    ca, us, mx = "A2EUQ1WTGCTBG2", "ATVPDKIKX0DER", "A1AM78C64UM0Y8"
    make_shop(admin_a, name="Acme NA", marketplaces=(mx, ca, us))
    login(client, admin_a)
    html = client.get("/shops").get_data(as_text=True)
    row = html[html.index("Acme NA"):]
    assert codes_in(row, r"<abbr title=\"[^\"]*\">([A-Z]{2})</abbr>")[:3] == ["US", "CA", "MX"]


COMMON = ["US", "GB", "DE", "JP", "FR", "IT", "ES", "CA", "AU", "MX", "BR", "SG", "MY", "TH", "VN", "PH", "ID", "TW",
          "KR", "AE", "SA"]


@pytest.mark.parametrize("headers", [ZH, EN])
def test_store_picker_common_markets_first_in_both_languages(client, admin_a, login, headers):
    login(client, admin_a)
    html = client.get("/other-stores/new", headers=headers).get_data(as_text=True)
    shown = codes_in(html, r'name="countries"[^>]*value="([A-Z]{2})"|value="([A-Z]{2})"[^>]*name="countries"')
    shown = [a or b for a, b in shown]
    assert shown[:len(COMMON)] == COMMON
    assert len(shown) == len(set(shown)) > 240


def test_store_picker_rest_by_pinyin_in_zh(app):
    from flask_babel import force_locale

    from portal.other_stores.catalog import common_country_codes, country_choices
    from portal.sorting import sort_key

    with app.test_request_context(), force_locale("zh"):
        rest = [name for code, name in country_choices() if code not in common_country_codes()]
        assert rest == sorted(rest, key=sort_key)
        assert rest[0].startswith(("阿", "埃", "爱", "安", "奥")), rest[:3]  # a...
        assert rest.index("中国") > rest.index("智利") > rest.index("新西兰")  # zhong > zhi > xin
    with app.test_request_context(), force_locale("en"):
        rest = [name for code, name in country_choices() if code not in common_country_codes()]
        assert rest[0] == "Afghanistan" and rest.index("Åland Islands") < rest.index("Albania")
