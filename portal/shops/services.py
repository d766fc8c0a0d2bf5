"""Shop services: plain arguments in; they flush, the view commits once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from ..amazon.marketplaces import marketplace_by_id
from ..crypto import encrypt_token
from ..extensions import db
from ..forms import FormError, name_key
from ..models import (ROLE_MEMBER, SellerAuthorization, Shop, ShopAssignment, ShopMarketplace, User,
                      utcnow)


class ShopError(FormError):
    """A shop rule refused the request (see FormError: a message and the form field it belongs to)."""


@dataclass
class BindResult:
    shop: Shop
    token_replaced: bool = False
    other_shops: list[str] = field(default_factory=list)


def find_authorization(company_id: int, seller_id: str, region: str) -> SellerAuthorization | None:
    return db.session.scalar(select(SellerAuthorization).where(
        SellerAuthorization.company_id == company_id, SellerAuthorization.seller_id == seller_id,
        SellerAuthorization.region == region))


def _check_name_free(company_id: int, name: str, exclude_shop_id: int | None = None) -> None:
    query = select(Shop.id).where(Shop.company_id == company_id, Shop.name_key == name_key(name))
    if exclude_shop_id:
        query = query.where(Shop.id != exclude_shop_id)
    if db.session.scalar(query) is not None:
        raise ShopError(_l("Your company already has a shop with this name. Choose another name."), field="name")


def _check_marketplaces_free(authorization: SellerAuthorization | None, marketplace_ids: list[str],
                             exclude_shop_id: int | None = None, visible=None) -> None:
    """Refuse marketplaces this seller already has in another shop. The message names that shop
    only when the user may see it (`visible`: a Select of the user's shops; None = all)."""
    if authorization is None or authorization.id is None:
        return
    query = (select(ShopMarketplace.marketplace_id, Shop.name)
             .join(Shop, Shop.id == ShopMarketplace.shop_id)
             .where(ShopMarketplace.authorization_id == authorization.id,
                    ShopMarketplace.marketplace_id.in_(marketplace_ids)))
    if exclude_shop_id:
        query = query.where(Shop.id != exclude_shop_id)
    taken = db.session.execute(query.add_columns(Shop.id)).first()
    if taken is not None:
        marketplace = marketplace_by_id(taken.marketplace_id)
        country = marketplace.country_code if marketplace else "?"
        may_see = visible is None or db.session.scalar(
            visible.where(Shop.id == taken.id).with_only_columns(Shop.id)) is not None
        if may_see:
            raise ShopError(_l("Seller %(seller)s is already bound for %(country)s in the shop “%(shop)s”.",
                               seller=authorization.seller_id, country=country, shop=taken.name), field="marketplaces")
        raise ShopError(_l("Seller %(seller)s is already bound for %(country)s in another shop of your company. "
                           "Ask an admin to assign that shop to you.", seller=authorization.seller_id, country=country),
                        field="marketplaces")


def _set_token(authorization: SellerAuthorization, token: str, user: User,
               authorized_at: datetime | None = None) -> None:
    """Store a new refresh token; its 365 days count from `authorized_at` (when the seller authorized,
    default now), so a token made earlier expires when Amazon expires it."""
    now = utcnow()
    authorization.token_ciphertext = encrypt_token(token, company_id=authorization.company_id,
                                                   seller_id=authorization.seller_id, region=authorization.region)
    authorization.token_last4 = token[-4:]
    authorization.authorized_at = min(authorized_at or now, now)
    authorization.token_updated_at = now
    authorization.token_updated_by_id = user.id


def shared_shop_names(authorization: SellerAuthorization, user: User, visible, exclude_shop_id: int | None = None):
    """Names of the authorization's other shops that `user` may see. A member may not replace a token
    that shops they cannot see also use (they would change those shops silently): ShopError then."""
    query = select(Shop.id, Shop.name).where(Shop.authorization_id == authorization.id).order_by(Shop.id)
    if exclude_shop_id:
        query = query.where(Shop.id != exclude_shop_id)
    shops = db.session.execute(query).all()
    if user.is_admin or visible is None:
        return [name for _, name in shops]
    seen = set(db.session.scalars(visible.where(Shop.authorization_id == authorization.id).with_only_columns(Shop.id)))
    if any(shop_id not in seen for shop_id, _ in shops):
        raise ShopError(_l("This seller's authorization is also used by shops that are not assigned to you. "
                           "Ask an admin to re-authorize it."), field="token")
    return [name for _, name in shops]


def _works_on(user: User, authorization: SellerAuthorization) -> bool:
    """Admins, and members assigned to at least one shop of this seller authorization."""
    if user.is_admin:
        return True
    return db.session.scalar(select(func.count(ShopAssignment.id)).join(Shop).where(
        Shop.authorization_id == authorization.id, ShopAssignment.user_id == user.id)) > 0


def create_shop(user: User, *, name: str, region: str, mode: str, marketplace_ids: list[str], seller_id: str,
                token: str | None, visible=None, authorized_at: datetime | None = None) -> BindResult:
    """Bind a shop. The token belongs to the seller's authorization in the region: a new token
    replaces the stored one for all of that seller's shops there."""
    company_id = user.company_id
    _check_name_free(company_id, name)
    authorization = find_authorization(company_id, seller_id, region)
    _check_marketplaces_free(authorization, marketplace_ids, visible=visible)
    result_other_shops = []
    replaced = False
    if authorization is None:
        if not token:
            raise ShopError(_l("Paste the authorization token for this seller."), field="token")
        authorization = SellerAuthorization(company_id=company_id, seller_id=seller_id, region=region)
        _set_token(authorization, token, user, authorized_at)
        db.session.add(authorization)
        db.session.flush()
    elif not _works_on(user, authorization):
        # A member may only build on a seller authorization they already work with: otherwise a new
        # shop would give them that seller's Amazon data without an admin deciding so.
        raise ShopError(_l("This seller is already bound in your company. Ask an admin to add this shop or to "
                           "assign you one of this seller's shops."), field="seller_id")
    elif token:
        result_other_shops = shared_shop_names(authorization, user, visible)
        _set_token(authorization, token, user, authorized_at)
        replaced = True
    shop = Shop(company_id=company_id, authorization=authorization, name=name, name_key=name_key(name), mode=mode,
                created_by_id=user.id)
    shop.marketplaces = [ShopMarketplace(authorization_id=authorization.id, marketplace_id=m, position=i)
                         for i, m in enumerate(marketplace_ids)]
    db.session.add(shop)
    if user.role == ROLE_MEMBER:
        shop.assignments.append(ShopAssignment(user_id=user.id))
    db.session.flush()
    return BindResult(shop=shop, token_replaced=replaced, other_shops=result_other_shops)


def update_shop(shop: Shop, *, name: str, mode: str, marketplace_ids: list[str], visible=None) -> None:
    _check_name_free(shop.company_id, name, exclude_shop_id=shop.id)
    _check_marketplaces_free(shop.authorization, marketplace_ids, exclude_shop_id=shop.id, visible=visible)
    shop.name = name
    shop.name_key = name_key(name)
    shop.mode = mode
    if shop.marketplace_ids != marketplace_ids:
        shop.marketplaces.clear()
        db.session.flush()  # free the (seller, marketplace) slots before taking them again
        shop.marketplaces.extend(ShopMarketplace(authorization_id=shop.authorization_id, marketplace_id=m,
                                                 position=i) for i, m in enumerate(marketplace_ids))
    db.session.flush()


def replace_token(shop: Shop, user: User, token: str, *, authorized_at: datetime | None = None,
                  visible=None) -> list[str]:
    """Re-authorize: a new refresh token for the shop's seller authorization. Returns the names of
    the other shops that share it and that `user` may see (they use the new token too)."""
    authorization = shop.authorization
    others = shared_shop_names(authorization, user, visible, exclude_shop_id=shop.id)
    _set_token(authorization, token, user, authorized_at)
    db.session.flush()
    return others


def delete_shop(shop: Shop) -> bool:
    """Delete a shop and its assignments; the seller's token goes too when no shop uses it any more.
    Returns True when the token was removed."""
    authorization = shop.authorization
    db.session.delete(shop)
    db.session.flush()
    remaining = db.session.scalar(select(func.count(Shop.id)).where(Shop.authorization_id == authorization.id))
    if remaining == 0:
        db.session.delete(authorization)
        db.session.flush()
        return True
    return False


def set_user_shops(user: User, *, selected: set[int], shown: set[int]) -> None:
    """Among the shops shown on the form, assign the ticked ones to `user` and unassign the others."""
    valid = set(db.session.scalars(select(Shop.id).where(Shop.company_id == user.company_id, Shop.id.in_(shown))))
    current = set(db.session.scalars(select(ShopAssignment.shop_id).where(ShopAssignment.user_id == user.id,
                                                                          ShopAssignment.shop_id.in_(valid))))
    for shop_id in (selected & valid) - current:
        db.session.add(ShopAssignment(shop_id=shop_id, user_id=user.id))
    remove = valid - selected
    if remove:
        db.session.execute(delete(ShopAssignment).where(ShopAssignment.user_id == user.id,
                                                        ShopAssignment.shop_id.in_(remove)))
    db.session.flush()

