import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ..forms import email_address, lower_filter, new_password_field, plain_text, strip_filter
from ..models import EMAIL_MAX, NAME_MAX, ROLE_ADMIN, ROLE_MEMBER


def role_choices():
    return [SelectChoice(ROLE_MEMBER, _l("Member")), SelectChoice(ROLE_ADMIN, _l("Admin"))]


class AddUserForm(FlaskForm):
    display_name = StringField(_l("Name"), filters=[strip_filter],
                               validators=[DataRequired(), Length(max=NAME_MAX), plain_text])
    email = StringField(_l("Email"), filters=[lower_filter],
                        validators=[DataRequired(), Length(max=EMAIL_MAX), email_address],
                        render_kw={"type": "email", "autocomplete": "off"})
    role = SelectField(_l("Role"), choices=role_choices, default=ROLE_MEMBER)
    password = new_password_field(_l("Temporary password"),
                                  description=_l("The new user must change it at the first sign-in."))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=role_choices)


class ResetPasswordForm(FlaskForm):
    password = new_password_field(_l("Temporary password"))



MOBILE_RE = re.compile(r"^\+?[0-9]{6,19}$")
PLATFORM_USER_ID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def _mobile_filter(value):
    """Spaces and dashes people type in phone numbers are dropped: "+86 138-0000-1111" → "+8613800001111"."""
    return re.sub(r"[\s-]", "", value) if isinstance(value, str) else value


class MentionForm(FlaskForm):
    """A user's ids for @-mentions in alerts about their shops (both optional)."""

    alert_mobile = StringField(_l("Mobile number for @-mentions"), filters=[_mobile_filter],
                               validators=[Optional(), Regexp(MOBILE_RE, message=_l(
                                   "Enter the mobile number with digits only (an optional + first), 6-20 characters."))],
                               render_kw={"inputmode": "tel", "autocomplete": "off", "maxlength": 30},
                               description=_l("WeCom and DingTalk robots can @-mention by mobile number."))
    alert_user_id = StringField(_l("Platform user id for @-mentions"), filters=[strip_filter],
                                validators=[Optional(), Regexp(PLATFORM_USER_ID_RE, message=_l(
                                    "Use letters, digits and _ . @ - only, at most 64 characters."))],
                                render_kw={"autocomplete": "off", "maxlength": 64},
                                description=_l("The WeCom userid, DingTalk userId or Feishu open_id (ou_…) "
                                               "of this person, from the platform's admin console."))
