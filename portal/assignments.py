"""Who works on what: one assignment service for Amazon shops and other stores alike."""
from sqlalchemy import select

from .extensions import db
from .models import User


def company_staff(company_id: int):
    """Active users of the company, who can be assigned shops and stores."""
    return select(User).where(User.company_id == company_id, User.active.is_(True)).order_by(User.sort_name, User.id)


def set_assignees(target, assignment_cls, *, selected: set[int], shown: set[int]) -> None:
    """Among the users shown on the form, assign the ticked ones to `target` and unassign the others.
    Ids of users outside the target's company are ignored."""
    valid = set(db.session.scalars(select(User.id).where(User.company_id == target.company_id,
                                                         User.id.in_(shown))))
    current = {a.user_id for a in target.assignments}
    for user_id in (selected & valid) - current:
        target.assignments.append(assignment_cls(user_id=user_id))
    for assignment in [a for a in target.assignments if a.user_id in (valid - selected)]:
        target.assignments.remove(assignment)
    db.session.flush()
