"""Secrets never reach a log line, and user text cannot forge one.

Installed as the log-record factory, so it covers every logger (the portal's, httpx's, Werkzeug's,
a test's capture handler) whatever handlers are attached: LWA tokens (`Atzr|…`, `Atza|…`), values of
sensitive fields, and every secret decrypted during the current request are replaced before any
handler sees the record; CR/LF inside arguments are escaped so a shop name cannot start a new line.
"""
from __future__ import annotations

import logging
import re

from flask import g, has_app_context

REDACTED = "[redacted]"
_TOKEN_RE = re.compile(r"Atz[ar]\|[^\s\"'&,;<>]+")
_FIELD_RE = re.compile(
    r"(?i)(\b(?:refresh_token|access_token|client_secret|x-amz-access-token|password|new_password|"
    r"current_password|token|secret_key|token_enc_keys)\b[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;]+)")

_installed = False


def redact(text: str) -> str:
    text = _TOKEN_RE.sub(lambda m: m.group(0)[:5] + REDACTED, text)
    text = _FIELD_RE.sub(lambda m: m.group(1) + REDACTED, text)
    if has_app_context():
        for secret in g.get("portal_secrets", ()):
            if secret and len(secret) >= 6:
                text = text.replace(secret, REDACTED)
    return text


def _escape_newlines(value):
    if isinstance(value, str):
        return value.replace("\r", "\\r").replace("\n", "\\n")
    return value


def install() -> None:
    """Wrap the log-record factory once per process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            if record.args:
                if isinstance(record.args, dict):
                    record.args = {key: _escape_newlines(value) for key, value in record.args.items()}
                else:
                    record.args = tuple(_escape_newlines(value) for value in record.args)
            message = record.getMessage()
        except Exception:  # a badly formatted record is logging's business, not ours
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info:  # the traceback may quote a token too: format it now, redacted
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
