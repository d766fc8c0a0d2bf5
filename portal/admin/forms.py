from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..auth.forms import PASSWORD_FIELD_MAX
from ..forms import ConfirmForm, email_address, lower_filter, plain_text, strip_filter  # noqa: F401 (ConfirmForm: older imports)
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
    password = PasswordField(_l("Temporary password"), validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                             description=_l("The new user must change it at the first sign-in."),
                             render_kw={"autocomplete": "new-password"})


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=role_choices)


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("Temporary password"), validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                             render_kw={"autocomplete": "new-password"})

