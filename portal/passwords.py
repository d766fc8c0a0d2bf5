"""Password hashing and the password policy (length, common passwords; no composition rules).

New hashes are Argon2id with OWASP's parameters (m=12 MiB, t=3, p=1: a tenth of the memory of scrypt
N=2^17, so concurrent sign-ins do not balloon a worker). Werkzeug hashes (scrypt, pbkdf2) from older
installations or from tests still verify, and are replaced by Argon2id at the next sign-in.
"""
import gzip
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

# A real hash of a random password, checked when the account does not exist so that an unknown
# email costs the same time as a wrong password.
_DUMMY_PASSWORD = "not-a-real-password-2c4f9e"
ARGON2 = "argon2id"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("portal.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode().splitlines() if line.strip())


def _argon2() -> PasswordHasher:
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_PARALLELISM"])
    hashers = current_app.extensions.setdefault("portal_argon2", {})
    if key not in hashers:
        hashers[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return hashers[key]


def hash_password(password: str) -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method == ARGON2:
        return _argon2().hash(password)
    return generate_password_hash(password, method=method)


def _verify(password_hash: str, password: str) -> bool:
    if password_hash.startswith("$argon2"):
        try:
            return _argon2().verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(password_hash, password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _verify(_dummy_hash(), password)
        return False
    return _verify(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with another method or weaker parameters than configured now."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method == ARGON2:
        return not password_hash.startswith("$argon2") or _argon2().check_needs_rehash(password_hash)
    return not password_hash.startswith(method + "$")


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("portal_dummy_hash", {})
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in cache:
        cache[method] = hash_password(_DUMMY_PASSWORD)
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
