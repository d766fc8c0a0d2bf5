from datetime import datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import get_locale, to_user_timezone, to_utc
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, PasswordField, RadioField, SelectChoice,
                     SelectField, SelectMultipleField, StringField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..amazon.marketplaces import REGIONS, display_name, marketplace_by_id, marketplaces_in
from ..forms import plain_text, show_error, strip_filter
from ..models import MODE_MULTI, MODE_SINGLE, SELLER_ID_MAX, SHOP_NAME_MAX, utcnow
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

    mode = RadioField(_l("Sells in"), choices=mode_choices, default=MODE_SINGLE)
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


def user_today():
    """Today in the user's time zone (the date a seller sees in Seller Central)."""
    return to_user_timezone(utcnow()).date()


class AuthorizedOnMixin:
    """When the seller authorized the pasted token: its 365 days count from then, not from today."""

    authorized_on = DateField(_l("Authorized on"), validators=[Optional()], default=user_today,
                              description=_l("The day the token was made in Seller Central; "
                                             "today if you just made it."))

    def check_authorized_on(self) -> bool:
        chosen, today = self.authorized_on.data, user_today()
        days = current_app.config["AUTHORIZATION_VALIDITY_DAYS"]
        if not (self.authorized_on.raw_data or [""])[0].strip():
            self.authorized_on.data = today  # not sent (or emptied): today
            self.authorized_on.errors = []
            return True
        if chosen is None or self.authorized_on.errors:
            return False  # DateField already said "Not a valid date value."
        if chosen > today:
            self.authorized_on.errors = [_l("The date cannot be in the future.")]
            return False
        if chosen <= today - timedelta(days=days):
            self.authorized_on.errors = [
                _l("A token authorized %(days)d days ago or earlier has expired. Authorize again and paste the new "
                   "token.", days=days)]
            return False
        return True

    def authorized_at(self) -> datetime:
        """The moment the 365 days start: now for today, else the start of that day in the user's zone."""
        if self.authorized_on.data is None or self.authorized_on.data >= user_today():
            return utcnow()
        return to_utc(datetime.combine(self.authorized_on.data, time())).replace(tzinfo=timezone.utc)


class ShopForm(AuthorizedOnMixin, MarketplaceFieldsMixin, FlaskForm):
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
        if not self.seller_id.errors:  # an empty Seller ID already says "required"
            try:
                self.seller_id.data = normalize_seller_id(self.seller_id.data or "")
            except InputProblem as problem:
                show_error(self, problem, "seller_id")
                ok = False
        ok = self.check_authorized_on() and ok
        return _check_token_field(self.token) and ok


def _check_token_field(field) -> bool:
    """Normalize a pasted refresh token in place; False (with the field's message) when it is not one."""
    if field.errors:
        return False  # too long: that message is enough
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


class ReauthorizeForm(AuthorizedOnMixin, FlaskForm):
    token = PasswordField(_l("New authorization token (refresh token)"),
                          validators=[DataRequired(), Length(max=TOKEN_MAX + 100)],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})
    authorized = BooleanField(_l("I have re-authorized the application in Seller Central"),
                              validators=[InputRequired(_l("Re-authorize in Seller Central first, then tick this box."))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        ok = self.check_authorized_on() and ok
        return _check_token_field(self.token) and ok


class StartForm(FlaskForm):
    """Start "Authorize with Amazon": for a new shop (region + main country) or to re-authorize one."""

    region = SelectField(choices=region_choices, default="NA")
    marketplace = SelectField(validate_choice=False)
    marketplaces = SelectMultipleField(validate_choice=False)
    shop_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])  # fits every database
    name = StringField(filters=[strip_filter])  # only carried to the finish dialog, which checks it

    def chosen_marketplace(self) -> str:
        """The chosen (first ticked) country if it belongs to the region, else the region's first."""
        marketplace = marketplace_by_id(self.marketplace.data or (self.marketplaces.data or [""])[0])
        if marketplace and marketplace.region == self.region.data:
            return marketplace.marketplace_id
        return marketplaces_in(self.region.data)[0].marketplace_id


class FinishForm(MarketplaceFieldsMixin, FlaskForm):
    """The last step after Amazon: the Seller ID and region come from Amazon, the user names the shop
    and picks countries among those the seller participates in."""

    name = StringField(_l("Shop name"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=SHOP_NAME_MAX), plain_text])
    state = HiddenField()

    def bind_participations(self, region: str, participating: list[str] | None) -> None:
        """Offer the seller's countries of the region (all of the region when Amazon did not say)."""
        self.bind_region(region)
        if participating:
            keep = set(participating)
            self.marketplace.choices = [c for c in self.marketplace.choices if c.value in keep or c.value == ""]
            self.marketplaces.choices = [c for c in self.marketplaces.choices if c.value in keep]
            self.offered = [m for m in participating if marketplace_by_id(m)]

    def preselect(self, participating: list[str] | None) -> None:
        """Pre-tick every participating country (multi when there are several)."""
        chosen = [m for m in participating or [] if marketplace_by_id(m)]
        self.mode.data = MODE_MULTI if len(chosen) > 1 else MODE_SINGLE
        self.marketplaces.data = chosen
        self.marketplace.data = chosen[0] if chosen else ""

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        ok = self.check_marketplaces() and ok
        offered = getattr(self, "offered", None)
        if ok and offered is not None and not set(self.selected_marketplaces()) <= set(offered):
            self.marketplaces.errors = [_l("Pick only countries this seller sells in.")]
            ok = False
        return ok


def guidance(region: str, marketplace_ids: list[str] | None = None) -> dict:
    """What the paste path shows for a region: where a private app's owner self-authorizes it,
    which app the token must come from, and (only if the operator set them) MWS developer details."""
    cfg = current_app.config
    host = REGIONS[region].seller_central_host
    for marketplace_id in marketplace_ids or []:
        marketplace = marketplace_by_id(marketplace_id)
        if marketplace:
            host = marketplace.seller_central_host
            break
    client_id = cfg.get("AMAZON_LWA_CLIENT_ID") or ""
    return {
        "region": REGIONS[region],
        "seller_central_url": f"https://{host}",
        "develop_apps_url": f"https://{host}/sellingpartner/developerconsole",
        "merchant_token_url": f"https://{host}/sw/AccountInfo/MerchantToken/step/MerchantToken",
        "client_id_tail": client_id[-8:] if client_id else "",
        "developer_name": cfg.get("AMAZON_DEVELOPER_NAME"),
        "developer_id": cfg.get(f"AMAZON_DEVELOPER_ID_{region}"),
        "validity_days": cfg["AUTHORIZATION_VALIDITY_DAYS"],
        "amazon_enabled": bool(cfg.get("AMAZON_APP_ID")),
    }
