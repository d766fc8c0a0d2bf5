"""The Alerts page (提醒): the open alerts of the user's shops, and marking them seen."""
from flask import Blueprint

bp = Blueprint("inbox", __name__)

from . import routes  # noqa: E402,F401
