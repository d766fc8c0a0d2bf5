from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..amazon.marketplaces import REGIONS, display_name, marketplaces_in
from ..forms import plain_text, strip_filter
from ..models import MODE_MULTI, MODE_SINGLE, SELLER_ID_MAX, SHOP_NAME_MAX
from .validation import TOKEN_MAX, InputProblem, check_refresh_token, normalize_seller_id


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def region_choices():
    locale = get_locale()
    return [SelectChoice(code, f"{display_name(region, locale)} ({code})") for code, region in REGIONS.items()]


def marketplace_choices(region: str, placeholder: bool = False):
    locale = get_locale()
    choices = [SelectChoice("", _l("Choose a country"))] if placeholder else []
    choices += [SelectChoice(m.marketplace_id, f"{display_name(m, locale)} ({m.country_code})")
                for m in marketplaces_in(region)]
    return choices


def mode_choices():
    return [SelectChoice(MODE_SINGLE, _l("Single country")), SelectChoice(MODE_MULTI, _l("Multi country"))]


class MarketplaceFieldsMixin:
    """Mode + marketplaces that follow the chosen region; shared by the add and edit forms."""

    mode = RadioField(_l("Countries"), choices=mode_choices, default=MODE_SINGLE)
    marketplace = SelectField(_l("Country"), validate_choice=False)
    marketplaces = CheckboxList(_l("Countries"), validate_choice=False)

    def bind_region(self, region: str) -> None:
        self.marketplace.choices = marketplace_choices(region, placeholder=True)
        self.marketplaces.choices = marketplace_choices(region)
        self.current_region = region

    def selected_marketplaces(self) -> list[str]:
        if self.mode.data == MODE_MULTI:
            return list(dict.fromkeys(self.marketplaces.data or []))
        return [self.marketplace.data] if self.marketplace.data else []

    def check_marketplaces(self) -> bool:
        allowed = {m.marketplace_id for m in marketplaces_in(self.current_region)}
        chosen = self.selected_marketplaces()
        if self.mode.data == MODE_MULTI:
            if len(chosen) < 2:
                self.marketplaces.errors = [_l("Pick at least two countries for a multi-country shop, "
                                               "or switch to single country.")]
                return False
            if not set(chosen) <= allowed:
                self.marketplaces.errors = [_l("Pick only countries of the chosen region.")]
                return False
        else:
            if not chosen:
                self.marketplace.errors = [_l("Pick the shop's country.")]
                return False
            if chosen[0] not in allowed:
                self.marketplace.errors = [_l("Pick a country of the chosen region.")]
                return False
        return True


class ShopForm(MarketplaceFieldsMixin, FlaskForm):
    name = StringField(_l("Shop name"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=SHOP_NAME_MAX), plain_text],
                       description=_l("Any name that tells your shops apart, e.g. “US main store”."))
    region = SelectField(_l("Region"), choices=region_choices, default="NA")
    seller_id = StringField(_l("Seller ID"), validators=[DataRequired(), Length(max=SELLER_ID_MAX * 2)],
                            render_kw={"autocomplete": "off", "spellcheck": "false"})
    token = PasswordField(_l("Authorization token (refresh token)"), validators=[Optional(), Length(max=TOKEN_MAX + 100)],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})
    authorized = BooleanField(_l("I have authorized the third-party application in Seller Central"),
                              validators=[InputRequired(_l("Authorize the application in Seller Central first, "
                                                           "then tick this box."))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        ok = self.check_marketplaces() and ok
        try:
            self.seller_id.data = normalize_seller_id(self.seller_id.data or "")
        except InputProblem as problem:
            self.seller_id.errors = list(self.seller_id.errors) + [problem.message]
            ok = False
        return _check_token_field(self.token) and ok


def _check_token_field(field) -> bool:
    """Normalize a pasted refresh token in place; False (with the field's message) when it is not one."""
    if not field.data:
        return True
    try:
        field.data = check_refresh_token(field.data)
    except InputProblem as problem:
        field.errors = list(field.errors) + [problem.message]
        return False
    return True


class EditShopForm(MarketplaceFieldsMixin, FlaskForm):
    name = StringField(_l("Shop name"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=SHOP_NAME_MAX), plain_text])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self.check_marketplaces() and ok


class ReauthorizeForm(FlaskForm):
    token = PasswordField(_l("New authorization token (refresh token)"),
                          validators=[DataRequired(), Length(max=TOKEN_MAX + 100)],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})
    authorized = BooleanField(_l("I have re-authorized the application in Seller Central"),
                              validators=[InputRequired(_l("Re-authorize in Seller Central first, then tick this box."))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return _check_token_field(self.token) and ok


def guidance(region: str, marketplace_ids: list[str] | None = None) -> dict:
    """What the dialog shows for a region: who to authorize and where in Seller Central."""
    from ..amazon.marketplaces import marketplace_by_id

    cfg = current_app.config
    host = REGIONS[region].seller_central_host
    for marketplace_id in marketplace_ids or []:
        marketplace = marketplace_by_id(marketplace_id)
        if marketplace:
            host = marketplace.seller_central_host
            break
    return {
        "region": REGIONS[region],
        "developer_name": cfg["AMAZON_DEVELOPER_NAME"],
        "developer_id": cfg[f"AMAZON_DEVELOPER_ID_{region}"],
        "merchant_token_url": f"https://{host}/sw/AccountInfo/MerchantToken/step/MerchantToken",
        "apps_url": f"https://{host}/apps/manage",
        "user_permissions_url": f"https://{host}/gp/account-manager/home.html",
    }
