"""Every page and dialog a user can reach, rendered in Chinese, has no English UI words; in English, no
Chinese characters. The seed data is neither language (names like "N-0001"), so whatever is left in the
language of the other side is a text of the portal: a missing _() or a missing translation."""
import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from babel import Locale
from babel.numbers import list_currencies

from portal.amazon.marketplaces import MARKETPLACES, REGIONS
from portal.other_stores.catalog import PLATFORMS
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}
US, CA, MX, DE, JP = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A1PA6795UKMFR9", "A1VC38T7YXB528"
N_SHOPS = 56  # more than one page of 50

# Names that stay as they are in both languages: Amazon's products, pages and terms (the Chinese catalog
# keeps them next to the Chinese ones, e.g. 卖家平台 (Seller Central)), platforms, codes.
PHRASES = ["Seller Central", "Seller ID", "Sellers API", "refresh token", "Merchant Token", "Finance and Accounting",
           *(name for name in PLATFORMS.values() if " " in name)]
NON_WORDS = {
    "Amazon", "SP-API", "LWA", "CSV", "API", "ID", "IP", "ISO", "MWS", "URI", "Professional", "Ctrl", "Mac",
    "Atzr", "Atza", "amzn", "mws", "invalid_grant", "YYYY-MM-DD",
    "standin",  # the end of the stand-in Amazon's LWA client ID (a setting, shown as a hint)
    "Webhook", "SEC", "userid", "userId", "open_id", "ou",  # the chat platforms' own terms (alert channels)
    *PLATFORMS.values(), *REGIONS, *(mp.country_code for mp in MARKETPLACES),
    *Locale("en").territories, *list_currencies(),  # country and currency codes shown next to their names
}
STRIP = [
    re.compile(r"https?://\S*"), re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # URLs, emails
    re.compile(r"\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|cn|net|org)\b"),  # host names (a channel's target)
    re.compile(r"(?<![\w])/[\w./?=&%-]*"),  # paths
    re.compile(r"\b[A-Z0-9_]*[A-Z]_[A-Z0-9_]+\b"),  # setting names (AMAZON_LWA_CLIENT_ID)
    re.compile(r"[\w-]*\d[\w-]*"),  # anything with a digit: Seller IDs, marketplace IDs, request IDs, N-0001
    re.compile(r"[A-Za-z0-9|]+\|"),  # token prefixes (Atzr|)
]
ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z'’_-]*[A-Za-z]")
CHINESE = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")
VISIBLE_ATTRS = {"title", "aria-label", "placeholder", "alt", "hx-confirm", "data-confirm", "label"}


