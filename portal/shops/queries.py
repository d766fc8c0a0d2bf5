"""The read side of the shop pages: sorts, filters, status conditions, banner counts and list builders.

Pagination is offset-based with a deferred join: the page's ids are picked by a query that reads only
the shop table's (company_id, sort_name, id) index for the default sort (pinyin order, sorting.py), and
only those 50 ids are joined to their authorizations. A deep page (page 150 = offset 7,450) thus walks
index entries, not 7,450 joined rows, and keeps page numbers (which keyset pagination would lose)."""
from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import contains_eager

from ..amazon.marketplaces import REGIONS, display_name
from ..extensions import db
from ..forms import ChoiceFilter, FilterForm, SearchFilter
from ..assignments import company_staff
from ..models import CHECK_FAILED, CHECK_NEVER, CHECK_VERIFIED, ROLE_ADMIN, SellerAuthorization, Shop, ShopAssignment, \
    ShopMarketplace, User
from ..pagination import Page, paginate, window
from ..texts import N_, fast_gettext
from .lifecycle import Bounds, bounds
from .rows import RowBuilder, member_options

DEFAULT_SORT = "name"
# key -> (label, ORDER BY, needs the authorization join)
# Labels are msgids (N_), translated once per request by the option functions below.
SORTS = {
    "name": (N_("Name A–Z"), (Shop.sort_name, Shop.id), False),
    "-name": (N_("Name Z–A"), (Shop.sort_name.desc(), Shop.id.desc()), False),
    "-created": (N_("Newest first"), (Shop.created_at.desc(), Shop.id.desc()), False),
    "created": (N_("Oldest first"), (Shop.created_at, Shop.id), False),
    "expiry": (N_("Expires soonest"), (SellerAuthorization.authorized_at, Shop.id), True),
    "-expiry": (N_("Expires latest"), (SellerAuthorization.authorized_at.desc(), Shop.id.desc()), True),
}
STATUSES = {
    "attention": N_("Needs attention"), "verified": N_("Verified"), "failed": N_("Failed"),
    "never": N_("Never verified"), "valid": N_("Authorization valid"), "expiring": N_("Expiring soon"),
    "expired": N_("Expired"),
}
BANNER = ("expired", "expiring", "failed")


def region_options():
    locale = get_locale()
    return [("", fast_gettext(N_("All regions"))), *((code, display_name(region, locale)) for code, region in REGIONS.items())]


def status_options():
    return [("", fast_gettext(N_("Any status"))), *((key, fast_gettext(label)) for key, label in STATUSES.items())]


def sort_options():
    return [(key, fast_gettext(label)) for key, (label, _order, _join) in SORTS.items()]


class ShopFilters(FilterForm):
    """The Shop list's toolbar, read from the query string; its options are the definitions above."""

    q = SearchFilter()
    region = ChoiceFilter(_l("Region"), choices=region_options)
    status = ChoiceFilter(_l("Status"), choices=status_options)
    sort = ChoiceFilter(_l("Sort"), choices=sort_options, default=DEFAULT_SORT)
    defaults = {"sort": DEFAULT_SORT}


def status_conditions(limits: Bounds) -> dict:
    """SQL conditions for the status filters and the attention banner (the expiry rule: lifecycle.bounds)."""
    column = SellerAuthorization.authorized_at
    conditions = {
        "expired": column <= limits.expired_before,
        "expiring": (column > limits.expired_before) & (column <= limits.warn_before),
        "valid": column > limits.warn_before,
        "verified": Shop.check_status == CHECK_VERIFIED,
        "failed": Shop.check_status == CHECK_FAILED,
        "never": Shop.check_status == CHECK_NEVER,
    }
    conditions["attention"] = or_(column <= limits.warn_before, Shop.check_status == CHECK_FAILED)
    return conditions


def _conditions(values: dict, limits: Bounds) -> tuple[list, bool]:
    """WHERE conditions of the filters, and whether they need the authorization join."""
    conditions = []
    if values["q"]:
        like = f"%{values['q'].casefold()}%"
        conditions.append(or_(Shop.name_key.like(like), SellerAuthorization.seller_id.like(like.upper())))
    if values["region"]:
        conditions.append(SellerAuthorization.region == values["region"])
    if values["status"]:
        conditions.append(status_conditions(limits)[values["status"]])
    return conditions, bool(conditions)


def _joined(query):
    return query.join(SellerAuthorization, Shop.authorization_id == SellerAuthorization.id)


