"""Seed a benchmark database with bulk inserts that produce the rows the product's services would.

Everything goes through SQLAlchemy `insert(Model)` with lists of dicts (executemany with
RETURNING where the new ids are needed), inside the portal's app context so the same helpers fill
the derived columns: `portal.crypto.encrypt_token` (one Fernet ciphertext per seller
authorization, bound to company/seller/region), `portal.shops.services.name_key`,
`portal.other_stores.services.platform_key`, and `portal.shops.verify.record` for the stored
verification results. Deterministic (fixed random seed) so every run measures the same data.

One deliberate shortcut: hashing 300 passwords at the production cost (scrypt N=2^17, about 0.7 s
each here) would take minutes, so the two accounts the benchmark signs in with get their own real
hash and the other 298 share one real hash of a random, discarded password (same format and cost;
only the salt is shared). No page reads password hashes.
"""
from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from portal.alerts import events as alert_events
from portal.amazon import client as amazon
from portal.amazon.marketplaces import MARKETPLACES, marketplaces_in
from portal.passwords import hash_password
from portal.crypto import encrypt_token
from portal.extensions import db
from portal.models import (MODE_MULTI, MODE_SINGLE, ORDER_SOURCE_MANUAL, ORDER_STATUSES, ROLE_ADMIN, ROLE_MEMBER,
                           AlertEvent, Company, Order, OtherStore, OtherStoreAssignment, OtherStoreCountry,
                           SellerAuthorization, Shop, ShopAssignment, ShopMarketplace, User, utcnow)
from portal.other_stores.catalog import OTHER, PLATFORMS
from portal.other_stores.services import platform_key
from portal.forms import name_key
from portal.shops.verify import record

SEED = 20261126
CHUNK = 5000
# Shop names: a brand, the first country, a number. The search benchmark looks for one brand.
BRANDS = ("Anker", "安克", "Baseus", "倍思", "Ugreen", "绿联", "Xiaomi", "小米", "Soundcore", "Eufy",
          "Aukey", "傲基", "Tribit", "Roborock", "石头", "Dreame", "追觅", "Lenovo", "联想", "Haier")
SEARCH_TERM = "anker"
OTHER_PLATFORM_NAMES = ("Noon", "Cdiscount", "Fruugo", "Kaufland")
STORE_COUNTRIES = ("US", "GB", "DE", "FR", "IT", "ES", "JP", "CN", "SG", "MY", "TH", "VN", "ID", "PH", "BR", "MX",
                   "CA", "AU", "PL", "TR", "AE", "SA", "KR", "NL")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CNY", "SGD", "MYR", "THB", "BRL", "MXN", "CAD", "AUD", "PLN")
BUYERS = ("张伟", "王芳", "李娜", "刘洋", "陈静", "John Smith", "Maria Garcia", "Hans Müller", "Yuki Tanaka",
          "Ana Souza", None)


@dataclass(frozen=True)
class Sizes:
    users: int
    shops: int
    assignments: int
    member_shops: int
    other_stores: int
    orders: int
    bench_store_orders: int  # orders of the store whose orders page is measured

    @classmethod
    def full(cls) -> Sizes:
        return cls(users=300, shops=10_000, assignments=50_000, member_shops=200, other_stores=2_000,
                   orders=100_000, bench_store_orders=2_000)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(users=30, shops=200, assignments=1_000, member_shops=100, other_stores=50, orders=1_000,
                   bench_store_orders=600)


@dataclass
class Seeded:
    company_id: int
    admin_email: str
    admin_password: str
    member_email: str
    member_password: str
    admin_id: int
    member_id: int
    counts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    bench_store_id: int = 0
    search_term: str = SEARCH_TERM


def _chunks(rows: list, size: int = CHUNK):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _insert(model, rows: list[dict]) -> None:
    for part in _chunks(rows):
        db.session.execute(insert(model), part)


def _insert_returning_ids(model, rows: list[dict]) -> list[int]:
    ids: list[int] = []
    for part in _chunks(rows):
        ids.extend(db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), part))
    return ids


