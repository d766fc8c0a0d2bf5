from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import PASSWORD_FIELD_MAX, email_address, lower_filter, new_password_field, plain_text, strip_filter
from ..models import EMAIL_MAX, NAME_MAX


class SetupForm(FlaskForm):
    company_name = StringField(_l("Company name"), filters=[strip_filter],
                               validators=[DataRequired(), Length(max=NAME_MAX), plain_text])
    display_name = StringField(_l("Your name"), filters=[strip_filter],
                               validators=[DataRequired(), Length(max=NAME_MAX), plain_text])
    email = StringField(_l("Email"), filters=[lower_filter],
                        validators=[DataRequired(), Length(max=EMAIL_MAX), email_address],
                        render_kw={"autocomplete": "username", "type": "email"})
    password = new_password_field(_l("Password"))
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class LoginForm(FlaskForm):
    email = StringField(_l("Email"), filters=[lower_filter],
                        validators=[DataRequired(), Length(max=EMAIL_MAX)],
                        render_kw={"autocomplete": "username", "type": "email", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                             render_kw={"autocomplete": "current-password"})


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), Length(max=PASSWORD_FIELD_MAX)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = new_password_field(_l("New password"))
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", _l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
