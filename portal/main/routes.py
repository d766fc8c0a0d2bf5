from flask import current_app, redirect, request, url_for
from flask_login import current_user, login_required

from ..queue import health as queue_health
from ..urls import safe_next
from . import bp

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


@bp.route("/")
@login_required
def index():
    return redirect(url_for("shops.shop_list" if current_user.is_admin else "shops.my_shops"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Remember the chosen language in a cookie and go back to the page the switch was on."""
    lang = request.form.get("lang", "")
    back = safe_next(request.form.get("next")) or url_for("main.index")
    response = redirect(back, 303)
    if lang in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", lang, max_age=LANG_COOKIE_MAX_AGE, samesite="Lax",
                            secure=current_app.config["PORTAL_HTTPS"], httponly=True)
    return response


@bp.route("/healthz")
def health():
    """No sign-in, no data: whether the database and the job queue answer, and the age of the last
    consumer heartbeat; 503 when the consumers have been silent for longer than two sync periods."""
    body, healthy = queue_health()
    return body, 200 if healthy else 503, {"Cache-Control": "no-store"}
