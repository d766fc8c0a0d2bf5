"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
import sys

from portal import create_app
from portal.keys import KeyConfigError

try:
    app = create_app()
except KeyConfigError as error:
    sys.stderr.write(f"Shop Portal cannot start: {error}\n")
    raise SystemExit(2) from None
