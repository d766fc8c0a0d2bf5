from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..access import admin_required, deny
from ..audit import record
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
        deny("user_account", user_id)
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
            record("user.created", target=user, detail=f"role={user.role}")
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
    record("user.role_changed", target=user, detail=f"role={user.role}")
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
    record("user.reactivated" if action == "reactivate" else "user.deactivated", target=user)
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
            record("user.password_reset", target=user)
            db.session.commit()
            flash(_("%(name)s must sign in with the temporary password and change it.", name=user.display_name),
                  "success")
            return _back_to_users()
    return render_page("admin/reset_password.html", "dialog", form=form, user=user)


def _activity_query():
    from datetime import date, datetime, time, timedelta, timezone

    from ..audit import ACTIONS
    from ..models import AuditEvent

    args = request.args
    filters = {"user": args.get("user", ""), "action": args.get("action", ""), "start": args.get("start", "")[:10],
               "end": args.get("end", "")[:10]}
    query = select(AuditEvent).where(AuditEvent.company_id == current_user.company_id)
    if filters["user"].isdigit():
        query = query.where(AuditEvent.user_id == int(filters["user"]))
    else:
        filters["user"] = ""
    if filters["action"] in ACTIONS:
        query = query.where(AuditEvent.action == filters["action"])
    else:
        filters["action"] = ""
    for key, op in (("start", "ge"), ("end", "lt")):
        try:
            day = date.fromisoformat(filters[key]) if filters[key] else None
        except ValueError:
            day, filters[key] = None, ""
        if day:
            moment = datetime.combine(day + (timedelta(days=1) if op == "lt" else timedelta()), time(),
                                      tzinfo=timezone.utc)
            query = query.where(AuditEvent.created_at >= moment if op == "ge" else AuditEvent.created_at < moment)
    return filters, query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


@bp.route("/activity")
@admin_required
def activity():
    from ..audit import ACTIONS

    filters, query = _activity_query()
    page = paginate(query, request.args.get("page"))
    users = list(db.session.scalars(company_users().order_by(User.display_name)))
    args = {k: v for k, v in filters.items() if v}
    return render_page("admin/activity.html", "results", page=page, filters=filters, args=args, actions=ACTIONS,
                       users=users, nav="activity")


@bp.route("/activity.csv")
@admin_required
def activity_csv():
    import csv
    import io

    from flask import Response

    from ..other_stores.routes import csv_cell

    _filters, query = _activity_query()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["time_utc", "user", "action", "outcome", "object_type", "object_id", "object", "detail", "ip"])
    for event in db.session.scalars(query.limit(100_000)):
        writer.writerow([event.created_at.isoformat(timespec="seconds"), csv_cell(event.user_label), event.action,
                         event.outcome, event.object_type or "", event.object_id or "", csv_cell(event.object_label),
                         csv_cell(event.detail), event.ip or ""])
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="activity.csv"'})
