"""Shared form pieces: field limits, normalizing filters, the forms several blueprints use, list-filter
forms over the query string, and the one error class that a service raises and a view puts on a form."""
import re
import unicodedata
from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import AnyOf, DataRequired, Length

from .fields import db_id
from .fields import parse_db_id as parse_id  # one rule for ids typed by users: ASCII digits, in range

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Invisible or direction-changing characters that make two values look alike.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
DATE_MIN, DATE_MAX = date(2000, 1, 1), date(2100, 12, 31)
SEARCH_MAX = 100
PASSWORD_FIELD_MAX = 128


def new_password_field(label, **kwargs):
    """A field for a password being set (sign-up, change, reset): required, at most PASSWORD_FIELD_MAX."""
    return PasswordField(label, validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                         render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_FIELD_MAX}, **kwargs)


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


def lower_filter(value):
    return value.strip().lower() if isinstance(value, str) else value


def has_invisible(value: str) -> bool:
    return any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value)


def plain_text(form, field):
    """Refuse control, format (zero-width, bidi) and unassigned characters in a text field."""
    if field.data and not field.errors and has_invisible(field.data):
        raise ValidationError(_l("Remove invisible or control characters from this field."))


def email_address(form, field):
    if field.data and not field.errors and not EMAIL_RE.match(field.data):
        raise ValidationError(_l("Enter an email address such as name@example.com."))


def name_key(name: str) -> str:
    """The case-folded, whitespace-collapsed form of a name: unique per company, searched with LIKE."""
    return " ".join(name.split()).casefold()


class FormError(ValueError):
    """A rule refused the request; `field` names the form field the message belongs to (None: the form's
    default field). Services raise it, views show it with `show_error`."""

    def __init__(self, message, field: str | None = None):
        # str(): a lazy string renders as markup (it has __html__), and messages may carry user text.
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


def show_error(form, error: FormError, default: str, aliases: dict | None = None) -> None:
    """Put `error` on the form field it names (or on `default`); `aliases` maps a field name to the one
    the form shows instead (e.g. the single-country select for the multi-country list). A field that
    already has an error keeps only that one: one message per problem."""
    name = error.field or default
    name = (aliases or {}).get(name, name)
    field = getattr(form, name, None) or getattr(form, default)
    if not field.errors:
        field.errors = [error.message]


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""


class AssignForm(FlaskForm):
    """Ticked ids out of the ids shown on the page (`shown`), so unticking is explicit too."""

    selected = SelectMultipleField(coerce=db_id, validate_choice=False)
    shown = SelectMultipleField(coerce=db_id, validate_choice=False)


class BulkAssignForm(FlaskForm):
    user_id = SelectField(_l("Staff member"), coerce=db_id, validate_choice=False)
    shop_ids = SelectMultipleField(coerce=db_id, validate_choice=False)
    action = StringField(default="assign", validators=[AnyOf(("assign", "remove"))])  # assign to / remove from


def parse_day(text) -> date | None:
    """An ISO date (YYYY-MM-DD, ASCII), moved into 2000-01-01..2100-12-31 so that date arithmetic and the
    database never overflow (a filter from 2999-01-01 still finds nothing); None if no date. Never raises."""
    if not isinstance(text, str) or len(text) != 10 or not text.isascii():
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return min(max(day, DATE_MIN), DATE_MAX)


class SearchFilter(StringField):
    """Free text to search for: trimmed and cut to SEARCH_MAX characters."""

    def process_formdata(self, valuelist):
        self.data = valuelist[0].strip()[:SEARCH_MAX] if valuelist and isinstance(valuelist[0], str) else ""

    def _value(self):
        return self.data or ""


class ChoiceFilter(SelectField):
    """One of the given choices, else the field's default: a bad value never becomes an error or a 500.
    `choices` is a callable returning (value, label) pairs, so the options follow the definitions the
    query uses (and the request's language)."""

    def __init__(self, label=None, choices=None, default="", normalize=None, **kwargs):
        self._pairs, self._normalize = choices, normalize
        super().__init__(label, choices=self._choices, default=default, validate_choice=False, **kwargs)

    def _choices(self):
        return [SelectChoice(value, label) for value, label in self._pairs()]

    def process_formdata(self, valuelist):
        value = valuelist[0] if valuelist and isinstance(valuelist[0], str) else ""
        value = self._normalize(value) if self._normalize else value
        self.data = value if value in {choice.value for choice in self.choices} else self.default


class IdFilter(StringField):
    """An id from the query string (see parse_id): None when absent or not a valid id."""

    def process_formdata(self, valuelist):
        self.data = parse_id(valuelist[0]) if valuelist else None

    def _value(self):
        return "" if self.data is None else str(self.data)


class DayFilter(StringField):
    """An ISO date (see parse_day); `invalid` is True when text was given but is no usable date."""

    invalid = False

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist and isinstance(valuelist[0], str) else ""
        self.data = parse_day(raw)
        self.invalid = bool(raw) and self.data is None

    def _value(self):
        return self.data.isoformat() if self.data else ""


class FilterForm(Form):
    """Base of the list filters: read from the query string, no CSRF (a GET changes nothing; a plain
    wtforms Form, which is cheaper to build than a FlaskForm on every list request).

    Subclasses declare their fields; `values()` gives the cleaned filters and `args()` the ones worth
    keeping in links (pager, redirects) — never anything else from request.args."""

    #: field name -> value that means "no filter" and is left out of links
    defaults: dict = {}

    def __init__(self, formdata=None, **kwargs):
        # Every field turns what it cannot use into its default, so there is nothing left to validate.
        super().__init__(formdata=request.args if formdata is None else formdata, **kwargs)

    def values(self) -> dict:
        return {name: field.data for name, field in self._fields.items()}

    def args(self) -> dict:
        return {name: value for name, value in self.values().items()
                if value not in (None, "") and value != self.defaults.get(name)}

    @property
    def active(self) -> bool:
        """True when a filter narrows the list (the sort alone does not)."""
        return any(value for name, value in self.args().items() if name != "sort")
