from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

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

