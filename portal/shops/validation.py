"""Normalizing and checking what sellers paste: Seller IDs and LWA refresh tokens."""
import re
import unicodedata

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..forms import FormError, has_invisible

TOKEN_MAX = 2048
MWS_PREFIX = "amzn.mws."
LWA_ACCESS_PREFIX = "Atza|"
_TOKEN_RE = re.compile(r"^Atzr\|[\x21-\x7e]+$")  # an LWA refresh token: Atzr| and printable ASCII


class InputProblem(FormError):
    """A typed value (Seller ID, refresh token) that cannot be used; the message says how to fix it."""


def normalize_seller_id(raw: str) -> str:
    """Trim and upper-case; full-width letters typed with a Chinese IME become ASCII (NFKC).
    Invisible or look-alike characters are refused rather than silently removed."""
    value = (raw or "").strip()
    if has_invisible(value):
        raise InputProblem(_l("The Seller ID contains invisible characters. Type it again or copy it "
                              "from Seller Central without extra spaces."))
    value = unicodedata.normalize("NFKC", value).strip().upper()
    if not value.isascii():
        raise InputProblem(_l("The Seller ID contains characters that only look like Latin letters or "
                              "digits. Type it again in plain letters and digits."))
    pattern = current_app.config["SELLER_ID_PATTERN"]
    if not re.fullmatch(pattern, value):
        raise InputProblem(_l("This does not look like a Seller ID. It is the Merchant Token in Seller Central "
                              "(Settings > Account Info > Merchant Token), e.g. A1B2C3D4E5F6G7."))
    return value


def check_refresh_token(raw: str) -> str:
    """The trimmed token if it looks like an LWA refresh token, else InputProblem with what to do."""
    value = (raw or "").strip()
    if value.lower().startswith(MWS_PREFIX):
        raise InputProblem(_l("This is an old MWS authorization token (amzn.mws.…). Amazon switched MWS off in "
                              "2024, so it no longer works. Use Authorize with Amazon, or paste the refresh token "
                              "of the portal's SP-API app (it starts with Atzr|)."))
    if value.startswith(LWA_ACCESS_PREFIX):
        raise InputProblem(_l("This is an access token (it starts with Atza|): it lasts only one hour. Paste the "
                              "refresh token instead; it starts with Atzr|."))
    if len(value) > TOKEN_MAX:
        raise InputProblem(_l("The token is longer than %(n)d characters; check that you copied only the token.",
                              n=TOKEN_MAX))
    if has_invisible(value) or not _TOKEN_RE.match(value) or len(value) < 20:
        raise InputProblem(_l("This does not look like an SP-API refresh token. It starts with Atzr| and has no "
                              "spaces; copy it again from Seller Central."))
    return value
