"""Stored Amazon tokens: encrypted at rest, bound to their row, never shown or logged."""
import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from portal.crypto import TokenUnavailable, decrypt_token, encrypt_token
from portal.extensions import db
from portal.models import SellerAuthorization

SENTINEL = "Atzr|SENTINEL-token-never-to-be-seen-0123456789"
HX = {"HX-Request": "true"}


def _owner(authorization):
    return {"company_id": authorization.company_id, "seller_id": authorization.seller_id,
            "region": authorization.region}


def test_raw_column_holds_no_plaintext(app, admin_a, make_shop):
    shop = make_shop(admin_a, token=SENTINEL)
    raw = db.session.execute(text("SELECT token_ciphertext FROM seller_authorization")).scalar_one()
    assert "SENTINEL" not in raw and SENTINEL not in raw and raw.startswith("gAAAA")
    assert decrypt_token(raw, **_owner(shop.authorization)) == SENTINEL


def test_ciphertext_copied_to_another_row_does_not_decrypt(app, admin_a, make_shop):
    a = make_shop(admin_a, token=SENTINEL, seller_id="A10000000001").authorization
    b = make_shop(admin_a, seller_id="A10000000002").authorization
    b.token_ciphertext = a.token_ciphertext
    db.session.commit()
    with pytest.raises(TokenUnavailable):
        decrypt_token(b.token_ciphertext, **_owner(b))


def test_tampered_or_foreign_key_ciphertext_is_unavailable(app):
    ciphertext = encrypt_token(SENTINEL, company_id=1, seller_id="A1", region="NA")
    tampered = ciphertext[:-5] + ("A" if ciphertext[-5] != "A" else "B") + ciphertext[-4:]
    with pytest.raises(TokenUnavailable):
        decrypt_token(tampered, company_id=1, seller_id="A1", region="NA")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"o":[1,"A1","NA"],"t":"x"}').decode()
    with pytest.raises(TokenUnavailable):
        decrypt_token(foreign, company_id=1, seller_id="A1", region="NA")


def test_old_key_still_decrypts_after_prepending_a_new_one(app):
    ciphertext = encrypt_token(SENTINEL, company_id=1, seller_id="A1", region="NA")
    app.config["TOKEN_ENC_KEYS"] = Fernet.generate_key().decode() + "," + app.config["TOKEN_ENC_KEYS"]
    assert decrypt_token(ciphertext, company_id=1, seller_id="A1", region="NA") == SENTINEL


def test_token_never_in_a_response_or_log_line(client, admin_a, member_a, login, caplog):
    caplog.set_level(logging.DEBUG)
    login(client, admin_a)
    data = {"name": "Sentinel shop", "region": "NA", "mode": "single", "marketplace": "ATVPDKIKX0DER",
            "seller_id": "A1B2C3D4E5F6G7", "token": SENTINEL, "authorized": "y"}
    bodies = [client.post("/shops/new", data=data, headers=HX)]
    shop_id = db.session.scalar(select(SellerAuthorization.id))
    bodies.append(client.post("/shops/new", data=dict(data, name="Again", authorized=""), headers=HX))  # failed form
    from portal.models import Shop

    shop = db.session.scalar(select(Shop))
    for path in ("/shops", "/my-shops", f"/shops/{shop.id}", f"/shops/{shop.id}/edit", f"/shops/{shop.id}/reauthorize",
                 f"/admin/users/{member_a.id}/shops"):
        bodies.append(client.get(path))
        bodies.append(client.get(path, headers=HX))
    bodies.append(client.post(f"/shops/{shop.id}/reauthorize", data={"token": SENTINEL + "2", "authorized": "y"}))
    for response in bodies:
        body = response.get_data(as_text=True)
        assert "SENTINEL" not in body
        assert all("SENTINEL" not in value for _name, value in response.headers.items())
    assert "SENTINEL" not in caplog.text
    assert shop_id


def test_token_inputs_are_write_only(client, admin_a, make_shop, login):
    shop = make_shop(admin_a, token=SENTINEL)
    login(client, admin_a)
    for path in ("/shops/new", f"/shops/{shop.id}/reauthorize"):
        body = client.get(path).get_data(as_text=True)
        import re

        tag = re.search(r'<input[^>]*name="token"[^>]*>', body).group(0)
        assert 'type="password"' in tag and 'autocomplete="off"' in tag and 'value=""' in tag
