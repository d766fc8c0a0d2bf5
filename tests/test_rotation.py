"""rotate-token-key: every stored token re-encrypted with the newest key, idempotent and resumable."""
from cryptography.fernet import Fernet
from sqlalchemy import select

from portal.crypto import decrypt_token, needs_rotation
from portal.extensions import db
from portal.models import AuditEvent, SellerAuthorization


def test_rotation_re_encrypts_and_is_idempotent(app, admin_a, make_shop):
    tokens = {}
    for i in range(5):
        shop = make_shop(admin_a, seller_id=f"A7000000000{i}", token=f"Atzr|rotation-token-{i}-0123456789")
        tokens[shop.authorization_id] = f"Atzr|rotation-token-{i}-0123456789"
    old_key = app.config["TOKEN_ENC_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["TOKEN_ENC_KEYS"] = f"{new_key},{old_key}"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rotate-token-key", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 5 tokens with the newest key; 0 were already on it; 0 could not be read." in result.output
    app.config["TOKEN_ENC_KEYS"] = new_key  # the old key can now be dropped
    for row in db.session.scalars(select(SellerAuthorization)):
        assert not needs_rotation(row.token_ciphertext)
        assert decrypt_token(row.token_ciphertext, company_id=row.company_id, seller_id=row.seller_id,
                             region=row.region) == tokens[row.id]
    again = runner.invoke(args=["rotate-token-key"])
    assert "Re-encrypted 0 tokens with the newest key; 5 were already on it" in again.output
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotated")).all()
    assert [e.detail for e in events] == ["rotated=5 current=0 unreadable=0", "rotated=0 current=5 unreadable=0"]


def test_rotation_reports_unreadable_rows_and_keeps_going(app, admin_a, make_shop):
    good = make_shop(admin_a, seller_id="A71111111111")
    bad = make_shop(admin_a, seller_id="A72222222222")
    bad.authorization.token_ciphertext = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    db.session.commit()
    app.config["TOKEN_ENC_KEYS"] = Fernet.generate_key().decode() + "," + app.config["TOKEN_ENC_KEYS"]
    result = app.test_cli_runner().invoke(args=["rotate-token-key"])
    assert result.exit_code == 1
    assert "Re-encrypted 1 tokens" in result.output and "1 could not be read" in result.output
    assert f"authorization {bad.authorization_id}" in result.output
    db.session.expire_all()
    assert not needs_rotation(db.session.get(SellerAuthorization, good.authorization_id).token_ciphertext)