def _plan_authorizations(n_shops: int, rng: random.Random) -> list[tuple[str, list[list[str]]]]:
    """(region, [marketplace ids of each shop]) per seller authorization: 1–3 shops each, shops of one
    authorization on distinct marketplaces of its region; the first marketplaces cycle through all 23."""
    plan = []
    made = cursor = 0
    while made < n_shops:
        first = MARKETPLACES[cursor % len(MARKETPLACES)]
        cursor += 1
        pool = [mp.marketplace_id for mp in marketplaces_in(first.region)]
        start = pool.index(first.marketplace_id)
        pool = pool[start:] + pool[:start]
        wanted = min(rng.choice((1, 2, 3)), n_shops - made)
        shops, position = [], 0
        for _ in range(wanted):
            if position >= len(pool):
                break
            width = 1 if rng.random() < 0.85 else rng.choice((2, 3))
            shops.append(pool[position:position + width])
            position += len(shops[-1])
        plan.append((first.region, shops))
        made += len(shops)
    return plan


def _verification_columns(rng: random.Random, store_name: str, authorized_at, now) -> dict:
    """What portal.shops.verify.record() leaves on a shop: verified 65 %, failed 10 %, never 25 %,
    and for 5 % a newer attempt that Amazon did not answer."""
    shop = Shop()
    roll = rng.random()
    checked = min(now, authorized_at + timedelta(days=rng.uniform(0, 30)))
    if roll < 0.65:
        record(shop, amazon.VerifyOutcome(amazon.VERIFIED, store_name=store_name), checked)
    elif roll < 0.75:
        record(shop, amazon.VerifyOutcome(amazon.INVALID_GRANT), checked)
    if rng.random() < 0.05:
        record(shop, amazon.VerifyOutcome(amazon.THROTTLED), checked + timedelta(hours=rng.uniform(1, 48)))
    names = ("check_status", "check_code", "check_data", "checked_at", "last_good_at", "store_name", "attempt_code",
             "attempt_data", "attempt_at")
    values = {name: getattr(shop, name) for name in names}
    values["check_status"] = values["check_status"] or "never"
    return values


