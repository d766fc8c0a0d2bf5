"""The only module that encrypts and decrypts stored secrets: Amazon tokens and alert channels' webhooks.

MultiFernet with the keys of TOKEN_ENC_KEYS (newest first). Fernet has no associated data, so the
owning row's identity (company, seller, region) is sealed inside the payload and checked on
decryption: a ciphertext copied into another row does not decrypt there.
"""
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, g, has_app_context


class TokenUnavailable(Exception):
    """The stored token cannot be read (wrong key, tampered, or not this row's): re-enter it."""


def _fernet() -> MultiFernet:
    keys = current_app.config["TOKEN_ENC_KEYS"].split(",")
    return MultiFernet([Fernet(key.strip()) for key in keys])


def _owner(company_id: int, seller_id: str, region: str) -> list:
    return [int(company_id), seller_id, region]


def encrypt_token(token: str, *, company_id: int, seller_id: str, region: str) -> str:
    payload = json.dumps({"o": _owner(company_id, seller_id, region), "t": token}, separators=(",", ":"))
    return _fernet().encrypt(payload.encode()).decode()


def decrypt_token(ciphertext: str, *, company_id: int, seller_id: str, region: str) -> str:
    try:
        payload = json.loads(_fernet().decrypt(ciphertext.encode()))
    except (InvalidToken, ValueError, TypeError):
        raise TokenUnavailable("stored token cannot be decrypted") from None
    if payload.get("o") != _owner(company_id, seller_id, region) or not isinstance(payload.get("t"), str):
        raise TokenUnavailable("stored token belongs to another authorization")
    token = payload["t"]
    remember_secret(token)
    return token


def _channel_owner(company_id: int, channel_id: int) -> list:
    return ["alert_channel", int(company_id), int(channel_id)]


def encrypt_channel_config(config: dict, *, company_id: int, channel_id: int) -> str:
    """An alert channel's credentials ({"url": webhook URL, "secret": signing secret}), sealed to its row."""
    payload = json.dumps({"o": _channel_owner(company_id, channel_id), "c": config}, separators=(",", ":"))
    return _fernet().encrypt(payload.encode()).decode()


def decrypt_channel_config(ciphertext: str, *, company_id: int, channel_id: int) -> dict:
    """The channel's credentials; each value is handed to the log filter. Raises TokenUnavailable."""
    try:
        payload = json.loads(_fernet().decrypt(ciphertext.encode()))
    except (InvalidToken, ValueError, TypeError):
        raise TokenUnavailable("stored channel settings cannot be decrypted") from None
    config = payload.get("c")
    if payload.get("o") != _channel_owner(company_id, channel_id) or not isinstance(config, dict):
        raise TokenUnavailable("stored channel settings belong to another channel")
    for value in config.values():
        if isinstance(value, str) and value:
            remember_secret(value)
    return config


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate keeps the payload as it is)."""
    return _fernet().rotate(ciphertext.encode()).decode()


def needs_rotation(ciphertext: str) -> bool:
    keys = current_app.config["TOKEN_ENC_KEYS"].split(",")
    try:
        Fernet(keys[0].strip()).decrypt(ciphertext.encode())
    except InvalidToken:
        return True
    return False


def remember_secret(value: str) -> None:
    """Note a secret seen in this request so the log filter can redact it wherever it appears."""
    if has_app_context():
        secrets = g.setdefault("portal_secrets", set())
        secrets.add(value)