def filtered_shops(base, filters: ShopFilters, limits: Bounds | None = None):
    """Select of the ORM shops of `base` matching the filters, in the chosen order."""
    values = filters.values()
    conditions, _join = _conditions(values, limits or bounds())
    return (base.join(Shop.authorization).options(contains_eager(Shop.authorization))
            .where(*conditions).order_by(*SORTS[values["sort"]][1]))


def attention_counts(base, limits: Bounds) -> dict:
    """How many of these shops are expired, expiring or failing, and how many in all ("total"): one query
    for the banner, whose total also serves as the list's count when no filter narrows the list."""
    conditions = status_conditions(limits)
    query = _joined(base).with_only_columns(
        func.count(Shop.id).label("total"),
        *(func.coalesce(func.sum(case((conditions[key], 1), else_=0)), 0).label(key) for key in BANNER)
    ).order_by(None)
    row = db.session.execute(query).one()
    return {key: getattr(row, key) for key in ("total", *BANNER)}


_ROW_COLUMNS = (Shop.id, Shop.name, Shop.check_status, Shop.check_code, Shop.check_data, Shop.checked_at,
                Shop.last_good_at, Shop.store_name, Shop.attempt_code, Shop.attempt_data, Shop.attempt_at,
                SellerAuthorization.seller_id, SellerAuthorization.region, SellerAuthorization.authorized_at,
                Shop.authorization_id)


def list_page(base, filters: ShopFilters, raw_page, *, with_staff: bool, builder: RowBuilder,
              total: int | None = None) -> Page:
    """One page of the Shop list / My shops as ShopRow view-models, in a constant number of statements:
    count (unless `total` is known: the banner counted the unfiltered list), the page's rows, their
    countries (and staff)."""
    values = filters.values()
    conditions, join = _conditions(values, builder.limits)
    _label, order, sort_join = SORTS[values["sort"]]
    ids = base.with_only_columns(Shop.id)
    if join or sort_join:
        ids = _joined(ids)
    ids = ids.where(*conditions)
    # Counting needs no join when no filter reads the authorization (the company index alone).
    count = (_joined(base) if join else base).with_only_columns(func.count(Shop.id)).where(*conditions)
    if total is None or conditions:
        total = db.session.scalar(count.order_by(None)) or 0
    page = window(total, raw_page)
    if not page.total:
        return page
    page_ids = ids.order_by(*order).limit(page.size).offset(page.offset)
    shops = db.session.execute(_joined(select(*_ROW_COLUMNS)).where(Shop.id.in_(page_ids.scalar_subquery()))
                               .order_by(*order)).all()
    shown = [shop.id for shop in shops]
    builder.prefetch_sync(shop.authorization_id for shop in shops)  # one query for the page's sync states
    marketplaces = _grouped(select(ShopMarketplace.shop_id, ShopMarketplace.marketplace_id)
                            .where(ShopMarketplace.shop_id.in_(shown))
                            .order_by(ShopMarketplace.shop_id, ShopMarketplace.position))
    staff = _grouped(select(ShopAssignment.shop_id, User.display_name).join(User, User.id == ShopAssignment.user_id)
                     .where(ShopAssignment.shop_id.in_(shown)).order_by(ShopAssignment.id)) if with_staff else {}
    page.items = [builder.row(shop, region=shop.region, seller_id=shop.seller_id, authorized_at=shop.authorized_at,
                              marketplace_ids=marketplaces.get(shop.id, ()), staff=staff.get(shop.id, ()))
                  for shop in shops]
    return page


def _grouped(query) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for key, value in db.session.execute(query):
        grouped.setdefault(key, []).append(value)
    return grouped


def user_shops_page(base, filters: ShopFilters, raw_page, user: User) -> tuple[Page, set[int], int]:
    """The admin's page of one user's shops: a page of all shops, which of them the user has, and how many in all."""
    page = paginate(filtered_shops(base, filters), raw_page)
    assigned = set(db.session.scalars(select(ShopAssignment.shop_id).where(
        ShopAssignment.user_id == user.id, ShopAssignment.shop_id.in_([s.id for s in page.items]))))
    total = db.session.scalar(select(func.count(ShopAssignment.id)).where(ShopAssignment.user_id == user.id))
    return page, assigned, total


def bulk_members(company_id: int):
    """The options of the bulk-assign select: the company's active staff, read as plain columns."""
    rows = db.session.execute(company_staff(company_id).with_only_columns(User.id, User.display_name, User.role))
    return member_options((user_id, name, role == ROLE_ADMIN) for user_id, name, role in rows)
