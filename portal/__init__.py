"""Shop Portal: the application factory."""
import logging
import os
from pathlib import Path

from flask import Flask, current_app, flash, g, has_request_context, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config

from . import errors, keys, security, templating
from .access import unauthorized
from .admin import bp as admin_bp
from .alerts.inbox import open_alert_count
from .amazon.client import warn_about_settings
from .amazon.marketplaces import display_name, marketplace_by_id
from .auth import bp as auth_bp
from .cli import register as register_cli
from .database import configure_engine, configure_sqlite
from .extensions import babel, csrf, db, login_manager, migrate
from .fields import parse_db_id
from .fields import register as register_id_converter
from .htmx import hx_redirect, is_history_restore, is_htmx
from .inbox import bp as inbox_bp
from .logging_safety import install as install_log_filters
from .main import bp as main_bp
from .models import User, count_users, utcnow
from .notifications import bp as notifications_bp
from .orders import bp as orders_bp
from .other_stores import bp as other_stores_bp
from .jobs import bp as jobs_bp
from . import queue as job_queue
from .shops import bp as shops_bp

BASE_DIR = Path(__file__).resolve().parent.parent

# Endpoints reachable before set-up, by anyone, and by a user who must change the password first.
OPEN_ENDPOINTS = {"static", "auth.setup", "main.set_language", "main.health"}
PASSWORD_CHANGE_ENDPOINTS = OPEN_ENDPOINTS | {"auth.change_password_view", "auth.logout", "auth.login"}


def create_app(config_class: type = Config) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(Path(config_class.INSTANCE_PATH).resolve()),
        template_folder=str(BASE_DIR / "templates"),
        static_folder="static",
    )
    app.config.from_object(config_class)
    _finish_config(app)
    # Browsers that ignore <link rel="icon"> ask for /favicon.ico: the static file, no 404.
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})
    register_id_converter(app)  # before any blueprint: every <int:…_id> is range-checked

    if app.config["PROXY_FIX_HOPS"] > 0:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    _configure_login()
    _configure_database(app)

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(shops_bp)
    app.register_blueprint(other_stores_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(notifications_bp)

    errors.register(app)
    security.register(app)
    templating.register(app)
    app.before_request(_enforce_session_rules)
    app.context_processor(_template_globals)
    app.context_processor(_alert_count)

    job_queue.init_app(app)
    register_cli(app)
    _configure_logging(app)
    warn_about_settings(app)
    return app


def _finish_config(app: Flask) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "portal.db")
    keys.resolve(app.config)
    https = app.config["PORTAL_HTTPS"]
    app.config["SESSION_COOKIE_SECURE"] = https
    app.config["REMEMBER_COOKIE_SECURE"] = https
    app.config["PREFERRED_URL_SCHEME"] = "https" if https else "http"


def _configure_database(app: Flask) -> None:
    with app.app_context():
        configure_engine(db.engine)
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _configure_login() -> None:
    login_manager.session_protection = None  # its fingerprint trusts X-Forwarded-For; we revoke server-side
    login_manager.unauthorized_handler(unauthorized)

    @login_manager.user_loader
    def load_user(session_id: str):
        user_id, _sep, version = session_id.partition(":")
        if parse_db_id(user_id) is None or parse_db_id(version) is None:
            return None
        user = db.session.get(User, parse_db_id(user_id))
        if user is None or not user.is_active or user.session_version != int(version):
            return None
        return user


def _select_locale() -> str:
    if not has_request_context():
        return "en"  # CLI output and logs

    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _enforce_session_rules():
    """Set-up gate, idle and absolute session timeouts, and the forced password change."""
    if request.routing_exception is not None:
        return None  # bad Host, unknown URL or method: let the error answer come through
    endpoint = request.endpoint or ""
    if not current_app.extensions.get("portal_set_up"):
        if count_users() == 0:
            if endpoint not in OPEN_ENDPOINTS:
                return hx_redirect(url_for("auth.setup"))
            return None
        current_app.extensions["portal_set_up"] = True

    if not current_user.is_authenticated or endpoint == "static":
        return None
    now = int(utcnow().timestamp())
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["SESSION_MAX_HOURS"] * 3600
    if now - session.get("seen_at", 0) > idle or now - session.get("auth_at", 0) > absolute:
        logout_user()
        session.clear()
        flash(_("Your session has ended. Please sign in again."), "info")
        return unauthorized()
    if now - session.get("seen_at", 0) > 60:  # avoid a new cookie on every request
        session["seen_at"] = now
    if current_user.must_change_password and endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        return hx_redirect(url_for("auth.change_password_view"))
    return None


HTMX_CONFIG = {
    "selfRequestsOnly": True,
    "allowScriptTags": False,
    "allowEval": False,
    "historyCacheSize": 0,
    "includeIndicatorStyles": False,
    "historyRestoreAsHxRequest": False,
    # Error answers carry a small message fragment (HX-Retarget to #messages): swap them too.
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "[45]..", "swap": True, "error": True},
    ],
}


def _template_globals() -> dict:
    locale = get_locale()
    return {"current_lang": locale.language if locale else "zh", "htmx_config": HTMX_CONFIG,
            "marketplace": marketplace_by_id, "now": utcnow,
            "place_name": lambda item: display_name(item, locale)}


def _alert_count() -> dict:
    """The header's count of unseen open alerts: one COUNT per full page of a signed-in user, none for
    htmx fragments (they never render the header) nor outside requests (mails, jobs)."""
    if not has_request_context() or (is_htmx() and not is_history_restore()) or not current_user.is_authenticated:
        return {}
    if "_portal_alert_count" not in g:
        try:
            g._portal_alert_count = open_alert_count(current_user)
        except SQLAlchemyError:  # e.g. the error page of a lost database: the page matters, not the badge
            db.session.rollback()
            g._portal_alert_count = 0
    return {"alert_count": g._portal_alert_count}


def _configure_logging(app: Flask) -> None:
    install_log_filters()
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    app.logger.setLevel(level)
