"""A sentinel refresh token goes through bind → verify → re-authorize → rotate-token-key with every
logger at DEBUG (the HTTP client's included): it appears in no response, no log record, no audit row,
and the database holds only ciphertext. The log filter also redacts access tokens and field values,
and user text cannot forge a log line."""
import io
import logging
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import AuditEvent, SellerAuthorization, Shop
from tests.security import helpers
from tests.security.helpers import HX, US

DEBUG_LOGGERS = ("", "httpx", "httpcore", "portal", "portal.amazon.client", "devtools.standin", "werkzeug",
                 "sqlalchemy.engine", "flask_limiter")


@pytest.fixture
def app(app_factory, standin):
    """Amazon is the stand-in; no verify throttle, so each step really calls it."""
    app = app_factory(VERIFY_THROTTLE_SECONDS=0, LOG_LEVEL="DEBUG", **helpers.amazon_settings(standin))
    with app.app_context():
        yield app


@pytest.fixture
def debug_logs(caplog, app):
    for name in DEBUG_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def sentinel() -> str:
    return f"Atzr|SENTINEL-{uuid.uuid4().hex}"


def secret_parts(token: str) -> list[str]:
    """What must never show: the token, its body without the prefix, and its unique part."""
    return [token, token.split("|", 1)[1], token.rsplit("-", 1)[1], "SENTINEL"]


def assert_nowhere(parts, *, responses=(), caplog=None, texts=()):
    for response in responses:
        body = response.get_data(as_text=True)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for part in parts:
            assert part not in body, (response.request.path, part)
            assert part not in headers, (response.request.path, part)
    if caplog is not None:
        log_text = caplog.text  # formats every record (and its traceback text) once
        for part in parts:
            assert part not in log_text
            for record in caplog.records:
                assert part not in record.getMessage(), record.name
                assert part not in repr(record.args), record.name
                assert part not in (record.exc_text or ""), record.name
                assert part not in (record.stack_info or ""), record.name
    for blob in texts:
        for part in parts:
            assert part not in blob


def database_dump() -> str:
    """Every row of every table, raw, including the audit trail."""
    db.session.commit()
    return "\n".join(repr(tuple(row)) for table in db.metadata.sorted_tables
                     for row in db.session.execute(table.select()).all())


