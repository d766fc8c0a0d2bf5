import decimal
import re
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import plain_text, strip_filter
from ..models import STORE_NAME_MAX
from ..order_texts import status_labels
from ..texts import join_list, list_separator
from .catalog import (OTHER, common_country_codes, country_choices, country_codes, country_currency,
                      country_search_text, currency_choices, currency_codes, default_currency, platform_choices)

NOTES_MAX = 2000


def _choices(pairs):
    return [SelectChoice(value, label) for value, label in pairs]


AMOUNT_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?|-?\.[0-9]+", re.ASCII)


def _decimal_accepts(text: str) -> bool:
    try:
        decimal.Decimal(text)
    except (decimal.InvalidOperation, ValueError):
        return False
    return True


class AmountField(DecimalField):
    """A decimal amount: ASCII digits and at most one decimal point (Python's Decimal also takes NaN,
    Infinity, 1e3, 1_000, full-width and Arabic-Indic digits: none of them is an amount here)."""

    def process_formdata(self, valuelist):
        raw = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if raw and not AMOUNT_RE.fullmatch(raw) and _decimal_accepts(raw):
            self.data = None
            raise ValueError(_l("Write the amount with the digits 0-9 and at most one decimal point, e.g. 19.99."))
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


def http_url(form, field):
    """Only http(s) links: a javascript: or data: URL must never become a clickable link."""
    if not field.data:
        return
    try:
        parts = urlsplit(field.data)
        parts.port  # a malformed port or bracketed host raises here
    except ValueError:
        raise ValidationError(_l("Enter a web address starting with http:// or https://.")) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in field.data):
        raise ValidationError(_l("Enter a web address starting with http:// or https://."))


class StoreForm(FlaskForm):
    platform = SelectField(_l("Platform"), choices=lambda: _choices(platform_choices()))
    platform_other = StringField(_l("Platform name"), filters=[strip_filter],
                                 validators=[Length(max=60), plain_text],
                                 description=_l("Only when the platform is “Other”."))
    name = StringField(_l("Store name"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=STORE_NAME_MAX), plain_text])
    # Plain checkboxes (they work without JavaScript); stores.js adds the search filter above them.
    countries = SelectMultipleField(_l("Sites / countries"), choices=lambda: _choices(country_choices()),
                                    validators=[DataRequired(_l("Pick at least one country."))],
                                    widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    currency = SelectField(_l("Order currency"),
                           choices=lambda: _choices([("", str(_l("Same as the first country"))), *currency_choices()]),
                           default="", validate_choice=False, render_kw={"data-follows-country": ""},
                           description=_l("New orders of this store start with this currency."))
    url = StringField(_l("Store URL"), filters=[strip_filter], validators=[Optional(), Length(max=500), http_url],
                      render_kw={"type": "url", "placeholder": "https://"})
    login_name = StringField(_l("Account login name"), filters=[strip_filter],
                             validators=[Optional(), Length(max=100), plain_text],
                             description=_l("Optional. Never enter passwords or API secrets here: they are not "
                                            "needed and not stored."))
    notes = TextAreaField(_l("Notes"), filters=[strip_filter], validators=[Optional(), Length(max=NOTES_MAX)])

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        # A stored currency that is the first country's shows as "same as the first country", so that it
        # keeps following the countries when they are edited (with or without JavaScript).
        if obj is not None and obj.currency == default_currency(obj.country_codes):
            self.currency.data = ""

    def validate_platform_other(self, field):
        if self.platform.data == OTHER and not field.data:
            raise ValidationError(_l("Enter the platform's name."))

    def validate_countries(self, field):
        unknown = set(field.data or []) - country_codes()
        if unknown:
            raise ValidationError(_l("Pick countries from the list."))

    def validate_currency(self, field):
        if field.data and field.data not in currency_codes():
            raise ValidationError(_l("Pick a currency from the list (ISO 4217 code)."))

    def country_options(self) -> list[dict]:
        """The picker's checkboxes: the field's options with their group, currency and search text."""
        common = common_country_codes()
        return [{"box": box, "common": box.data in common, "currency": country_currency(box.data) or "",
                 "search": country_search_text(box.data)} for box in self.countries]

    @staticmethod
    def separator() -> str:
        return list_separator()

    def chosen_countries(self) -> str:
        """The ticked countries as one line, e.g. "台湾 (TW)、马来西亚 (MY)" or "Taiwan (TW), Malaysia (MY)"."""
        names = dict(country_choices())
        chosen = [f"{names[code]} ({code})" for code in (self.countries.data or []) if code in names]
        return join_list(chosen)


class OrderForm(FlaskForm):
    order_number = StringField(_l("Order number"), filters=[strip_filter],
                               validators=[DataRequired(), Length(max=64), plain_text])
    order_date = DateField(_l("Order date"), validators=[InputRequired(_l("Enter the date as YYYY-MM-DD."))],
                           render_kw={"placeholder": "YYYY-MM-DD"})
    status = SelectField(_l("Status"), choices=lambda: _choices(status_labels().items()), default="pending")
    currency = SelectField(_l("Currency"), choices=lambda: _choices(currency_choices()), default="USD",
                           validate_choice=False)
    total = AmountField(_l("Total amount"), places=2, rounding=None,
                         validators=[InputRequired(_l("Enter the amount, e.g. 19.99.")),
                                     NumberRange(min=0, message=_l("The amount cannot be negative."))],
                         render_kw={"inputmode": "decimal"})
    buyer_name = StringField(_l("Buyer name"), filters=[strip_filter],
                             validators=[Optional(), Length(max=100), plain_text])
    notes = TextAreaField(_l("Notes"), filters=[strip_filter], validators=[Optional(), Length(max=NOTES_MAX)])

    def validate_currency(self, field):
        if field.data not in currency_codes():
            raise ValidationError(_l("Pick a currency from the list (ISO 4217 code)."))

    def validate_total(self, field):
        if field.data is not None:
            if field.data.as_tuple().exponent < -2:
                raise ValidationError(_l("Use at most two decimal places."))
            if field.data >= 10 ** 12:
                raise ValidationError(_l("The amount is too large."))