class VisibleText(HTMLParser):
    """The text a user sees or hears: text outside <script>/<style> and the language picker (each
    language is named in itself there), and the visible attributes (title, aria-label, placeholder,
    the value of buttons, the confirmation questions)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # translate="no": a platform's own answer or a language named in itself (alert language).
        if tag in {"script", "style"} or attrs.get("id") == "lang-select" or attrs.get("translate") == "no":
            self._skip.append(tag)
        if self._skip:
            return
        for name, value in attrs.items():
            if value and name in VISIBLE_ATTRS:
                self.parts.append(value)
        if tag == "input" and attrs.get("type") in {"submit", "button", "reset"} and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(body: str) -> str:
    parser = VisibleText()
    parser.feed(body)
    return "\n".join(part.strip() for part in parser.parts if part.strip())


def english_words(text: str) -> list[str]:
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    for phrase in PHRASES:
        text = text.replace(phrase, " ")
    return [word for word in ENGLISH_WORD.findall(text) if word not in NON_WORDS]


def leaks(body: str, lang: str) -> list[str]:
    text = visible_text(body)
    if lang == "zh":
        return sorted(set(english_words(text)))
    return sorted({line for line in text.splitlines() if CHINESE.search(line)})


# --- the checker itself catches what it must -----------------------------------------------------------

def test_the_checker_finds_english_buttons_and_skips_non_words():
    body = ('<p>店铺 N-0001 · A1B2C3D4E5F6G7 · US · Amazon SP-API · https://example.com/x a@example.com</p>'
            '<button>取消</button><script>var Cancel = 1;</script><input type="submit" value="Next">'
            '<a title="Close">×</a><select id="lang-select"><option>English</option></select>'
            '<form data-confirm="删除 Shop “N-0001”？"></form><input type="hidden" value="Hidden">')
    assert leaks(body, "zh") == ["Close", "Next", "Shop"]
    assert leaks(body.replace("删除 Shop", "TikTok Shop · Seller Central"), "zh") == ["Close", "Next"]
    assert leaks("<p>Taiwan (TW)、Malaysia (MY)</p><option>中文</option>", "en") == ["Taiwan (TW)、Malaysia (MY)",
                                                                                    "中文"]


# --- the world: shops in every state, other shops, orders, users, events ----------------------------------

def _shop(standin, admin, n, *, scenario="valid", marketplaces=(US,), age=10, region="NA"):
    from portal.extensions import db
    from portal.models import utcnow
    from portal.shops.services import create_shop

    token = f"Atzr|standin-{n:04d}-{n:016d}"
    seller = f"A{n:012d}"
    standin.register(token, seller_id=seller, scenario=scenario, marketplaces=marketplaces, store_name=f"S-{n:04d}",
                     region=region)
    shop = create_shop(admin, name=f"N-{n:04d}", region=region, mode="multi" if len(marketplaces) > 1 else "single",
                       marketplace_ids=list(marketplaces), seller_id=seller, token=token).shop
    shop.authorization.authorized_at = utcnow() - timedelta(days=age)
    db.session.commit()
    return shop


@pytest.fixture
def world(amazon_app, people, standin):
    from portal.extensions import db
    from portal.models import ShopAssignment
    from portal.other_stores.services import save_order, save_store
    from portal.shops.verify import check_authorization

    admin, member = people
    admin.display_name, member.display_name, admin.company.name = "U-1001", "U-1002", "C-7001"
    db.session.commit()
    states = {"verified": _shop(standin, admin, 1), "failed": _shop(standin, admin, 2, scenario="forbidden"),
              "revoked": _shop(standin, admin, 3, scenario="revoked"),
              "expiring": _shop(standin, admin, 4, age=355, marketplaces=(DE,), region="EU"),
              "expired": _shop(standin, admin, 5, age=380, marketplaces=(CA,)),
              "throttled": _shop(standin, admin, 6, scenario="throttled", marketplaces=(JP,), region="FE"),
              "partial": _shop(standin, admin, 7, scenario="partial", marketplaces=(US, MX)),
              "suspended": _shop(standin, admin, 8, scenario="suspended", marketplaces=(US, CA)),
              "never": _shop(standin, admin, 9)}
    for n in range(10, N_SHOPS + 1):
        _shop(standin, admin, n)
    states["verified"].assignments.append(ShopAssignment(user_id=member.id))
    db.session.commit()
    for key in ("verified", "failed", "revoked", "expiring", "throttled", "partial", "suspended"):
        check_authorization(states[key].authorization_id, force=True)
    store = save_store(admin, None, platform="shopee", platform_other=None, name="N-8001", countries=["TW", "MY"],
                       url="https://shopee.tw/n8001", login_name="n8001", notes="8001")
    db.session.flush()
    order = save_order(admin, store, None, order_number="9001", order_date=date.today(), status="paid",
                       currency="TWD", total=Decimal("1234.50"), buyer_name="9002", notes="9003")
    save_order(admin, store, None, order_number="9004", order_date=date.today(), status="refunded",
               currency="TWD", total=Decimal(300), buyer_name="9005", notes=None)
    from portal.alerts.channels import set_credentials
    from portal.models import AlertChannel

    channel = AlertChannel(company_id=admin.company_id, name="N-8101", name_key="n-8101", kind="dingtalk",
                           events="auth_expiring,auth_expired", last_test_ok=False,
                           last_test_summary="310000 sign not match (platform_error, not retryable)")
    db.session.add(channel)
    db.session.flush()
    set_credentials(channel, webhook_url="https://oapi.dingtalk.com/robot/send?access_token=t8102", secret="SEC8103")
    db.session.commit()
    _alerts(states)
    return {"admin": admin, "member": member, "shops": states, "store": store, "order": order, "channel": channel}


def _alerts(states):
    """Alerts of every kind for the Alerts page (one closed, one seen by the admin)."""
    from portal.alerts import messages
    from portal.extensions import db
    from portal.models import AlertEvent, AlertSeen, utcnow

    now = utcnow()
    kinds = [("expiring", messages.AUTH_EXPIRING), ("expired", messages.AUTH_EXPIRED),
             ("failed", messages.CHECK_FAILED), ("verified", messages.CHECK_RECOVERED),
             ("revoked", messages.SYNC_STOPPED), ("throttled", messages.SYNC_FAILING)]
    events = [AlertEvent(company_id=states[key].company_id, shop_id=states[key].id, kind=kind, episode="1",
                         days=7 if kind == messages.AUTH_EXPIRING else None, due_at=now + timedelta(days=7),
                         created_at=now - timedelta(hours=n + 1)) for n, (key, kind) in enumerate(kinds)]
    events.append(AlertEvent(company_id=states["partial"].company_id, shop_id=states["partial"].id,
                             kind=messages.CHECK_FAILED, episode="1", created_at=now - timedelta(days=2),
                             closed_at=now - timedelta(days=1)))
    db.session.add_all(events)
    db.session.flush()
    db.session.add(AlertSeen(event_id=events[2].id, user_id=states["failed"].created_by_id))
    db.session.commit()


def _client(app, user, lang):
    client = app.test_client()
    client.set_cookie("lang", lang)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    return client


def _events(client, world):
    """Events of many kinds for the Activity page (sign-ins, shop and user changes, refusals)."""
    shop, member = world["shops"]["verified"], world["member"]
    client.post(f"/shops/{world['shops']['never'].id}/verify", headers=HX)  # the others were checked just now
    client.post(f"/admin/users/{member.id}/role", data={"role": "member"}, headers=HX)
    client.post("/admin/users/new", data={"display_name": "U-1003", "email": "u1003@example.com",
                                          "password": "9182-7364-5500", "role": "member"})
    client.post(f"/shops/{shop.id}/assign", data={"selected": [member.id], "shown": [member.id]})
    client.post("/shops/bulk-assign", data={"user_id": member.id, "shop_ids": [world["shops"]["failed"].id]})
    client.post(f"/shops/{shop.id}/edit", data={"name": shop.name, "mode": "multi", "marketplaces": [US, CA]})
    client.get("/shops/999999999")
    client.post("/logout")
    client.post("/login", data={"email": "nobody@example.com", "password": "wrong password 1"})
    assert client.post("/login", data={"email": world["admin"].email, "password": PASSWORD}).status_code == 303


def _pages(world):
    """Every GET a user can reach: (path, with htmx?)."""
    shops, store, order, member = world["shops"], world["store"], world["order"], world["member"]
    s, o = store.id, order.id
    paths = ["/shops", "/shops?page=2", "/shops?status=failed", "/shops?status=expired", "/shops?q=9999",
             "/my-shops", "/shops/new", "/shops/form-fields?region=EU&mode=multi",
             "/shops/form-fields?region=FE&mode=single", "/other-stores", "/other-stores/new",
             "/other-stores?q=9999", f"/other-stores/{s}", f"/other-stores/{s}?status=refunded",
             f"/other-stores/{s}/edit", f"/other-stores/{s}/assign", f"/other-stores/{s}/orders/new",
             f"/other-stores/{s}/orders/{o}/edit", "/admin/users", "/admin/users?q=9999", "/admin/users/new",
             f"/admin/users/{member.id}/password", f"/admin/users/{member.id}/shops", "/admin/activity",
             "/admin/activity?action=shop.verified", "/admin/activity?start=2999-01-01", "/account/password",
             "/shops?status=expiring", "/shops?status=attention&sort=expires", "/shops?region=FE", "/my-shops?q=9999",
             f"/admin/users/{member.id}/shops?page=2",
             "/orders", "/orders?source=manual", "/orders?q=9999", "/orders?status=refunded", "/jobs",
             "/alerts", "/alerts?show=open", "/alerts?show=closed", "/alerts?show=unseen&page=2",
             "/notifications", "/notifications/new", "/notifications/form-fields?kind=wecom",
             "/notifications/form-fields?kind=dingtalk", "/notifications/form-fields?kind=feishu",
             "/notifications/form-fields?kind=email", f"/notifications/{world['channel'].id}/edit",
             f"/admin/users/{member.id}/mentions",
             "/no-such-page"]
    for shop in shops.values():
        paths += [f"/shops/{shop.id}", f"/shops/{shop.id}/edit", f"/shops/{shop.id}/reauthorize",
                  f"/shops/{shop.id}/assign"]
    return paths


def _bad_posts(world):
    """Forms sent empty or wrong: the error messages are in the language too."""
    s, shop = world["store"].id, world["shops"]["verified"].id
    return ["/shops/new", f"/shops/{shop}/edit", f"/shops/{shop}/reauthorize", "/other-stores/new",
            f"/other-stores/{s}/orders/new", "/admin/users/new", "/account/password", "/notifications/new"]


def _collect(app, world, lang):
    """(what, body) of every page, dialog, fragment and error answer, for the admin and the member."""
    admin = _client(app, world["admin"], lang)
    _events(admin, world)
    bodies = []
    for path in _pages(world):
        for headers in ({}, HX):
            response = admin.get(path, headers=headers)
            assert response.status_code in {200, 404}, (path, response.status_code)
            bodies.append((f"GET {path} {headers}", response.get_data(as_text=True)))
    for path in _bad_posts(world):
        for headers in ({}, HX):
            response = admin.post(path, data={"name": "", "email": "x"}, headers=headers)
            assert response.status_code in {200, 400, 422}, (path, response.status_code)
            bodies.append((f"POST {path} {headers}", response.get_data(as_text=True)))
    for key, shop in world["shops"].items():
        response = admin.post(f"/shops/{shop.id}/verify", headers=HX)
        bodies.append((f"verify {key}", response.get_data(as_text=True)))
    member = _client(app, world["member"], lang)
    for path in ("/my-shops", "/other-stores", f"/shops/{world['shops']['verified'].id}", "/admin/users", "/alerts",
                 f"/shops/{world['shops']['failed'].id}"):
        for headers in ({}, HX):
            response = member.get(path, headers=headers)
            bodies.append((f"member GET {path} {headers}", response.get_data(as_text=True)))
    anonymous = app.test_client()
    anonymous.set_cookie("lang", lang)
    bodies.append(("login", anonymous.get("/login").get_data(as_text=True)))
    bodies.append(("login refused", anonymous.post("/login", data={"email": "a@b.cn", "password": "x"})
                   .get_data(as_text=True)))
    bodies.append(("anonymous 404", anonymous.get("/no-such-page").get_data(as_text=True)))
    for _attempt in range(6):  # the account's sign-in limit: the 429 answer
        throttled = anonymous.post("/login", data={"email": "u9009@example.com", "password": "x"})
    assert throttled.status_code == 429
    bodies.append(("throttled sign-in", throttled.get_data(as_text=True)))
    bodies.append(("bad form", anonymous.post("/login", data={}, csrf=False).get_data(as_text=True)))
    return bodies


def _report(bodies, lang):
    found = {}
    for what, body in bodies:
        text = visible_text(body)
        for leak in leaks(body, lang):
            at = text.find(leak)
            found.setdefault(leak, f"{what}: …{text[max(at - 40, 0):at + 40]}…".replace("\n", " "))
    return found


def test_every_page_in_chinese_has_no_english(amazon_app, world):
    bodies = _collect(amazon_app, world, "zh")
    assert len(bodies) > 150 and all("<" in body for _what, body in bodies)
    found = _report(bodies, "zh")
    assert found == {}, "English in the Chinese UI (word: first page):\n" + "\n".join(
        f"  {word!r}: {where}" for word, where in sorted(found.items()))


def test_every_page_in_english_has_no_chinese(amazon_app, world):
    bodies = _collect(amazon_app, world, "en")
    found = _report(bodies, "en")
    assert found == {}, "Chinese in the English UI (line: first page):\n" + "\n".join(
        f"  {line!r}: {where}" for line, where in sorted(found.items()))
    # One name for non-Amazon shops in English: "shop", never "store" (Amazon's own store name aside).
    stores = {what for what, body in bodies
              if re.search(r"\b[Ss]tores?\b", visible_text(body).replace("Amazon store", ""))}
    assert stores == set()


def test_setup_page_and_empty_lists_in_both_languages(client):
    for lang in ("zh", "en"):
        client.set_cookie("lang", lang)
        body = client.get("/setup").get_data(as_text=True)
        assert leaks(body, lang) == [], lang
        bad = client.post("/setup", data={"company_name": "", "email": "x"}).get_data(as_text=True)
        assert leaks(bad, lang) == [], lang
    client.set_cookie("lang", "zh")  # its welcome message is shown on the next (Chinese) page
    response = client.post("/setup", data={"company_name": "C-7001", "display_name": "U-1001", "email": "u1001@example.com",
                                           "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 303
    for lang in ("zh", "en"):
        client.set_cookie("lang", lang)
        for path in ("/shops", "/my-shops", "/other-stores", "/admin/users", "/admin/activity?user=999"):
            body = client.get(path).get_data(as_text=True)
            assert leaks(body, lang) == [], (lang, path)
        assert "empty-state" in body


def test_lists_in_running_text_use_the_languages_separator(amazon_app, world):
    store = world["store"]
    for lang, separator in (("zh", "、"), ("en", ", ")):
        text = visible_text(_client(amazon_app, world["admin"], lang).get(f"/other-stores/{store.id}")
                            .get_data(as_text=True))
        assert f"(TW){separator}" in text or f"(MY){separator}" in text, lang


def test_orders_csv_source_and_activity_csv_in_words(amazon_app, world):
    store = world["store"]
    zh = _client(amazon_app, world["admin"], "zh")
    rows = list(csv.reader(io.StringIO(zh.get(f"/other-stores/{store.id}/orders.csv").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert {row[-1] for row in rows[1:]} == {"手工录入"}
    en = _client(amazon_app, world["admin"], "en")
    rows = list(csv.reader(io.StringIO(en.get(f"/other-stores/{store.id}/orders.csv").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert {row[-1] for row in rows[1:]} == {"Manual entry"}
    en.post(f"/shops/{world['shops']['never'].id}/verify", headers=HX)
    rows = list(csv.reader(io.StringIO(en.get("/admin/activity.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-1] == "description"
    verified = [row for row in rows if row[2] == "shop.verified" and row[3] == "success"]
    assert verified and verified[0][-1] == "U-1001 verified the shop “N-0009” with Amazon."


def test_activity_in_words(amazon_app, world):
    zh = _client(amazon_app, world["admin"], "zh")
    _events(zh, world)
    text = visible_text(zh.get("/admin/activity").get_data(as_text=True))
    assert "U-1001 验证了店铺“N-0009”。" in text and "命令行 验证了店铺“N-0002”：验证失败。" in text
    assert "U-1001 将 U-1002 的角色改为成员" in text
    assert "U-1001 为 U-1002 分配了 1 个店铺" in text and "U-1001 新增了用户 U-1003，角色为成员。" in text
    assert "auth.login" not in text and "role=" not in text and "user #" not in text
    filter_page = zh.get("/admin/activity").get_data(as_text=True)
    assert '<optgroup label="店铺">' in filter_page and '<optgroup label="登录">' in filter_page
    en = _client(amazon_app, world["admin"], "en")
    text = visible_text(en.get("/admin/activity?action=user.role_changed").get_data(as_text=True))
    assert "U-1001 changed the role of U-1002 to Member." in text and "Succeeded" in text


def test_every_action_has_an_area_and_a_sentence():
    from portal.activity_text import ACTION_LABELS, SENTENCES
    from portal.audit import ACTIONS

    assert set(ACTION_LABELS) == set(ACTIONS) == set(SENTENCES)


def test_authorize_with_amazon_dialogs_in_both_languages(app_factory, standin):
    """The dialogs of the website authorization workflow: start, continue to Seller Central, finish (and its
    errors), the result page of a cancelled or unknown authorization, re-authorize through Amazon."""
    from urllib.parse import parse_qs, urlsplit

    import httpx

    from portal.accounts import create_company_with_admin
    from portal.extensions import db

    standin.redirect_uris = frozenset({"http://localhost/amazon/callback"})
    app = app_factory(**standin.portal_settings(), AMAZON_MAX_TRIES=1, AMAZON_READ_TIMEOUT=2.0,
                      AMAZON_APP_ID=standin.app_id, AMAZON_SELLER_CENTRAL_URL=standin.url)
    with app.app_context():
        admin = create_company_with_admin(company_name="C-7001", display_name="U-1001", email="u1001@example.com",
                                          password=PASSWORD)
        db.session.commit()
        standin.register("Atzr|render-0000000000000001", seller_id="A2EUSELLER0001", marketplaces=[DE, "A13V1IB3VIYZZH"],
                         region="EU", store_name="S-0001")
        shop = _shop(standin, admin, 1, marketplaces=(DE,), region="EU")
        for lang in ("zh", "en"):
            client = _client(app, admin, lang)
            bodies = [("new", client.get("/shops/new").get_data(as_text=True)),
                      ("reauthorize", client.get(f"/shops/{shop.id}/reauthorize").get_data(as_text=True)),
                      ("continue", client.post("/amazon/start", data={"region": "EU", "marketplace": DE})
                       .get_data(as_text=True)),
                      ("unknown state", client.get("/amazon/callback?state=0000&spapi_oauth_code=1")
                       .get_data(as_text=True))]
            for action in ("cancel", "confirm"):
                consent = client.post("/amazon/start", data={"region": "EU", "marketplace": DE},
                                      headers=HX).headers["HX-Redirect"]
                query = {k: v[0] for k, v in parse_qs(urlsplit(consent).query).items()}
                if action == "cancel":  # the seller cancels on Seller Central: Amazon comes back with an error
                    location = f"/amazon/callback?state={query['state']}&error=access_denied"
                else:
                    location = httpx.post(standin.url + "/apps/authorize/consent", data={
                        **query, "standin_seller_id": "A2EUSELLER0001", "action": action}).headers["location"]
                parts = urlsplit(location)
                answer = client.get(f"{parts.path}?{parts.query}")
                if answer.status_code != 303:  # a redirect's body is Werkzeug's, never shown
                    bodies.append((f"callback {action}", answer.get_data(as_text=True)))
                else:
                    finish = answer.headers["Location"]
                    bodies += [("finish", client.get(finish).get_data(as_text=True)),
                               ("finish htmx", client.get(finish, headers=HX).get_data(as_text=True)),
                               ("finish refused", client.post(finish, data={"name": "", "mode": "multi"}, headers=HX)
                                .get_data(as_text=True))]
            bodies.append(("new after a cancel", client.get("/shops/new").get_data(as_text=True)))
            assert {"continue", "callback cancel", "finish", "finish refused"} <= {what for what, _body in bodies}
            found = _report(bodies, lang)
            assert found == {}, (lang, found)


SAMPLE_EVENTS = [  # (action, outcome, object_type, label, detail): the details the portal really writes
    ("auth.login", "success", None, None, None), ("auth.login", "failure", None, None, None),
    ("auth.logout", "success", None, None, None), ("auth.password_changed", "success", None, None, None),
    ("auth.password_change_failed", "failure", None, None, "wrong current password"),
    ("auth.throttled", "denied", None, None, "POST /login"), ("access.denied", "denied", "shop", None, "GET /shops/5"),
    ("access.forbidden", "denied", None, None, "GET /admin/users"),
    ("security.csrf_failed", "denied", None, None, "The CSRF token is missing."),
    ("security.cross_site", "denied", None, None, "POST /shops/new"),
    ("user.created", "success", "user", "u1003@example.com", "role=member"),
    ("user.created", "success", "user", "u1001@example.com", "first admin (set-up page)"),
    ("user.role_changed", "success", "user", "u1003@example.com", "role=admin (repair from the command line)"),
    ("user.deactivated", "success", "user", "u1003@example.com", None),
    ("user.reactivated", "success", "user", "u1003@example.com", None),
    ("user.password_reset", "success", "user", "u1003@example.com", None),
    ("shop.created", "success", "shop", "N-0001", "seller=A000000000001 region=NA"),
    ("shop.created", "success", "shop", "N-0002", "seller=A000000000002 region=EU via=amazon"),
    ("shop.updated", "success", "shop", "N-0001", f"marketplaces={US},{CA}"),
    ("shop.deleted", "success", "shop", "N-0001", None),
    ("shop.token_replaced", "success", "shop", "N-0001", "re-authorized; shared with 2 other shops"),
    ("shop.token_replaced", "success", "shop", "N-0001", "through Amazon; shared with 0 other shops"),
    ("shop.token_replaced", "success", "shop", "N-0001", "new token entered with a new shop"),
    ("shop.assignments_changed", "success", "shop", "N-0001", "users=USER"),
    ("shop.assignments_changed", "success", "shop", "N-0001", "users="),
    ("shop.assignments_changed", "success", "user_account", "u1003@example.com", "bulk: 2 shops assigned"),
    ("shop.assignments_changed", "success", "user_account", "u1003@example.com", "shops=1,2,3"),
    ("shop.verified", "success", "shop", "N-0001", "verified"),
    ("shop.verified", "failure", "shop", "N-0001", "invalid_grant"),
    ("store.created", "success", "other_store", "N-8001", None),
    ("store.updated", "success", "other_store", "N-8001", None),
    ("store.deleted", "success", "other_store", "N-8001", None),
    ("store.assignments_changed", "success", "other_store", "N-8001", "users=USER"),
    ("order.created", "success", "order", "N-8001 #9001", None), ("order.updated", "success", "order", "N-8001 #9001", None),
    ("order.deleted", "success", "order", "N-8001 #9001", None),
    ("keys.rotated", "success", None, None, "rotated=3 current=1 unreadable=0"),
    ("amazon.authorize_started", "success", None, None, "purpose=new region=EU via=portal"),
    ("amazon.authorize_started", "success", "shop", "N-0001", "purpose=reauthorize region=NA via=seller-central"),
    ("amazon.authorize_completed", "success", "shop", "N-0002", "new shop seller=A000000000002"),
    ("amazon.authorize_completed", "success", "shop", "N-0001", "re-authorized seller=A000000000001"),
    ("amazon.authorize_refused", "failure", None, None, "state expired"),
    ("amazon.authorize_refused", "failure", "shop", None, "no code: access_denied"),
    ("amazon.authorize_refused", "failure", "shop", None, "exchange invalid_grant"),
    ("amazon.authorize_refused", "failure", "shop", None, "other seller A000000000003 for A000000000001"),
    ("amazon.authorize_refused", "failure", "shop", None, "shared with hidden shops"),
    ("amazon.authorize_refused", "failure", None, None, "log-in URI with a foreign callback"),
    ("channel.created", "success", "alert_channel", "N-8101", "kind=dingtalk events=6 digest=0 enabled=1 signed=1"),
    ("channel.updated", "success", "alert_channel", "N-8101", "kind=dingtalk events=6 digest=0 enabled=0 signed=1"),
    ("channel.deleted", "success", "alert_channel", "N-8101", "kind=dingtalk"),
    ("channel.tested", "failure", "alert_channel", "N-8101", "kind=dingtalk code=310000 result=platform_error"),
]


def test_every_kind_of_event_reads_as_a_sentence_in_both_languages(amazon_app, people):
    from portal.audit import ACTIONS, record
    from portal.extensions import db

    admin, member = people
    admin.display_name, member.display_name = "U-1001", "U-1002"
    assert {action for action, *_rest in SAMPLE_EVENTS} == set(ACTIONS)
    for n, (action, outcome, object_type, label, detail) in enumerate(SAMPLE_EVENTS):
        target_id = member.id if object_type in {"user", "user_account"} else n + 1
        record(action, outcome=outcome, user=admin if outcome == "success" else None,
               user_label=None if outcome == "success" else "u9009@example.com", company_id=admin.company_id,
               object_type=object_type, object_id=target_id if object_type else None, label=label,
               detail=detail.replace("USER", str(member.id)) if detail else None)
    record("future.thing", user=admin)  # an action code this portal version does not know yet
    db.session.commit()
    for lang in ("zh", "en"):
        client = _client(amazon_app, admin, lang)
        bodies = [client.get("/admin/activity").get_data(as_text=True),
                  client.get("/admin/activity?page=2").get_data(as_text=True)]
        text = "\n".join(visible_text(body) for body in bodies)
        assert "future.thing" in text  # unknown codes are shown as they are
        assert [leak for body in bodies for leak in leaks(body.replace("future.thing", ""), lang)] == [], lang
        assert "u1003@example.com" not in text and "#" + str(member.id) not in text  # the user's name instead
        assert "role=" not in text and "bulk:" not in text and "purpose=" not in text
