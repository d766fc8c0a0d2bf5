"""Authorize with Amazon (website authorization workflow) against the stand-in over real HTTP, and the
paste path's rules: Authorized on, Atza| tokens, shared authorizations, the re-authorize throttle."""
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from devtools.standin import StandinAmazon
from portal.extensions import db
from portal.models import AmazonAuthState, AuditEvent, SellerAuthorization, Shop, ShopAssignment, utcnow
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}
DE, FR, IT, ES, US = "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS", "ATVPDKIKX0DER"
SELLER, OTHER = "A2EUSELLER0001", "A3OTHERSELLER9"
CALLBACK = "http://localhost/amazon/callback"


@pytest.fixture
def standin():
    server = StandinAmazon().start()
    server.redirect_uris = frozenset({CALLBACK})
    server.register("Atzr|seed-eu-seller-0123456789", seller_id=SELLER, marketplaces=[DE, FR, IT], region="EU",
                    store_name="EU Store")
    server.register("Atzr|seed-other-seller-0123456789", seller_id=OTHER, marketplaces=[DE], region="EU")
    yield server
    server.stop()


def amazon_config(standin, **extra):
    return {**dict(**standin.portal_settings(),
                AMAZON_MAX_TRIES=1, AMAZON_READ_TIMEOUT=2.0, AMAZON_APP_ID=standin.app_id,
                AMAZON_SELLER_CENTRAL_URL=standin.url), **extra}


@pytest.fixture
def amazon_app(app_factory, standin):
    app = app_factory(**amazon_config(standin))
    with app.app_context():
        yield app


def signed_in(app, email):
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    return client


@pytest.fixture
def admin(amazon_app, people):
    return signed_in(amazon_app, "admin@example.com")


@pytest.fixture
def member(amazon_app, people):
    return signed_in(amazon_app, "member@example.com")


