"""Shared form pieces: field limits, normalizing filters, and checks used by several forms."""
import re
import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms import ValidationError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Invisible or direction-changing characters that make two values look alike.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


def lower_filter(value):
    return value.strip().lower() if isinstance(value, str) else value


def has_invisible(value: str) -> bool:
    return any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value)


def plain_text(form, field):
    """Refuse control, format (zero-width, bidi) and unassigned characters in a text field."""
    if field.data and has_invisible(field.data):
        raise ValidationError(_l("Remove invisible or control characters from this field."))


def email_address(form, field):
    if field.data and not EMAIL_RE.match(field.data):
        raise ValidationError(_l("Enter an email address such as name@example.com."))
