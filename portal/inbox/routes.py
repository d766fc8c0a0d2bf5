"""The Alerts page: the open alerts of the user's shops (tabs: unseen, all open, closed recently), and
marking them seen. The header's count (portal/__init__.py) counts the same unseen alerts."""
from flask import abort, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from ..access import get_visible_alert_or_404
from ..alerts.inbox import open_alert_count
from ..extensions import db
from ..htmx import is_htmx, render_page
from ..models import AlertEvent, utcnow
from ..views import finish
from . import bp
from .forms import SHOWS, SeenForm, parse_show
from .queries import CLOSED_DAYS, alerts_page
from .rows import RowBuilder
from .services import mark_all_seen, mark_seen


@bp.route("/alerts")
@login_required
def index():
    show, now = parse_show(request.args.get("show")), utcnow()
    page = alerts_page(current_user, show, request.args.get("page"), now)
    build = RowBuilder(show, page.number, now)
    return render_page("inbox/index.html", "results", page=page, rows=[build(*item) for item in page.items],
                       texts=build.texts, show=show, shows=SHOWS, closed_days=CLOSED_DAYS, nav="alerts")


@bp.route("/alerts/<int:event_id>/seen", methods=["POST"])
@login_required
def mark_seen_view(event_id: int):
    event = get_visible_alert_or_404(current_user, event_id, joinedload(AlertEvent.shop))
    form = SeenForm()
    if not form.validate_on_submit():
        abort(400)
    mark_seen(current_user, event)
    if not is_htmx():
        db.session.commit()
        return redirect(url_for("inbox.index", **form.back_to()), 303)
    back = form.back_to()
    build = RowBuilder(back["show"], back.get("page", 1), utcnow())
    body = render_template("inbox/_seen.html", row=build(event, True), texts=build.texts,
                           count=open_alert_count(current_user))
    db.session.commit()
    return body


@bp.route("/alerts/seen", methods=["POST"])
@login_required
def mark_all_seen_view():
    form = SeenForm()
    if not form.validate_on_submit():
        abort(400)
    marked = mark_all_seen(current_user)
    message = ngettext("%(num)d alert marked seen.", "%(num)d alerts marked seen.", marked) if marked \
        else _("There was no unseen alert to mark.")
    return finish(message, url_for("inbox.index", show=form.back_to()["show"]))
