"""Start-up resolution of the two secrets: the session key and the token encryption keys.

Order: the environment (already in app.config), else an owner-only file under the instance folder,
else — outside production — a newly generated key written to that file. A placeholder or too-short
value is always refused, so a copied example configuration can never run.
"""
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

SECRET_KEY_FILE = "secret_key"
TOKEN_KEYS_FILE = "token_enc_keys"

PLACEHOLDERS = {
    "changeme", "change-me", "change_me", "secret", "dev", "development", "test", "placeholder",
    "your-secret-key", "your_secret_key", "xxx", "todo", "insecure", "default", "example",
}


class KeyConfigError(RuntimeError):
    """A secret is missing or unusable; the message says what to do."""


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDERS or ("change" in lowered and "me" in lowered) or len(set(lowered)) < 6


def _read_owner_only(path: Path) -> str | None:
    if not path.exists():
        return None
    return path.read_text(encoding="ascii").strip() or None


def _write_owner_only(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")


def check_secret_key(value: str) -> str:
    if len(value.encode()) < 32 or _looks_like_placeholder(value):
        raise KeyConfigError(
            "SECRET_KEY is a placeholder or shorter than 32 bytes. Set it to a random value, e.g. "
            "the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return value


def check_token_keys(value: str) -> list[str]:
    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise KeyConfigError("TOKEN_ENC_KEYS is empty.")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise KeyConfigError(
                f"TOKEN_ENC_KEYS key #{position} is not a valid Fernet key (32 url-safe base64 bytes). "
                "Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
    return keys


def resolve(config: dict) -> None:
    """Fill SECRET_KEY and TOKEN_ENC_KEYS in `config`, or raise KeyConfigError."""
    instance = Path(config["INSTANCE_PATH"])
    production = config.get("PORTAL_ENV") == "production"

    secret = config.get("SECRET_KEY") or _read_owner_only(instance / SECRET_KEY_FILE)
    if not secret:
        if production:
            raise KeyConfigError("SECRET_KEY is not set. In production it must be configured explicitly.")
        secret = secrets.token_urlsafe(48)
        _write_owner_only(instance / SECRET_KEY_FILE, secret)
    config["SECRET_KEY"] = check_secret_key(secret)

    token_keys = config.get("TOKEN_ENC_KEYS") or _read_owner_only(instance / TOKEN_KEYS_FILE)
    if not token_keys:
        if production:
            raise KeyConfigError("TOKEN_ENC_KEYS is not set. In production it must be configured explicitly.")
        token_keys = Fernet.generate_key().decode()
        _write_owner_only(instance / TOKEN_KEYS_FILE, token_keys)
    config["TOKEN_ENC_KEYS"] = ",".join(check_token_keys(token_keys))
