"""The benchmark's peer: a generic Flask-Admin ModelView list of the same shop table.

What a team might pick instead of the portal's Shop list: Flask-Admin 2.2.1 over the portal's own
models (portal.models, via portal.extensions.db) and the same database, 50 rows per page, sorted by
name like the Shop list, showing similar columns. It has no sign-in, no per-company scope and no
staff column, so it does less work per request than the portal page; that is the point of the
comparison (the target is the portal ≥ 1.5× its requests/s).

Served by gunicorn with the same settings as the portal: `gunicorn ... bench.peer_admin:app`, with
DATABASE_URL and SECRET_KEY in the environment (BENCH_ADMIN_PAGE_SIZE overrides the page size).
"""
from __future__ import annotations

import os

from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_babel import Babel

from portal.extensions import db
from portal.models import Shop

LIST_URL = "/admin/shops/"


class ShopAdmin(ModelView):
    can_view_details = False
    column_list = ("name", "authorization.region", "authorization.seller_id", "mode", "check_status",
                   "authorization.authorized_at", "checked_at", "created_at")
    column_labels = {"authorization.region": "Region", "authorization.seller_id": "Seller ID",
                     "authorization.authorized_at": "Authorized"}
    column_default_sort = ("name_key", False)
    column_searchable_list = ("name_key",)


def create_app(database_url: str | None = None, page_size: int | None = None, secret_key: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url or os.environ["DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}  # as the portal's Config
    app.config["SECRET_KEY"] = secret_key or os.environ["SECRET_KEY"]
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from portal.database import configure_sqlite

        with app.app_context():  # same connection settings as the portal (WAL, busy timeout, ...)
            configure_sqlite(db.engine, 15000)
    # Flask-Admin's list view needs the babel extension when Flask-Babel is installed (KeyError: 'babel').
    Babel(app)
    admin = Admin(app, name="Peer admin")
    view = ShopAdmin(Shop, db.session, name="Shops", endpoint="shops")
    view.page_size = page_size or int(os.environ.get("BENCH_ADMIN_PAGE_SIZE", "50"))
    admin.add_view(view)
    return app


def _app_from_environment() -> Flask | None:
    if os.environ.get("DATABASE_URL") and os.environ.get("SECRET_KEY"):
        return create_app()
    return None


app = _app_from_environment()
