"""View helpers shared by the blueprints: finish a write, the assign-staff dialog."""
from flask import flash, redirect
from flask_login import current_user

from .assignments import company_staff
from .extensions import db
from .htmx import hx_redirect, render_page


def finish(message: str, location: str, category: str = "success", *, plain: bool = False):
    """Commit the request's unit of work, then flash `message` and navigate to `location`.

    Both are computed by the caller *before* this call: after the commit every loaded attribute is
    expired, and reading one would need the (maybe already broken) connection again. `plain`: the form
    posts without htmx, so the answer is always a 303."""
    db.session.commit()
    flash(message, category)
    return redirect(location, 303) if plain else hx_redirect(location)


def assign_dialog(target, *, title: str, intro: str, action: str, nav: str):
    """The dialog that ticks the company's active staff assigned to a shop or store."""
    members = list(db.session.scalars(company_staff(current_user.company_id)))
    return render_page("assign.html", "dialog", title=title, intro=intro, action=action, nav=nav, members=members,
                       assigned={a.user_id for a in target.assignments})