def seed(sizes: Sizes, log=print) -> Seeded:
    """Fill an empty, migrated database (inside an app context). Commits."""
    rng = random.Random(SEED)
    now = utcnow()
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}

    # -- company and users ---------------------------------------------------------------------
    started = time.perf_counter()
    company_id = db.session.scalars(insert(Company).returning(Company.id),
                                    [{"name": "Bench Trading 基准贸易", "created_at": now}]).one()
    admin_password, member_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    shared_hash = hash_password(secrets.token_urlsafe(12))
    users = []
    for index in range(sizes.users):
        if index == 0:
            email, name, role, password_hash = "bench-admin@example.com", "Bench Admin 管理员", ROLE_ADMIN, \
                hash_password(admin_password)
        elif index == 1:
            email, name, role, password_hash = "bench-member@example.com", "Bench Member 小王", ROLE_MEMBER, \
                hash_password(member_password)
        else:
            email, name = f"staff{index:03d}@example.com", f"员工 Staff {index:03d}"
            role, password_hash = (ROLE_ADMIN if index % 30 == 0 else ROLE_MEMBER), shared_hash
        users.append({"company_id": company_id, "email": email, "display_name": name, "role": role, "active": True,
                      "password_hash": password_hash, "must_change_password": False, "session_version": 1,
                      "created_at": now - timedelta(days=rng.uniform(0, 700)), "last_login_at": None})
    user_ids = _insert_returning_ids(User, users)
    admin_id, member_id = user_ids[0], user_ids[1]
    counts["users"] = len(user_ids)
    seconds["users (3 production password hashes)"] = time.perf_counter() - started

    # -- seller authorizations (encrypted tokens), shops, marketplaces ---------------------------
    started = time.perf_counter()
    plan = _plan_authorizations(sizes.shops, rng)
    authorizations = []
    for number, (region, _shops) in enumerate(plan, start=1):
        seller_id = f"A1B{number:09d}"
        token = f"Atzr|standin-valid-bench-{number}-{secrets.token_hex(8)}"  # fake: the stand-in accepts it
        authorized_at = now - timedelta(days=rng.uniform(0, 400))
        authorizations.append({
            "company_id": company_id, "seller_id": seller_id, "region": region,
            "token_ciphertext": encrypt_token(token, company_id=company_id, seller_id=seller_id, region=region),
            "token_last4": token[-4:], "authorized_at": authorized_at, "token_updated_at": authorized_at,
            "token_updated_by_id": admin_id, "created_at": authorized_at, "check_claimed_at": None})
    authorization_ids = _insert_returning_ids(SellerAuthorization, authorizations)
    counts["seller_authorizations"] = len(authorization_ids)
    seconds["seller authorizations (Fernet)"] = time.perf_counter() - started

    started = time.perf_counter()
    shops, shop_marketplaces = [], []
    for auth_id, auth_row, (region, shop_plan) in zip(authorization_ids, authorizations, plan):
        for mids in shop_plan:
            number = len(shops)
            country = next(mp.country_code for mp in MARKETPLACES if mp.marketplace_id == mids[0])
            name = f"{BRANDS[number % len(BRANDS)]} {country} {number + 1:05d}"
            row = {"company_id": company_id, "authorization_id": auth_id, "name": name, "name_key": name_key(name),
                   "mode": MODE_MULTI if len(mids) > 1 else MODE_SINGLE,
                   "created_at": auth_row["authorized_at"], "created_by_id": admin_id}
            row.update(_verification_columns(rng, f"{BRANDS[number % len(BRANDS)]} Store", auth_row["authorized_at"],
                                             now))
            shops.append(row)
            shop_marketplaces.append((auth_id, mids))
    shop_ids = _insert_returning_ids(Shop, shops)
    _insert(ShopMarketplace, [{"shop_id": shop_id, "authorization_id": auth_id, "marketplace_id": mid, "position": i}
                              for shop_id, (auth_id, mids) in zip(shop_ids, shop_marketplaces)
                              for i, mid in enumerate(mids)])
    counts["shops"] = len(shop_ids)
    counts["shop_marketplaces"] = sum(len(mids) for _a, mids in shop_marketplaces)
    seconds["shops + marketplaces"] = time.perf_counter() - started

    # -- assignments: the bench member holds member_shops; the rest spread over the staff --------
    started = time.perf_counter()
    pairs = {(shop_id, member_id) for shop_id in rng.sample(shop_ids, min(sizes.member_shops, len(shop_ids)))}
    others = [uid for uid in user_ids if uid != member_id]
    target = min(sizes.assignments, len(shop_ids) * len(user_ids))
    while len(pairs) < target:
        pairs.add((rng.choice(shop_ids), rng.choice(others)))
    _insert(ShopAssignment, [{"shop_id": s, "user_id": u, "created_at": now} for s, u in sorted(pairs)])
    counts["shop_assignments"] = len(pairs)
    seconds["shop assignments"] = time.perf_counter() - started

    # -- other stores, their countries and staff -------------------------------------------------
    started = time.perf_counter()
    codes = list(PLATFORMS)
    stores, store_meta = [], []
    for index in range(sizes.other_stores):
        if rng.random() < 0.1:
            platform, platform_other = OTHER, rng.choice(OTHER_PLATFORM_NAMES)
            label = platform_other
        else:
            platform, platform_other = rng.choice(codes), None
            label = PLATFORMS[platform]
        name = f"{label} Store {index + 1:04d}"
        stores.append({"company_id": company_id, "platform": platform, "platform_other": platform_other,
                       "platform_key": platform_key(platform, platform_other), "name": name,
                       "name_key": name_key(name), "url": f"https://{platform}.example.com/store/{index + 1}",
                       "login_name": f"seller{index + 1:04d}", "notes": None if index % 3 else "Bench notes 备注",
                       "created_at": now - timedelta(days=rng.uniform(0, 700)), "created_by_id": admin_id})
        store_meta.append((rng.sample(STORE_COUNTRIES, rng.choice((1, 1, 2, 3))), rng.choice(CURRENCIES)))
    store_ids = _insert_returning_ids(OtherStore, stores)
    _insert(OtherStoreCountry, [{"store_id": sid, "country_code": code, "position": i}
                                for sid, (countries, _c) in zip(store_ids, store_meta)
                                for i, code in enumerate(countries)])
    store_pairs = set()
    for sid in store_ids:
        for uid in rng.sample(others, min(len(others), rng.choice((1, 2)))):
            store_pairs.add((sid, uid))
    for sid in rng.sample(store_ids, min(20, len(store_ids))):
        store_pairs.add((sid, member_id))
    _insert(OtherStoreAssignment, [{"store_id": s, "user_id": u, "created_at": now} for s, u in sorted(store_pairs)])
    counts["other_stores"] = len(store_ids)
    counts["other_store_assignments"] = len(store_pairs)
    seconds["other stores"] = time.perf_counter() - started

    # -- manual orders: one store gets bench_store_orders, the rest spread over the others --------
    started = time.perf_counter()
    bench_store_id = store_ids[0]
    per_store: dict[int, int] = {bench_store_id: min(sizes.bench_store_orders, sizes.orders)}
    rest = sizes.orders - per_store[bench_store_id]
    remaining_ids = store_ids[1:] or store_ids
    for position in range(rest):
        sid = remaining_ids[rng.randrange(len(remaining_ids))] if position >= len(remaining_ids) else \
            remaining_ids[position]
        per_store[sid] = per_store.get(sid, 0) + 1
    currency_of = dict(zip(store_ids, (c for _countries, c in store_meta)))
    today = date.today()
    orders = []
    for sid, number in per_store.items():
        for n in range(number):
            currency = currency_of[sid] if rng.random() < 0.8 else rng.choice(CURRENCIES)
            orders.append({
                "company_id": company_id, "source": ORDER_SOURCE_MANUAL, "other_store_id": sid, "shop_id": None,
                "order_number": f"SO-{sid}-{n + 1:06d}", "order_date": today - timedelta(days=rng.randrange(730)),
                "status": rng.choice(ORDER_STATUSES), "currency": currency,
                "total": (Decimal(rng.randint(100, 2_000_000)) / 100).quantize(Decimal("0.01")),
                "buyer_name": rng.choice(BUYERS), "notes": None, "created_at": now, "created_by_id": admin_id})
    _insert(Order, orders)
    counts["orders"] = len(orders)
    seconds["orders"] = time.perf_counter() - started

    # -- alerts: what the periodic scan finds in these shops (the header's count reads them) ------
    started = time.perf_counter()
    alert_events.scan()
    seconds["alert_scan"] = time.perf_counter() - started

    started = time.perf_counter()
    db.session.commit()
    seconds["commit"] = time.perf_counter() - started
    return Seeded(company_id=company_id, admin_email="bench-admin@example.com", admin_password=admin_password,
                  member_email="bench-member@example.com", member_password=member_password, admin_id=admin_id,
                  member_id=member_id, counts=counts, seconds=seconds, bench_store_id=bench_store_id)