def test_sentinel_through_bind_verify_reauthorize_rotate(app, standin, client, admin_a, member_a, login, runner,
                                                         debug_logs):
    first, second, revoked = sentinel(), sentinel(), sentinel()
    seller = "A1SENT" + uuid.uuid4().hex[:8].upper()
    standin.register(first, seller_id=seller, scenario="valid", marketplaces=(US,), region="NA")
    standin.register(second, seller_id=seller, scenario="throttled_once", marketplaces=(US,), region="NA")
    standin.register(revoked, seller_id="A2SENT" + uuid.uuid4().hex[:8].upper(), scenario="revoked",
                     marketplaces=(US,), region="NA")
    parts = [p for token in (first, second, revoked) for p in secret_parts(token)]
    responses = []

    login(client, admin_a)
    token = client.csrf_token()
    form = {"name": "Sentinel shop", "region": "NA", "mode": "single", "marketplace": US, "seller_id": seller,
            "token": first, "authorized": "y"}
    # A form refused for another field must not echo the token back.
    responses.append(helpers.post(client, "/shops/new", dict(form, authorized=""), token=token, headers=HX))
    assert "Seller Central first" in responses[-1].get_data(as_text=True)
    responses.append(helpers.post(client, "/shops/new", form, token=token, headers=HX))
    assert responses[-1].headers["HX-Redirect"] == "/shops"
    shop = db.session.scalar(select(Shop).where(Shop.name == "Sentinel shop"))
    responses.append(helpers.post(client, "/shops/new", dict(form, name="Revoked shop", seller_id="A2" + seller[2:],
                                                             token=revoked), token=token))
    assert responses[-1].status_code == 303
    revoked_shop = db.session.scalar(select(Shop).where(Shop.name == "Revoked shop"))

    # Verify (htmx row, plain redirect) and every page that shows the shop.
    responses.append(helpers.post(client, f"/shops/{shop.id}/verify", {"view": "all"}, token=token, headers=HX))
    assert "Verified" in responses[-1].get_data(as_text=True)
    responses.append(helpers.post(client, f"/shops/{revoked_shop.id}/verify", {"view": "detail"}, token=token,
                                  headers=HX))
    assert db.session.get(Shop, revoked_shop.id).check_status == "failed"
    responses.append(helpers.post(client, f"/shops/{shop.id}/verify", {}, token=token))
    assert responses[-1].status_code == 303
    pages = ["/shops", "/my-shops", f"/shops/{shop.id}", f"/shops/{shop.id}/edit", f"/shops/{shop.id}/reauthorize",
             f"/shops/{shop.id}/assign", f"/admin/users/{member_a.id}/shops", "/admin/activity", "/admin/activity.csv",
             f"/shops?q={seller}", "/shops/new"]
    responses += [client.get(page, headers=h) for page in pages for h in ({}, HX)]

    # Re-authorize with a second sentinel (Amazon throttles once: the retry path logs too).
    responses.append(helpers.post(client, f"/shops/{shop.id}/reauthorize", {"token": second, "authorized": ""},
                                  token=token, headers=HX))
    attempted = db.session.get(Shop, shop.id).attempt_at
    responses.append(helpers.post(client, f"/shops/{shop.id}/reauthorize", {"token": second, "authorized": "y"},
                                  token=token))
    assert responses[-1].status_code == 303
    db.session.expire_all()
    assert db.session.get(Shop, shop.id).attempt_at > attempted  # the new token was checked at once
    assert standin.counts_for(second)["token"] >= 1  # ... with Amazon, using the second sentinel

    # Rotate to a new key, then verify again with the re-encrypted token.
    old_keys = app.config["TOKEN_ENC_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["TOKEN_ENC_KEYS"] = new_key + "," + old_keys
    result = runner.invoke(args=["rotate-token-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 2 tokens" in result.output
    for ciphertext in db.session.scalars(select(SellerAuthorization.token_ciphertext)):
        Fernet(new_key).decrypt(ciphertext.encode())  # on the newest key now
    checked = db.session.get(Shop, shop.id).checked_at
    responses.append(helpers.post(client, f"/shops/{shop.id}/verify", {"view": "detail"}, token=token, headers=HX))
    assert 'id="status-panel"' in responses[-1].get_data(as_text=True)
    db.session.expire_all()
    shop = db.session.get(Shop, shop.id)
    assert shop.check_status == "verified" and shop.checked_at > checked  # decrypted after rotation, and accepted
    responses += [client.get(page, headers=h) for page in pages for h in ({}, HX)]

    # The logs really recorded the HTTP traffic at DEBUG (so their silence about the token means something).
    names = {record.name for record in debug_logs.records}
    assert {"httpx", "portal.amazon.client"} <= names and any(n.startswith("httpcore") for n in names), names
    assert any("/auth/o2/token" in record.getMessage() for record in debug_logs.records)

    raw = db.session.execute(text("SELECT token_ciphertext FROM seller_authorization")).scalars().all()
    assert len(raw) == 2 and all(value.startswith("gAAAA") for value in raw)
    audit = db.session.scalars(select(AuditEvent)).all()
    assert {"shop.created", "shop.token_replaced", "shop.verified", "keys.rotated"} <= {e.action for e in audit}
    assert_nowhere(parts, responses=responses, caplog=debug_logs,
                   texts=[result.output, database_dump(), *map(repr, raw),
                          *(repr([getattr(e, c.name) for c in AuditEvent.__table__.columns]) for e in audit)])


def test_token_in_an_exception_is_not_logged(app, debug_logs):
    """A traceback is part of the log record too: a token in an exception message must not leak."""
    token = sentinel()
    logger = logging.getLogger("portal.test_secrets")
    try:
        raise ValueError(f"Amazon refused refresh_token {token}")
    except ValueError:
        logger.exception("verify failed")
    assert_nowhere(secret_parts(token), caplog=debug_logs)


def test_access_tokens_fields_and_request_secrets_are_redacted(app, debug_logs):
    from portal.crypto import remember_secret

    logger = logging.getLogger("httpx")
    access = f"Atza|IwEBI{uuid.uuid4().hex}"
    refresh = sentinel()
    with app.test_request_context("/"):
        decrypted = f"plain-secret-{uuid.uuid4().hex}"
        remember_secret(decrypted)
        logger.debug("send x-amz-access-token: %s", access)
        logger.debug("headers %s", {"x-amz-access-token": access})
        logger.debug("body grant_type=refresh_token&refresh_token=%s&client_id=x", refresh)
        logger.debug('{"client_secret": "%s", "access_token": "%s"}', "secret-" + refresh[-12:], access)
        logger.info("decrypted value %s seen", decrypted)
        logger.info("password=%s", "hunter2-secret-pw")
    text_logged = debug_logs.text
    for part in (access, access.split("|", 1)[1], refresh, decrypted, "secret-" + refresh[-12:], "hunter2-secret-pw"):
        assert part not in text_logged
    assert "[redacted]" in text_logged


def test_user_text_cannot_forge_a_log_line(app, debug_logs):
    """A name with CR/LF stays on one line (positional and mapping arguments alike)."""
    name = "Evil shop\r\n2026-01-01 INFO portal: admin signed in\nsecond"
    logger = logging.getLogger("portal.test_secrets")
    logger.warning("renamed shop to %s", name)
    logger.warning("renamed shop to %(name)s", {"name": name})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        logger.warning("renamed shop to %s", name)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().count("\n") == 1 and "\\r\\n" in stream.getvalue()
    records = [r for r in debug_logs.records if r.name == "portal.test_secrets"]
    assert len(records) == 3
    for record in records:
        message = record.getMessage()
        assert "\r" not in message and "\n" not in message and "Evil shop" in message
    assert "\nsecond" not in debug_logs.text and "\n2026-01-01 INFO" not in debug_logs.text
