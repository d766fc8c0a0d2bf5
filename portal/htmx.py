"""HTMX helpers: one template per page, the named block alone for HTMX requests."""
from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue


def is_htmx() -> bool:
    """True for requests made by htmx (never used for authorization, only for what to render)."""
    return request.headers.get("HX-Request") == "true"


def is_history_restore() -> bool:
    return request.headers.get("HX-History-Restore-Request") == "true"


def render_block(template_name: str, block_name: str, **context) -> str:
    """Render one named block of a template with the normal Flask template context.

    Only the block runs: macros it uses must be imported inside the block, not at the top."""
    app = current_app._get_current_object()
    template = app.jinja_env.get_template(template_name)
    app.update_template_context(context)
    ctx = template.new_context(context)
    return "".join(template.blocks[block_name](ctx))


def render_page(template_name: str, block: str | None = None, **context) -> str:
    """The whole page, or only `block` when htmx asked for a part of it."""
    if block and is_htmx() and not is_history_restore():
        return render_block(template_name, block, **context)
    return render_template(template_name, **context)


def hx_redirect(location: str, status: int = 200) -> ResponseReturnValue:
    """Navigate the whole page: htmx follows HX-Redirect, a plain browser the Location."""
    if is_htmx():
        return "", status, {"HX-Redirect": location}
    return "", 303, {"Location": location}