def check_counts(expected: Sizes) -> dict[str, int]:
    """Row counts read back from the database (so the report shows what was really there)."""
    models = {"users": User, "seller_authorizations": SellerAuthorization, "shops": Shop,
              "shop_marketplaces": ShopMarketplace, "shop_assignments": ShopAssignment, "other_stores": OtherStore,
              "other_store_assignments": OtherStoreAssignment, "orders": Order, "alert_events": AlertEvent}
    return {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in models.items()}


def authorizations_for(shop_total: int) -> tuple[list[int], int]:
    """One shop id per seller authorization, for authorizations that together hold exactly
    `shop_total` shops (verify-shops checks every shop of an authorization it is given)."""
    rows = db.session.execute(select(Shop.authorization_id, func.count(Shop.id), func.min(Shop.id))
                              .group_by(Shop.authorization_id).order_by(Shop.authorization_id)).all()
    chosen, total = [], 0
    for _auth_id, count, first_shop in rows:
        if total + count <= shop_total:
            chosen.append(first_shop)
            total += count
        if total == shop_total:
            break
    return chosen, total


def describe_marketplace_spread() -> dict[str, int]:
    from portal.amazon.marketplaces import marketplace_by_id

    rows = db.session.execute(select(ShopMarketplace.marketplace_id, func.count()).group_by(
        ShopMarketplace.marketplace_id)).all()
    return {marketplace_by_id(mid).country_code: n for mid, n in rows}
