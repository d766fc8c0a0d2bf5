"""The Notifications page (admins): where the company's alerts go, and a Send test per channel."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..access import admin_required, company_channels, get_company_channel_or_404
from ..audit import record
from ..extensions import db
from ..forms import ConfirmForm, FormError, show_error
from ..htmx import is_htmx, render_block, render_page
from ..throttle import take_slot
from ..views import finish
from . import bp
from .forms import LANGUAGE_LABELS, WEBHOOK_KINDS, ChannelForm, LanguageForm
from .queries import channel_rows
from .rows import channel_row
from .services import NAME_TAKEN, delete_channel, prepare_test, save_channel, set_alert_language, set_enabled
from .services import send_test as run_test

LABEL_KINDS = (*WEBHOOK_KINDS, "email")


def _detail(channel) -> str:
    """What the audit keeps about a channel: never its URL, secret or recipients."""
    return (f"kind={channel.kind} events={len(channel.event_kinds())} digest={int(channel.digest)} "
            f"enabled={int(channel.enabled)} signed={int(bool(channel.has_secret))}")


def _row(channel, error: str | None = None, *, commit: bool = False):
    """The channel's row for htmx (rendered before the commit); else back to the page."""
    body = render_template("notifications/_row.html", row=channel_row(channel), row_error=error) if is_htmx() else None
    if commit:
        db.session.commit()
    if body is None:
        if error:
            flash(error, "error")
        return redirect(url_for("notifications.index"), 303)
    return body


def _dialog(form, channel):
    return render_page("notifications/form.html", "dialog", form=form, channel=channel, nav="notifications",
                       smtp_ready=bool(current_app.config.get("SMTP_HOST")), webhook_kinds=WEBHOOK_KINDS)


@bp.route("/notifications")
@admin_required
def index():
    language = LanguageForm(language=current_user.company.alert_language)
    return render_page("notifications/index.html", "results", rows=channel_rows(company_channels(current_user)),
                       language_form=language, nav="notifications")


@bp.route("/notifications/new", methods=["GET", "POST"], endpoint="new")
@bp.route("/notifications/<int:channel_id>/edit", methods=["GET", "POST"], endpoint="edit")
@admin_required
def save_channel_view(channel_id: int | None = None):
    """Add (no id) or edit a channel: validate, save, audit, commit; or the form with its errors."""
    channel = get_company_channel_or_404(current_user, channel_id) if channel_id else None
    form = ChannelForm(channel=channel)
    if form.validate_on_submit():
        try:
            saved = save_channel(current_user, channel, **form.values())
            db.session.flush()
        except (FormError, IntegrityError) as error:
            db.session.rollback()
            channel = get_company_channel_or_404(current_user, channel_id) if channel_id else None
            form.channel = channel
            show_error(form, error if isinstance(error, FormError) else FormError(NAME_TAKEN), "name")
        else:
            record("channel.updated" if channel else "channel.created", target=saved, object_type="alert_channel",
                   detail=_detail(saved))
            return finish(_("Channel “%(name)s” saved.", name=saved.name), url_for("notifications.index"))
    return _dialog(form, channel)


@bp.route("/notifications/form-fields")
@admin_required
def form_fields():
    """The platform's own fields of the New channel dialog (the platform select swaps them in place)."""
    form = ChannelForm(formdata=None)
    form.kind.data = request.args.get("kind") if request.args.get("kind") in LABEL_KINDS else "dingtalk"
    return render_block("notifications/form.html", "platform_fields", form=form, channel=None,
                        smtp_ready=bool(current_app.config.get("SMTP_HOST")), webhook_kinds=WEBHOOK_KINDS)


@bp.route("/notifications/<int:channel_id>/delete", methods=["POST"])
@admin_required
def delete(channel_id: int):
    channel = get_company_channel_or_404(current_user, channel_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    message = _("Channel “%(name)s” deleted.", name=channel.name)
    record("channel.deleted", target=channel, object_type="alert_channel", detail=f"kind={channel.kind}")
    delete_channel(channel)
    return finish(message, url_for("notifications.index"))


@bp.route("/notifications/<int:channel_id>/toggle", methods=["POST"])
@admin_required
def toggle(channel_id: int):
    channel = get_company_channel_or_404(current_user, channel_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    set_enabled(channel, not channel.enabled)
    record("channel.updated", target=channel, object_type="alert_channel", detail=_detail(channel))
    return _row(channel, commit=True)


@bp.route("/notifications/<int:channel_id>/test", methods=["POST"])
@admin_required
def send_test(channel_id: int):
    """Send the test message now and show the platform's answer in the row (at most once per
    ALERTS_TEST_SECONDS per channel; the slot is taken before anything is sent)."""
    channel = get_company_channel_or_404(current_user, channel_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    prepared = prepare_test(channel, current_user.company.alert_language)
    seconds = max(int(current_app.config.get("ALERTS_TEST_SECONDS") or 10), 1)
    if not take_slot(f"alert-test:{channel.id}", f"1 per {seconds} seconds"):  # commits: no lock held while sending
        return _row(channel, _("A test was just sent. Wait %(num)d seconds before the next one.", num=seconds))
    result = run_test(channel, prepared)
    record("channel.tested", target=channel, object_type="alert_channel", outcome="success" if result.ok else "failure",
           detail=f"kind={channel.kind} code={result.platform_code} result={result.detail}")
    return _row(channel, commit=True)


@bp.route("/notifications/language", methods=["POST"])
@admin_required
def language():
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    set_alert_language(current_user.company, form.language.data)
    return finish(_("Alerts will be written in %(language)s.", language=LANGUAGE_LABELS[form.language.data]),
                  url_for("notifications.index"))
