from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import MESSAGES, audit_refusal
from ..extensions import db
from ..forms import show_error
from ..throttle import give_back, take_slots
from ..urls import safe_next
from ..models import count_users, utcnow
from . import bp
from .forms import ChangePasswordForm, LoginForm, SetupForm
from ..audit import record
from ..accounts import (AccountError, authenticate, change_password, create_company_with_admin, end_sessions,
                       find_user_by_email, normalize_email)


def start_session(user) -> None:
    """A fresh session for this user (no state carried over from before sign-in)."""
    session.clear()
    login_user(user)
    now = int(utcnow().timestamp())
    session["auth_at"] = now
    session["seen_at"] = now
    session.permanent = True


def _login_slots(email: str) -> list[tuple[str, str]]:
    """The throttle buckets a sign-in attempt takes a slot in: its client address and its account name."""
    cfg = current_app.config
    return [("login-ip:" + (request.remote_addr or "?"), cfg["LOGIN_LIMIT_PER_IP"]),
            ("login-account:" + normalize_email(email)[:254], cfg["LOGIN_LIMIT_PER_ACCOUNT"])]


def _throttled(template: str, form, **context):
    """The form again with 429: the password was not checked. Audited (sampled for anonymous callers)."""
    email = form.email.data if hasattr(form, "email") else None
    audit_refusal("auth.throttled", user_label=email, detail=f"{request.method} {request.path}")
    return render_template(template, form=form, error=MESSAGES[429](), **context), 429


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if count_users() > 0:
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = create_company_with_admin(company_name=form.company_name.data, display_name=form.display_name.data,
                                             email=form.email.data, password=form.password.data)
        except AccountError as error:
            db.session.rollback()
            show_error(form, error, "email")
        else:
            record("user.created", target=user, user=user, detail="first admin (set-up page)")
            db.session.commit()
            start_session(user)
            flash(_("Welcome! Your company and your admin account are ready."), "success")
            return redirect(url_for("main.index"), 303)
    return render_template("auth/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        # The slots are taken (and committed) before the password is checked: parallel attempts
        # cannot all pass a check that only counts after the answer.
        slots = _login_slots(form.email.data)
        if not take_slots(slots):
            return _throttled("auth/login.html", form)
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            for key, limit in slots:  # a successful sign-in is not an attempt against the limits
                give_back(key, limit)
            record("auth.login", user=user)
            db.session.commit()
            start_session(user)
            return redirect(safe_next(request.args.get("next")) or url_for("main.index"), 303)
        known = find_user_by_email(form.email.data)
        record("auth.login", outcome="failure", user_label=form.email.data,
               company_id=known.company_id if known else None)
        db.session.commit()
        error = _("The email or the password is not correct.")
    return render_template("auth/login.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_sessions(current_user)
    record("auth.logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"), 303)


def _change_password(form, slot) -> bool:
    """Change the signed-in user's password from the form and commit; True when it changed. A refusal goes
    on the form; a wrong current password keeps its throttle slot and is audited, other refusals give it back."""
    try:
        change_password(current_user, current=form.current_password.data, new=form.new_password.data)
    except AccountError as error:
        db.session.rollback()
        show_error(form, error, "new_password")
        if error.field == "current_password":
            record("auth.password_change_failed", outcome="failure", detail="wrong current password")
        else:
            give_back(*slot)
        db.session.commit()
        return False
    give_back(*slot)
    record("auth.password_changed")
    db.session.commit()
    return True


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password_view():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        # Guessing the current password through this form is throttled like signing in.
        slot = ("password-change:" + str(current_user.id), current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])
        if not take_slots([slot]):
            return _throttled("auth/change_password.html", form)
        if _change_password(form, slot):
            # The password change ended every session, this one included: start a new one.
            start_session(current_user._get_current_object())
            flash(_("Your password has been changed. Other devices have been signed out."), "success")
            return redirect(url_for("main.index"), 303)
    return render_template("auth/change_password.html", form=form)
