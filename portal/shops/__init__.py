from flask import Blueprint

bp = Blueprint("shops", __name__)

from . import routes, staff  # noqa: E402,F401
