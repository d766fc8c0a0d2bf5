"""Password hashing and the password policy (length, common passwords; no composition rules)."""
import gzip
from functools import lru_cache
from importlib import resources

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

# A real hash of a random password, checked when the account does not exist so that an unknown
# email costs the same time as a wrong password.
_DUMMY_PASSWORD = "not-a-real-password-2c4f9e"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("portal.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode().splitlines() if line.strip())


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(password_hash, password)


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("portal_dummy_hash", {})
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in cache:
        cache[method] = generate_password_hash(_DUMMY_PASSWORD, method=method)
    return cache[method]


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Reasons this password is refused, in plain language (empty when acceptable)."""
    cfg = current_app.config
    problems = []
    if len(password) < cfg["PASSWORD_MIN_LENGTH"]:
        problems.append(_l("Use at least %(n)d characters.", n=cfg["PASSWORD_MIN_LENGTH"]))
    elif len(password) > cfg["PASSWORD_MAX_LENGTH"]:
        problems.append(_l("Use at most %(n)d characters.", n=cfg["PASSWORD_MAX_LENGTH"]))
    lowered = password.lower()
    if lowered in common_passwords() or (email and lowered in {email.lower(), email.lower().split("@")[0]}):
        problems.append(_l("This password is too common or too easy to guess. Choose another one."))
    return problems
