"""Log lines never carry tokens or secrets, and user text cannot forge extra lines."""
import logging

from portal.crypto import remember_secret
from portal.logging_safety import redact


def test_tokens_and_fields_are_redacted(app):
    text = redact('refresh_token=Atzr|abc123-secret&client_secret=s3cr3t-value {"access_token": "Atza|zzz"} '
                  "x-amz-access-token: Atza|yyy password=hunter2hunter2")
    for secret in ("abc123-secret", "s3cr3t-value", "Atza|zzz", "Atza|yyy", "hunter2hunter2"):
        assert secret not in text
    assert "[redacted]" in text


def test_values_decrypted_in_the_request_are_redacted(app):
    with app.test_request_context():
        remember_secret("plain-secret-value-42")
        assert "plain-secret-value-42" not in redact("calling with plain-secret-value-42 now")


def test_every_logger_is_covered_and_newlines_escaped(app, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").debug("HTTP body refresh_token=%s", "Atzr|from-httpx-logger")
    logging.getLogger("portal.anything").info("shop %s saved", "Evil\r\nFAKE LOG LINE")
    messages = [record.getMessage() for record in caplog.records]
    assert all("from-httpx-logger" not in m for m in messages)
    assert "shop Evil\\r\\nFAKE LOG LINE saved" in messages
    assert "\n" not in caplog.records[-1].getMessage()
