from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import admin_required, get_visible_shop_or_404
from ..alerts.delivery import resend_failed
from ..extensions import db
from ..forms import ConfirmForm
from ..htmx import is_htmx, render_page
from ..pagination import paginate
from ..queue import QueueUnavailable, heartbeat_age, next_runs, queue_alert_send, request_sync
from ..sync_view import shop_sync_view
from . import bp
from .queries import (STATUS_BADGES, alert_message_row, failed_alert_message_or_404, failed_alert_rows, job_name,
                      job_status, runs_query)


@bp.route("/jobs")
@admin_required
def index():
    page = paginate(runs_query(current_user.company_id), request.args.get("page"))
    age = heartbeat_age()
    silent = age is None or age > 2 * 60 * current_app.config["ORDERS_SYNC_MINUTES"]
    return render_page("jobs/index.html", "results", page=page, schedule=next_runs(), heartbeat_age=age,
                       silent=silent, job_name=job_name, job_status=job_status, badges=STATUS_BADGES, nav="jobs",
                       failed_alerts=failed_alert_rows(current_user))


@bp.route("/jobs/alerts/<int:message_id>/retry", methods=["POST"])
@admin_required
def retry_alert(message_id: int):
    """Retry: a failed alert message back to the queue (attempts reset) and its send queued."""
    message = failed_alert_message_or_404(current_user, message_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    resend_failed(message.id)
    db.session.commit()
    try:
        queue_alert_send(message.id)
        note = _("Queued again; it is sent in a moment.")
    except QueueUnavailable:
        note = _("The job queue cannot be reached right now; the alert is sent at the next check.")
    if not is_htmx():
        flash(note, "info")
        return redirect(url_for("jobs.index"), 303)
    db.session.refresh(message)
    return render_template("jobs/_alert_row.html", row=alert_message_row(message), note=note)


@bp.route("/shops/<int:shop_id>/sync", methods=["POST"])
@login_required
def sync_shop(shop_id: int):
    """Sync now: queue the shop's order sync (throttled per seller authorization); htmx gets the status
    fragment, which polls itself until the job has finished."""
    shop = get_visible_shop_or_404(current_user, shop_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = request_sync(shop.authorization_id)
    seconds = current_app.config["JOBS_SYNC_NOW_SECONDS"]
    if outcome.throttled:
        note = _("An order sync of this seller was asked for less than %(num)d seconds ago; it is not queued "
                 "again.", num=seconds)
    elif outcome.unavailable:
        note = _("The job queue cannot be reached right now; try again in a moment.")
    else:
        note = _("Order sync queued.")
    if not is_htmx():
        flash(note, "info" if outcome.queued else "warning")
        return redirect(url_for("shops.detail", shop_id=shop.id), 303)
    return _status(shop, note)


@bp.route("/shops/<int:shop_id>/sync-status")
@login_required
def sync_status(shop_id: int):
    """The shop's sync status fragment (polled every 2 s while its job is queued or running)."""
    return _status(get_visible_shop_or_404(current_user, shop_id))


def _status(shop, note: str | None = None):
    view = shop_sync_view(shop.authorization_id, period_minutes=current_app.config["ORDERS_SYNC_MINUTES"])
    return render_template("jobs/_sync_status.html", sync=view, shop_id=shop.id, note=note,
                           job_status=job_status)
