"""A stored token that cannot be read — tampered with, encrypted with a key that is no longer configured,
or copied from another authorization's row — is a clear "re-authorize and paste the token again" state
in the shop's row, never a 500; re-authorizing fixes it; rotate-token-key reports it and exits 1,
leaving it and every other row readable as before."""
import json
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from portal.crypto import decrypt_token
from portal.extensions import db
from portal.models import AuditEvent, SellerAuthorization, Shop
from tests.security import helpers
from tests.security.helpers import HX, US

MESSAGE = "Re-authorize the shop and paste the token again."
CASES = ("tampered", "unconfigured_key", "copied_from_another_row")


@pytest.fixture
def app(app_factory, standin):
    app = app_factory(VERIFY_THROTTLE_SECONDS=0, **helpers.amazon_settings(standin))
    with app.app_context():
        yield app


@pytest.fixture
def shops(app, standin, admin_a, member_a, make_shop):
    """Two shops with valid tokens Amazon knows; `break_token(case)` damages the first one's."""
    made = {}
    for name in ("broken", "healthy"):
        token = f"Atzr|{name}-{uuid.uuid4().hex}"
        seller = "A" + uuid.uuid4().hex[:12].upper()
        standin.register(token, seller_id=seller, marketplaces=(US,), region="NA")
        shop = make_shop(admin_a, name=f"{name.title()} shop", seller_id=seller, token=token, assign=[member_a])
        made[name] = (shop.id, shop.authorization_id, token)
    return made


def owner(authorization):
    return {"company_id": authorization.company_id, "seller_id": authorization.seller_id,
            "region": authorization.region}


def break_token(app, shops, case):
    broken = db.session.get(SellerAuthorization, shops["broken"][1])
    healthy = db.session.get(SellerAuthorization, shops["healthy"][1])
    if case == "tampered":
        raw = bytearray(broken.token_ciphertext.encode())
        raw[60] = ord("A") if raw[60] != ord("A") else ord("B")  # inside the encrypted payload
        broken.token_ciphertext = raw.decode()
    elif case == "unconfigured_key":
        payload = json.dumps({"o": [broken.company_id, broken.seller_id, broken.region], "t": shops["broken"][2]},
                             separators=(",", ":"))
        broken.token_ciphertext = Fernet(Fernet.generate_key()).encrypt(payload.encode()).decode()
    else:
        broken.token_ciphertext = healthy.token_ciphertext
    db.session.commit()
    return broken.token_ciphertext


@pytest.mark.parametrize("case", CASES)
def test_unreadable_token_is_a_clear_state_and_reauthorizing_fixes_it(app, client, admin_a, member_a, login, shops,
                                                                      standin, case):
    shop_id, authorization_id, _token = shops["broken"]
    break_token(app, shops, case)
    login(client, member_a)  # an assigned member sees the same state and may re-authorize
    token = client.csrf_token()

    row = helpers.post(client, f"/shops/{shop_id}/verify", {"view": "mine"}, token=token, headers=HX)
    assert row.status_code == 200
    body = row.get_data(as_text=True)
    assert f'id="shop-{shop_id}"' in body and "cannot be read" in body and MESSAGE in body
    shop = db.session.get(Shop, shop_id)
    db.session.refresh(shop)
    assert (shop.check_status, shop.check_code) == ("failed", "token_unreadable")
    plain = helpers.post(client, f"/shops/{shop_id}/verify", {}, token=token)
    assert plain.status_code == 303
    for path in (f"/shops/{shop_id}", "/my-shops"):
        page = client.get(path)
        assert page.status_code == 200 and MESSAGE in page.get_data(as_text=True), path
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shop.verified")
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.outcome, event.detail, event.object_id) == ("failure", "token_unreadable", shop_id)
    # The healthy shop is untouched by its neighbour's trouble.
    healthy = db.session.get(Shop, shops["healthy"][0])
    assert healthy.check_status == "never"

    new_token = f"Atzr|fresh-{uuid.uuid4().hex}"
    standin.register(new_token, seller_id=shop.seller_id, marketplaces=(US,), region="NA")
    response = helpers.post(client, f"/shops/{shop_id}/reauthorize", {"token": new_token, "authorized": "y"},
                            token=token, headers=HX)
    assert response.headers.get("HX-Redirect") == f"/shops/{shop_id}"
    db.session.expire_all()
    shop = db.session.get(Shop, shop_id)
    assert (shop.check_status, shop.check_code) == ("verified", "verified")
    assert decrypt_token(shop.authorization.token_ciphertext, **owner(shop.authorization)) == new_token
    assert MESSAGE not in client.get(f"/shops/{shop_id}").get_data(as_text=True)


@pytest.mark.parametrize("case", CASES)
def test_rotation_reports_the_unreadable_token_and_keeps_the_others(app, runner, shops, case):
    broken_id = shops["broken"][1]
    bad_ciphertext = break_token(app, shops, case)
    healthy = db.session.get(SellerAuthorization, shops["healthy"][1])
    healthy_owner, healthy_token = owner(healthy), shops["healthy"][2]
    new_key = Fernet.generate_key().decode()
    app.config["TOKEN_ENC_KEYS"] = new_key + "," + app.config["TOKEN_ENC_KEYS"]

    result = runner.invoke(args=["rotate-token-key"])
    assert result.exit_code == 1, result.output
    assert f"authorization {broken_id} " in result.output and "1 could not be read" in result.output
    db.session.expire_all()
    broken = db.session.get(SellerAuthorization, broken_id)
    assert broken.token_ciphertext == bad_ciphertext, "an unreadable token is left exactly as it was"
    healthy = db.session.get(SellerAuthorization, shops["healthy"][1])
    assert decrypt_token(healthy.token_ciphertext, **healthy_owner) == healthy_token
    Fernet(new_key).decrypt(healthy.token_ciphertext.encode())  # the readable row did move to the new key
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotated")).one()
    assert "unreadable=1" in event.detail

    again = runner.invoke(args=["rotate-token-key"])  # idempotent: nothing left to do but the same report
    assert again.exit_code == 1 and "Re-encrypted 0 tokens" in again.output and "1 could not be read" in again.output