def start(client, **data):
    response = client.post("/amazon/start", data={"region": "EU", "marketplace": DE, **data}, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.headers["HX-Redirect"]


def consent(standin, consent_url, *, seller=SELLER, action="confirm", slow=False):
    """What the seller's browser does on Seller Central: confirm (or cancel) as `seller`."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
    data = {**query, "standin_seller_id": seller, "action": action, **({"slow": "1"} if slow else {})}
    response = httpx.post(standin.url + "/apps/authorize/consent", data=data)
    return response.headers.get("location"), response


def come_back(client, location):
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return client.get(f"{parts.path}?{parts.query}")


def bind_through_amazon(client, standin, *, name="EU main", countries=(DE, FR)):
    location, _ = consent(standin, start(client))
    answer = come_back(client, location)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:400]
    finish_url = answer.headers["Location"]
    data = {"name": name, "mode": "multi", "marketplaces": list(countries)} if len(countries) > 1 else \
        {"name": name, "mode": "single", "marketplace": countries[0]}
    response = client.post(finish_url, data=data, headers=HX)
    assert response.status_code == 200 and "HX-Redirect" in response.headers, response.get_data(as_text=True)[:600]
    return db.session.scalar(select(Shop).where(Shop.name == name))


def messages(client):
    return client.get("/my-shops").get_data(as_text=True)


# --- the website authorization workflow ---------------------------------------------------------------

def make_admin(email="d@example.com"):
    from portal.passwords import hash_password
    from portal.models import Company, User

    db.session.add(User(company=Company(name="C"), email=email, display_name="D", role="admin",
                        password_hash=hash_password(PASSWORD)))
    db.session.commit()


def test_consent_url_has_amazons_parameters_and_beta_for_a_draft_app(app_factory, standin):
    app = app_factory(**amazon_config(standin, AMAZON_SELLER_CENTRAL_URL=None, AMAZON_APP_DRAFT=True))
    with app.app_context():
        make_admin()
        url = start(signed_in(app, "d@example.com"), region="EU", marketplace=DE)
        row = db.session.scalar(select(AmazonAuthState))
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "sellercentral-europe.amazon.com",
                                                            "/apps/authorize/consent")
        assert query["application_id"] == [standin.app_id] and query["redirect_uri"] == [CALLBACK]
        assert query["version"] == ["beta"] and len(query["state"][0]) >= 40
        assert row.state_hash != query["state"][0] and row.region == "EU" and row.marketplace_id == DE
        assert timedelta(minutes=9) < row.expires_at - row.created_at <= timedelta(minutes=10)


def test_bind_a_multi_country_eu_shop_through_amazon(admin, standin):
    location, _ = consent(standin, start(admin))
    assert set(parse_qs(urlsplit(location).query)) == {"state", "selling_partner_id", "spapi_oauth_code"}
    answer = come_back(admin, location)
    assert answer.status_code == 303 and answer.headers["Referrer-Policy"] == "no-referrer"
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert SELLER in page and 'name="seller_id"' not in page  # the Seller ID comes from Amazon
    for country in (DE, FR, IT):  # pre-ticked
        assert re.search(r'<input[^>]*checked[^>]*type="checkbox"[^>]*value="%s"' % country, page), country
    assert re.search(r'<input[^>]*checked[^>]*value="multi"', page)
    assert ES not in page and US not in page  # only the countries the seller participates in
    response = admin.post(answer.headers["Location"], data={"name": "EU main", "mode": "multi",
                                                            "marketplaces": [DE, FR], "seller_id": "AHACKER00000"},
                          headers=HX)
    shop = db.session.scalar(select(Shop).where(Shop.name == "EU main"))
    assert response.headers["HX-Redirect"] == f"/shops/{shop.id}"
    assert shop.seller_id == SELLER and shop.region == "EU" and shop.marketplace_ids == [DE, FR]
    assert shop.check_status == "verified"
    row = db.session.scalar(select(AmazonAuthState))
    assert row.finished_at is not None and row.token_ciphertext is None  # the held token is gone
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "amazon.authorize_started" in actions and "amazon.authorize_completed" in actions
    details = " ".join(e.detail or "" for e in db.session.scalars(select(AuditEvent)))
    assert "Atzr|" not in details and "ANstandin" not in details
    assert admin.get(answer.headers["Location"]).status_code == 410  # finished: the dialog is gone


def test_finish_refuses_countries_the_seller_does_not_sell_in(admin, standin):
    location, _ = consent(standin, start(admin))
    finish_url = come_back(admin, location).headers["Location"]
    response = admin.post(finish_url, data={"name": "X", "mode": "multi", "marketplaces": [DE, ES]}, headers=HX)
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert db.session.scalar(select(Shop)) is None


def test_replayed_state_is_refused_and_nothing_is_exchanged(admin, standin):
    location, _ = consent(standin, start(admin))
    assert come_back(admin, location).status_code == 303
    tokens_before = standin.counts["token"]
    replay = come_back(admin, location)
    assert replay.status_code == 400 and replay.headers["Referrer-Policy"] == "no-referrer"
    assert "already used" in replay.get_data(as_text=True) and "Start again" in replay.get_data(as_text=True)
    assert standin.counts["token"] == tokens_before


def test_expired_state_is_refused(admin, standin):
    location, _ = consent(standin, start(admin))
    row = db.session.scalar(select(AmazonAuthState))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    answer = come_back(admin, location)
    assert answer.status_code == 400 and "expired" in answer.get_data(as_text=True)
    assert standin.counts["token"] == 0


def test_foreign_and_missing_state_are_refused(admin, member, standin):
    location, _ = consent(standin, start(admin))
    foreign = come_back(member, location)  # another user's state
    assert foreign.status_code == 400 and "does not belong to your session" in foreign.get_data(as_text=True)
    missing = member.get("/amazon/callback?selling_partner_id=A1&spapi_oauth_code=x")
    assert missing.status_code == 400 and standin.counts["token"] == 0
    assert come_back(admin, location).status_code == 303  # the owner can still use it


def test_expired_code_gets_its_message(admin, standin):
    location, _ = consent(standin, start(admin), slow=True)
    answer = come_back(admin, location)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "5 minutes" in body and "Start again" in body
    assert db.session.scalar(select(SellerAuthorization)) is None


def test_cancelled_consent_shows_on_the_dialog(admin, standin):
    location, page = consent(standin, start(admin), action="cancel")
    assert location is None and "cancelled" in page.text  # Amazon does not send the browser back
    dialog = admin.get("/shops/new", headers=HX).get_data(as_text=True)
    assert "cancelled or not finished; start again" in dialog and "MD1000" in dialog and "MD5101" in dialog
    start(admin)  # a new attempt: the notice is gone until it too is left unfinished
    assert come_back(admin, consent(standin, start(admin))[0]).status_code == 303
    assert "cancelled or not finished" not in admin.get("/shops/new", headers=HX).get_data(as_text=True)


def test_an_error_instead_of_a_code_is_explained(admin, standin):
    state = parse_qs(urlsplit(start(admin)).query)["state"][0]
    answer = admin.get("/amazon/callback", query_string={"state": state, "error": "access_denied"})
    assert answer.status_code == 400 and "did not authorize" in answer.get_data(as_text=True)


def test_consent_errors_md1000_and_md5101_stay_on_seller_central(admin, standin):
    standin.app_draft = True
    _, page = consent(standin, start(admin))
    assert page.status_code == 400 and "MD1000" in page.text
    standin.app_draft, standin.redirect_uris = False, frozenset({"https://portal.example/amazon/callback"})
    _, page = consent(standin, start(admin))
    assert "MD5101" in page.text


def test_existing_authorization_is_replaced_in_place_and_rechecked(admin, standin):
    first = bind_through_amazon(admin, standin, name="EU one", countries=(DE,))
    old = first.authorization
    old.authorized_at = utcnow() - timedelta(days=300)
    old_cipher = old.token_ciphertext
    db.session.commit()
    second = bind_through_amazon(admin, standin, name="EU two", countries=(FR, IT))
    assert second.authorization_id == first.authorization_id
    authorization = db.session.get(SellerAuthorization, first.authorization_id)
    db.session.refresh(authorization)
    assert authorization.token_ciphertext != old_cipher
    assert utcnow() - authorization.authorized_at < timedelta(minutes=1)  # the dates restart
    assert all(s.check_status == "verified" for s in authorization.shops)


# --- re-authorizing through Amazon ---------------------------------------------------------------------

def test_reauthorize_with_another_seller_account_is_refused(admin, standin):
    shop = bind_through_amazon(admin, standin, countries=(DE, FR))
    last4 = shop.authorization.token_last4
    url = start(admin, shop_id=shop.id)
    answer = come_back(admin, consent(standin, url, seller=OTHER)[0])
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400 and OTHER in body and SELLER in body and "another account" in body
    db.session.refresh(shop.authorization)
    assert shop.authorization.token_last4 == last4
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "amazon.authorize_refused")).all()
    assert refused and refused[-1].object_id == shop.id


def test_reauthorize_with_the_same_seller_replaces_the_token(admin, standin):
    shop = bind_through_amazon(admin, standin, countries=(DE, FR))
    authorization = shop.authorization
    authorization.authorized_at, authorization.check_claimed_at = utcnow() - timedelta(days=200), None
    old_cipher = authorization.token_ciphertext
    db.session.commit()
    answer = come_back(admin, consent(standin, start(admin, shop_id=shop.id))[0])
    assert answer.status_code == 303 and answer.headers["Location"] == f"/shops/{shop.id}"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    db.session.refresh(authorization)
    assert authorization.token_ciphertext != old_cipher
    assert utcnow() - authorization.authorized_at < timedelta(minutes=1)


# --- the log-in URI (authorizations started in Seller Central) -----------------------------------------

def test_login_uri_sends_the_seller_back_to_amazon_with_a_state(app_factory, standin):
    app = app_factory(**amazon_config(standin, AMAZON_APP_DRAFT=True))
    with app.app_context():
        make_admin()
        client = signed_in(app, "d@example.com")
        callback = "https://sellercentral-europe.amazon.com/apps/authorize/confirm"
        response = client.get("/amazon/login", query_string={"amazon_callback_uri": callback, "amazon_state": "amz-1",
                                                              "selling_partner_id": SELLER})
        assert response.status_code == 302
        target = urlsplit(response.headers["Location"])
        query = parse_qs(target.query)
        assert f"{target.scheme}://{target.netloc}{target.path}" == callback
        assert query["amazon_state"] == ["amz-1"] and query["redirect_uri"] == [CALLBACK]
        assert query["version"] == ["beta"] and len(query["state"][0]) >= 40
        row = db.session.scalar(select(AmazonAuthState))
        assert row.region == "EU" and row.purpose == "new"


@pytest.mark.parametrize("callback", ["https://evil.example/apps/authorize/confirm",
                                      "http://sellercentral.amazon.com/apps/authorize/confirm",
                                      "https://user@sellercentral.amazon.com/apps/authorize/confirm",
                                      "https://sellercentral.amazon.com.evil.example/apps/authorize/confirm",
                                      "https://sellercentral.amazon.com/gp/redirect?to=https://evil.example",
                                      "javascript:alert(1)", ""])
def test_login_uri_is_no_open_redirect(admin, callback):
    response = admin.get("/amazon/login", query_string={"amazon_callback_uri": callback, "amazon_state": "a"})
    assert response.status_code == 400 and "Location" not in response.headers
    assert db.session.scalar(select(AmazonAuthState)) is None


def test_login_uri_accepts_amazons_documented_callback_and_passes_beta_on(admin):
    """Amazon's example callback is https://amazon.com/apps/authorize/confirm/<app id>; a draft app's
    log-in URI visit carries version=beta, which goes back to Amazon too."""
    callback = "https://amazon.com/apps/authorize/confirm/amzn1.sellerapps.app.example"
    response = admin.get("/amazon/login", query_string={"amazon_callback_uri": callback, "amazon_state": "amz-3",
                                                         "selling_partner_id": SELLER, "version": "beta"})
    assert response.status_code == 302 and response.headers["Location"].startswith(callback + "?")
    assert parse_qs(urlsplit(response.headers["Location"]).query)["version"] == ["beta"]
    assert db.session.scalar(select(AmazonAuthState)).region == "NA"


def test_login_uri_needs_a_signed_in_user(amazon_app, people):
    anonymous = amazon_app.test_client()
    response = anonymous.get("/amazon/login", query_string={"amazon_callback_uri": "https://sellercentral.amazon.com/apps/authorize/confirm",
                                                             "amazon_state": "s"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert "amazon_state" in parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]


def test_login_uri_ends_at_the_callback_and_reauthorizes_the_sellers_shop(admin, standin):
    shop = bind_through_amazon(admin, standin, countries=(DE,))
    shop.authorization.check_claimed_at = None
    db.session.commit()
    response = admin.get("/amazon/login", query_string={"amazon_callback_uri": standin.url + "/apps/authorize/confirm",
                                                         "amazon_state": "amz-2", "selling_partner_id": SELLER})
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    row = db.session.scalar(select(AmazonAuthState).order_by(AmazonAuthState.id.desc()))
    assert row.purpose == "reauthorize" and row.shop_id == shop.id
    location, _ = consent(standin, f"{standin.url}/apps/authorize/consent?application_id={standin.app_id}"
                                   f"&state={state}&redirect_uri={CALLBACK}")
    answer = come_back(admin, location)
    assert answer.status_code == 303 and answer.headers["Location"] == f"/shops/{shop.id}"


# --- without AMAZON_APP_ID only the paste path ----------------------------------------------------------

def test_without_an_app_id_only_the_paste_path_is_offered(client, app, admin_a, login):
    login(client, admin_a)
    body = client.get("/shops/new", headers=HX).get_data(as_text=True)
    assert "Authorize with Amazon" not in body and 'name="token"' in body
    assert client.post("/amazon/start", data={"region": "EU"}).status_code == 404
    assert client.get("/amazon/callback?state=x").status_code == 404


# --- shared authorizations and the re-authorize throttle (issue 12, items 6 and 7) ----------------------

@pytest.fixture
def shared(admin, standin, people):
    """One seller authorization with two shops; the member is assigned only to the first."""
    visible = bind_through_amazon(admin, standin, name="Visible shop", countries=(DE,))
    hidden = bind_through_amazon(admin, standin, name="Hidden canary shop", countries=(FR,))
    visible.assignments.append(ShopAssignment(user_id=people[1].id))
    db.session.commit()
    return visible, hidden


def test_member_cannot_replace_a_token_that_hidden_shops_share(member, shared, standin):
    visible, hidden = shared
    last4 = visible.authorization.token_last4
    pasted = member.post(f"/shops/{visible.id}/reauthorize",
                         data={"token": "Atzr|member-new-token-0123456789", "authorized": "y"}, headers=HX)
    body = pasted.get_data(as_text=True)
    assert "HX-Redirect" not in pasted.headers and "Ask an admin" in body and hidden.name not in body
    started = member.post("/amazon/start", data={"shop_id": visible.id}, headers=HX)
    assert started.status_code == 403 and "Ask an admin" in started.get_data(as_text=True)
    assert hidden.name not in started.get_data(as_text=True)
    db.session.refresh(visible.authorization)
    assert visible.authorization.token_last4 == last4


def test_admin_is_told_which_shops_share_the_token(admin, shared, standin):
    visible, hidden = shared
    standin.register("Atzr|admin-new-token-0123456789", seller_id=SELLER, marketplaces=[DE, FR], region="EU")
    admin.post(f"/shops/{visible.id}/reauthorize", data={"token": "Atzr|admin-new-token-0123456789", "authorized": "y"},
               headers=HX)
    assert "The same authorization is used by: Hidden canary shop" in messages(admin)


def test_repeated_reauthorizing_within_the_throttle_calls_amazon_once(admin, standin, people):
    shop = bind_through_amazon(admin, standin, countries=(DE,))
    shop.authorization.check_claimed_at = None
    db.session.commit()
    for i in range(4):
        token = f"Atzr|throttle-token-{i}-0123456789"
        standin.register(token, seller_id=SELLER, marketplaces=[DE], region="EU")
        response = admin.post(f"/shops/{shop.id}/reauthorize", data={"token": token, "authorized": "y"}, headers=HX)
        assert response.headers["HX-Redirect"] == f"/shops/{shop.id}"
        db.session.refresh(shop.authorization)
        assert shop.authorization.token_last4 == token[-4:]  # saved every time
        calls = sum(standin.counts_for(f"Atzr|throttle-token-{j}-0123456789")["token"] for j in range(i + 1))
        assert calls == 1
        if i:
            assert "was not checked again now" in messages(admin)


# --- the paste path -----------------------------------------------------------------------------------

def paste(client, **extra):
    data = {"name": "Pasted", "region": "EU", "mode": "single", "marketplace": DE, "seller_id": "A9PASTED00001",
            "token": "Atzr|pasted-token-0123456789", "authorized": "y", **extra}
    return client.post("/shops/new", data=data, headers=HX)


def test_authorized_on_drives_the_expiry(admin, amazon_app):
    from portal.shops.lifecycle import EXPIRING, lifecycle
    from portal.shops.forms import user_today

    with amazon_app.test_request_context():
        day = user_today() - timedelta(days=340)
    response = paste(admin, authorized_on=day.isoformat())
    assert "HX-Redirect" in response.headers, response.get_data(as_text=True)[:500]
    shop = db.session.scalar(select(Shop).where(Shop.name == "Pasted"))
    life = lifecycle(shop.authorization)
    assert life.state == EXPIRING and 23 <= life.days_left <= 25
    detail = admin.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert (day + timedelta(days=365)).strftime("%Y") in detail


@pytest.mark.parametrize(("offset", "message"), [(1, "cannot be in the future"), (365, "has expired"),
                                                 (None, "Not a valid date")])
def test_authorized_on_is_checked(admin, amazon_app, offset, message):
    from portal.shops.forms import user_today

    with amazon_app.test_request_context():
        value = "31.02.2026" if offset is None else (user_today() + timedelta(days=offset if offset == 1 else -offset))
    response = paste(admin, authorized_on=str(value))
    assert "HX-Redirect" not in response.headers and message in response.get_data(as_text=True)


def test_default_authorized_on_is_today(admin):
    assert "HX-Redirect" in paste(admin).headers
    authorization = db.session.scalar(select(SellerAuthorization))
    assert utcnow() - authorization.authorized_at < timedelta(minutes=1)


def test_a_pasted_access_token_gets_its_own_message(admin):
    body = paste(admin, token="Atza|IwEBIaccess-token-0123456789").get_data(as_text=True)
    assert "access token" in body and "one hour" in body and "Atzr|" in body
    assert db.session.scalar(select(Shop)) is None


# --- the routes' own guards (the URL-map walks of other modules run without AMAZON_APP_ID) ----------------

def test_posts_need_the_csrf_token(admin, standin):
    for path in ("/amazon/start", "/amazon/finish?attempt=1"):
        for headers in ({}, HX):
            assert admin.post(path, data={"region": "EU", "name": "x"}, csrf=False, headers=headers).status_code == 400
    assert db.session.scalar(select(AmazonAuthState)) is None


def test_anonymous_users_are_sent_to_sign_in(amazon_app, people):
    anonymous = amazon_app.test_client()
    for path in ("/amazon/callback?state=x", "/amazon/finish?attempt=1"):
        response = anonymous.get(path)
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    htmx = anonymous.get("/amazon/finish?attempt=1", headers=HX)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")


def test_start_without_htmx_shows_a_link_to_seller_central(admin, standin):
    response = admin.post("/amazon/start", data={"region": "EU", "marketplace": DE})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Continue to Seller Central" in body and standin.url in body


def test_start_checks_the_shop_like_every_shop_route(admin, member, standin, people):
    shop = bind_through_amazon(admin, standin, countries=(DE,))
    assert member.post("/amazon/start", data={"shop_id": shop.id}, headers=HX).status_code == 404  # not assigned
    assert admin.post("/amazon/start", data={"shop_id": 987654}, headers=HX).status_code == 404
    assert db.session.scalar(select(AmazonAuthState).where(AmazonAuthState.shop_id.is_not(None))) is None


def test_the_finish_dialog_belongs_to_its_user(admin, member, standin):
    location, _ = consent(standin, start(admin))
    finish_url = come_back(admin, location).headers["Location"]
    assert member.get(finish_url).status_code == 410
    assert member.post(finish_url, data={"name": "Stolen", "mode": "single", "marketplace": DE}).status_code == 410
    assert db.session.scalar(select(Shop)) is None
    assert admin.get(finish_url).status_code == 200


@pytest.mark.parametrize("attempt", ["99999999999999999999", "2147483648", "-1", "²", "abc", ""])
def test_the_finish_dialog_answers_odd_attempt_ids_with_410(admin, standin, attempt):
    assert admin.get(f"/amazon/finish?attempt={attempt}").status_code == 410


def test_two_callbacks_with_one_state_exchange_once(amazon_app, admin, standin, people):
    """The state is consumed by one UPDATE: of parallel callbacks exactly one may exchange the code."""
    from concurrent.futures import ThreadPoolExecutor

    from portal.shops.oauth import OK, consume

    raw = parse_qs(urlsplit(start(admin)).query)["state"][0]
    user_id = people[0].id

    def take(_):
        """What the callback view does: load the user, then consume the state in a write transaction."""
        with amazon_app.app_context():
            from portal.database import write_intent
            from portal.models import User

            user = db.session.get(User, user_id)
            db.session.commit()
            with write_intent():
                outcome = consume(raw, user)[1]
                db.session.commit()
            db.session.remove()
            return outcome

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(take, range(6)))
    assert outcomes.count(OK) == 1 and set(outcomes) - {OK} == {"used"}


def test_the_dialogs_render_in_chinese_too(admin, standin):
    consent(standin, start(admin), action="cancel")
    for path in ("/shops/new",):
        for headers in ({}, HX):
            response = admin.get(path, headers={**headers, "Accept-Language": "zh"})
            assert response.status_code == 200 and 'id="amazon-unfinished"' in response.get_data(as_text=True)


def test_start_refuses_ids_beyond_the_database_range(admin):
    for value in ("9223372036854775808", "2147483648", "-1", "x"):
        assert admin.post("/amazon/start", data={"shop_id": value}, headers=HX).status_code == 400
    assert db.session.scalar(select(AmazonAuthState)) is None


def test_member_cannot_replace_a_shared_token_with_a_new_shop_either(member, shared, standin):
    """Binding a new shop with a new token replaces the seller's token for all its shops: refused for a
    member when some of them are hidden from them, without naming those."""
    visible, hidden = shared
    last4 = visible.authorization.token_last4
    response = member.post("/shops/new", data={"name": "Member extra", "region": "EU", "mode": "single",
                                               "marketplace": IT, "seller_id": SELLER, "authorized": "y",
                                               "token": "Atzr|member-extra-token-0123456789"}, headers=HX)
    body = response.get_data(as_text=True)
    assert "HX-Redirect" not in response.headers and "Ask an admin" in body and hidden.name not in body
    db.session.refresh(visible.authorization)
    assert visible.authorization.token_last4 == last4


def test_tokens_of_abandoned_dialogs_are_dropped(admin, standin):
    location, _ = consent(standin, start(admin))
    come_back(admin, location)
    row = db.session.scalar(select(AmazonAuthState))
    assert row.token_ciphertext is not None
    row.used_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    start(admin)  # any new attempt purges what was left behind
    db.session.refresh(row)
    assert row.token_ciphertext is None
