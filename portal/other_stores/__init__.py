from flask import Blueprint

bp = Blueprint("other_stores", __name__)

from . import routes  # noqa: E402,F401
