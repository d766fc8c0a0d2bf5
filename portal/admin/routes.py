from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..access import admin_required
from ..auth.services import AccountError, add_user, reset_password, set_active, set_role
from ..extensions import db
from ..htmx import is_htmx, render_page
from ..models import User
from ..pagination import paginate
from . import bp
from .forms import AddUserForm, ConfirmForm, ResetPasswordForm, RoleForm


def company_users():
    """Every user query of the admin pages starts here: only the admin's own company."""
    return select(User).where(User.company_id == current_user.company_id)


def get_company_user_or_404(user_id: int) -> User:
    user = db.session.scalar(company_users().where(User.id == user_id))
    if user is None:
        abort(404)
    return user


@bp.route("/users")
@admin_required
def users():
    q = request.args.get("q", "").strip()[:100]
    query = company_users()
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(User.display_name).like(like), User.email.like(like)))
    page = paginate(query.order_by(User.display_name, User.id), request.args.get("page"))
    return render_page("admin/users.html", "results", page=page, q=q, add_form=AddUserForm())


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
            getattr(form, error.field or "email").errors.append(error.message)
        else:
            db.session.commit()
            flash(_("%(name)s can now sign in with the temporary password and will be asked to change it.",
                    name=user.display_name), "success")
            return _back_to_users()
    return render_page("admin/new_user.html", "dialog", form=form)


def _back_to_users():
    if is_htmx():
        return "", 200, {"HX-Redirect": url_for("admin.users")}
    return redirect(url_for("admin.users"), 303)


def _row(user: User, error: str | None = None, status: int = 200):
    if not is_htmx():
        if error:
            flash(error, "error")
        return redirect(url_for("admin.users"), 303)
    return render_template("admin/_user_row.html", user=user, row_error=error), status


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@admin_required
def change_role(user_id: int):
    user = get_company_user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _row(user, _("Choose a role."))
    try:
        set_role(user, form.role.data)
    except AccountError as error:
        db.session.rollback()
        return _row(db.session.get(User, user_id), str(error.message))
    db.session.commit()
    return _row(user)


@bp.route("/users/<int:user_id>/<any(deactivate, reactivate):action>", methods=["POST"])
@admin_required
def change_active(user_id: int, action: str):
    user = get_company_user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        set_active(user, action == "reactivate")
    except AccountError as error:
        db.session.rollback()
        return _row(db.session.get(User, user_id), str(error.message))
    db.session.commit()
    return _row(user)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@admin_required
def reset_user_password(user_id: int):
    user = get_company_user_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset_password(user, form.password.data)
        except AccountError as error:
            db.session.rollback()
            form.password.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("%(name)s must sign in with the temporary password and change it.", name=user.display_name),
                  "success")
            return _back_to_users()
    return render_page("admin/reset_password.html", "dialog", form=form, user=user)
