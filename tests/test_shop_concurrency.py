"""Twenty people bind the same Amazon seller at the same moment: exactly one shop is stored and
everyone else gets a clear duplicate message, never a 500.

A real threaded HTTP server on loopback and twenty real signed-in sessions released together by a
barrier; the database is the test's SQLite file, or PostgreSQL under TEST_DATABASE_URL."""
import html
import re
import threading
from contextlib import ExitStack

import httpx
import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from portal.extensions import db
from portal.models import SellerAuthorization, Shop, ShopAssignment, ShopMarketplace
from tests.conftest import CSRF_RE, PASSWORD

N = 20
US = "ATVPDKIKX0DER"
SELLER = "A1CONCURRENT01"
FIELD_ERROR_RE = re.compile(r'class="field-error"[^>]*>([^<]*)<')
NAME_TAKEN = "Your company already has a shop with this name. Choose another name."
SELLER_BOUND = f"Seller {SELLER} is already bound for US in the shop “{{}}”."
# A member is not told the name of a shop they may not see (the winner's shop is not theirs).
SELLER_BOUND_HIDDEN = (f"Seller {SELLER} is already bound for US in another shop of your company. "
                       "Ask an admin to assign that shop to you.")


def seller_bound(shop_name, admin):
    return SELLER_BOUND.format(shop_name) if admin else SELLER_BOUND_HIDDEN


@pytest.fixture
def server(app):
    """The test's app served by a real threaded WSGI server on 127.0.0.1."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def staff(app, company_a, make_user):
    """Twenty people of one company, admins and members alternating (members may bind shops too)."""
    users = [make_user(company_a, role="admin" if i % 2 == 0 else "member", email=f"staff{i}@example.com",
                       name=f"Staff {i}") for i in range(N)]
    people = [(user.id, user.email, user.is_admin) for user in users]
    db.session.commit()  # hold no transaction open while the server writes
    return people


def csrf_token(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, page[:300]
    return match.group(1) or match.group(2)


def signed_in_clients(stack: ExitStack, base_url: str, people) -> list[httpx.Client]:
    clients = []
    for _user_id, email, _admin in people:
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=60,
                                                  headers={"Accept-Language": "en"}))
        token = csrf_token(client.get("/login").text)
        response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.text[:300]
        clients.append(client)
    return clients


def bind_all_at_once(base_url, people, forms):
    """Each session loads the form (fresh token), then all POST together; returns the responses."""
    results: list = [None] * N
    barrier = threading.Barrier(N, timeout=60)
    with ExitStack() as stack:
        clients = signed_in_clients(stack, base_url, people)

        def bind(i):
            try:
                token = csrf_token(clients[i].get("/shops/new").text)
                barrier.wait()
                response = clients[i].post("/shops/new", data={**forms[i], "csrf_token": token},
                                           headers={"HX-Request": "true"})
                results[i] = (response.status_code, response.headers.get("HX-Redirect"), response.text)
            except Exception as error:  # reported below, not swallowed by the thread
                results[i] = error

        threads = [threading.Thread(target=bind, args=(i,), name=f"bind-{i}") for i in range(N)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def form(name, seller_id=SELLER, token="Atzr|concurrent-refresh-token-0123456789"):
    return {"name": name, "region": "NA", "mode": "single", "marketplace": US, "seller_id": seller_id,
            "token": token, "authorized": "y"}


def outcome(results, people):
    """The one winner (index, redirect) and the losers' field error messages; checks the statuses."""
    statuses = [r[0] for r in results]
    assert all(status == 200 for status in statuses), statuses  # never a 500, 409, 429 ...
    winners = [i for i, r in enumerate(results) if r[1]]
    assert len(winners) == 1, [r[1] for r in results]
    winner = winners[0]
    assert results[winner][1] == ("/shops" if people[winner][2] else "/my-shops")
    messages = {}
    for i, (_status, _redirect, body) in enumerate(results):
        if i == winner:
            continue
        assert 'class="shop-form"' in body and "<html" not in body  # the dialog re-rendered
        errors = [html.unescape(m) for m in FIELD_ERROR_RE.findall(body)]
        assert len(errors) == 1 and "already" in errors[0], errors  # a duplicate, said as such
        messages[i] = errors[0]
    return winner, messages


def stored():
    db.session.commit()  # a fresh snapshot: see what the server's requests committed
    shops = db.session.scalars(select(Shop)).all()
    authorizations = db.session.scalars(select(SellerAuthorization)).all()
    links = db.session.scalars(select(ShopMarketplace).where(ShopMarketplace.marketplace_id == US)).all()
    return shops, authorizations, links


def test_twenty_identical_binds_store_one_shop(server, staff):
    forms = [form("US main store") for _ in range(N)]
    results = bind_all_at_once(server, staff, forms)
    winner, messages = outcome(results, staff)
    # Both checks find the twin: the name check, or (when the winner committed between a loser's name
    # check and its seller check, possible on PostgreSQL) the seller/marketplace check.
    for i, message in messages.items():
        assert message in (NAME_TAKEN, seller_bound("US main store", staff[i][2])), message

    shops, authorizations, links = stored()
    assert [s.name for s in shops] == ["US main store"]
    assert len(authorizations) == 1 and authorizations[0].seller_id == SELLER
    assert len(links) == 1 and links[0].shop_id == shops[0].id
    assert shops[0].created_by_id == staff[winner][0]
    expected_assignees = set() if staff[winner][2] else {staff[winner][0]}
    assert set(db.session.scalars(select(ShopAssignment.user_id))) == expected_assignees


def test_twenty_names_for_one_seller_and_marketplace_store_one_shop(server, staff):
    forms = [form(f"Store {i}", token=f"Atzr|concurrent-refresh-token-{i:04d}-abcdefgh") for i in range(N)]
    results = bind_all_at_once(server, staff, forms)
    winner, messages = outcome(results, staff)
    winner_name = f"Store {winner}"
    for i, message in messages.items():
        assert message == seller_bound(winner_name, staff[i][2]), (i, message)

    shops, authorizations, links = stored()
    assert [s.name for s in shops] == [winner_name]
    assert len(authorizations) == 1 and authorizations[0].seller_id == SELLER
    # The stored token is the winner's: a loser's token never replaced it.
    assert authorizations[0].token_last4 == forms[winner]["token"][-4:]
    assert len(links) == 1 and links[0].shop_id == shops[0].id


def test_twenty_sellers_under_one_name_keep_one_name(server, staff):
    sellers = [f"A1SELLER{i:06d}" for i in range(N)]
    forms = [form("Shared name", seller_id=sellers[i]) for i in range(N)]
    results = bind_all_at_once(server, staff, forms)
    winner, messages = outcome(results, staff)
    assert set(messages.values()) == {NAME_TAKEN}, set(messages.values())

    shops, authorizations, links = stored()
    assert [(s.name, s.seller_id) for s in shops] == [("Shared name", sellers[winner])]
    # The losers' seller authorizations were rolled back with their shops.
    assert [a.seller_id for a in authorizations] == [sellers[winner]]
    assert len(links) == 1
    assert db.session.scalar(select(func.count(ShopMarketplace.id))) == 1
