from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import admin_required, company_users, get_company_user_or_404
from ..activity_text import action_groups
from ..audit import record
from ..accounts import AccountError, add_user, reset_password, set_active, set_mention_ids, set_role
from ..csv_export import csv_response
from ..extensions import db
from ..forms import ConfirmForm, show_error
from ..htmx import is_htmx, render_page
from ..models import User
from ..pagination import paginate
from ..views import finish
from . import bp
from .forms import AddUserForm, MentionForm, ResetPasswordForm, RoleForm
from .queries import (ActivityFilters, UserFilters, activity_csv_header, activity_csv_rows, activity_lines,
                      activity_query, search_users)


@bp.route("/users")
@admin_required
def users():
    filters = UserFilters()
    page = paginate(search_users(company_users(current_user), filters), request.args.get("page"))
    return render_page("admin/users.html", "results", page=page, q=filters.q.data, add_form=AddUserForm())


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    form = AddUserForm()
    if form.validate_on_submit():
        try:
            user = add_user(current_user.company, display_name=form.display_name.data, email=form.email.data,
                            password=form.password.data, role=form.role.data, must_change_password=True)
        except AccountError as error:
            db.session.rollback()
            show_error(form, error, "email")
        else:
            record("user.created", target=user, detail=f"role={user.role}")
            return finish(_("%(name)s can now sign in with the temporary password and will be asked to change it.",
                            name=user.display_name), url_for("admin.users"))
    return render_page("admin/new_user.html", "dialog", form=form)


def _row(user: User, error: str | None = None, *, commit: bool = False, message: str | None = None):
    """The user's row for htmx (rendered before the commit, so it never reads expired attributes), with
    `message` for #messages; else back to the list with the error or the message flashed."""
    body = render_template("admin/_user_row.html", user=user, row_error=error, row_message=message) \
        if is_htmx() else None
    if commit:
        db.session.commit()
    if body is None:
        if error or message:
            flash(error or message, "error" if error else "success")
        return redirect(url_for("admin.users"), 303)
    return body


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@admin_required
def change_role(user_id: int):
    user = get_company_user_or_404(current_user, user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _row(user, _("Choose a role."))
    try:
        set_role(user, form.role.data)
    except AccountError as error:
        db.session.rollback()
        return _row(get_company_user_or_404(current_user, user_id), str(error.message))
    record("user.role_changed", target=user, detail=f"role={user.role}")
    role = _("Admin") if user.is_admin else _("Member")
    return _row(user, commit=True, message=_("Saved: %(name)s is now %(role)s.", name=user.display_name, role=role))


@bp.route("/users/<int:user_id>/<any(deactivate, reactivate):action>", methods=["POST"])
@admin_required
def change_active(user_id: int, action: str):
    user = get_company_user_or_404(current_user, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        set_active(user, action == "reactivate")
    except AccountError as error:
        db.session.rollback()
        return _row(get_company_user_or_404(current_user, user_id), str(error.message))
    record("user.reactivated" if action == "reactivate" else "user.deactivated", target=user)
    return _row(user, commit=True)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@admin_required
def reset_user_password(user_id: int):
    user = get_company_user_or_404(current_user, user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset_password(user, form.password.data)
        except AccountError as error:
            db.session.rollback()
            show_error(form, error, "password")
        else:
            record("user.password_reset", target=user)
            return finish(_("%(name)s must sign in with the temporary password and change it.", name=user.display_name),
                          url_for("admin.users"))
    return render_page("admin/reset_password.html", "dialog", form=form, user=user)


@bp.route("/users/<int:user_id>/mentions", methods=["GET", "POST"])
@admin_required
def user_mentions(user_id: int):
    """The user's mobile number and platform user id for @-mentions in alerts."""
    user = get_company_user_or_404(current_user, user_id)
    form = MentionForm(obj=user if request.method == "GET" else None)
    if form.validate_on_submit():
        set_mention_ids(user, mobile=form.alert_mobile.data, platform_user_id=form.alert_user_id.data)
        return finish(_("@-mention ids of %(name)s saved.", name=user.display_name), url_for("admin.users"))
    return render_page("admin/mentions.html", "dialog", form=form, user=user)


@bp.route("/activity")
@admin_required
def activity():
    filters = ActivityFilters()
    page = paginate(activity_query(current_user.company_id, filters), request.args.get("page"))
    users = list(db.session.scalars(company_users(current_user).order_by(User.sort_name, User.id)))
    return render_page("admin/activity.html", "results", page=page, filters=filters, args=filters.args(),
                       lines=activity_lines(current_user.company_id, page.items), action_groups=action_groups(),
                       users=users, nav="activity")


@bp.route("/activity.csv")
@admin_required
def activity_csv():
    rows = activity_csv_rows(current_user.company_id, activity_query(current_user.company_id, ActivityFilters()))
    return csv_response("activity.csv", activity_csv_header(), rows)
