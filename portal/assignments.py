"""Who works on what: one assignment service for Amazon shops and other stores alike."""
from sqlalchemy import delete, select

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


def bulk_change(target_cls, assignment_fk, user: User, ids: set[int], *, add: bool) -> list[int]:
    """Assign `user` to (add) or remove them from those of the `target_cls` rows `ids` (shops or stores)
    that belong to the user's company; `assignment_fk` is the assignment's column pointing at them (e.g.
    ShopAssignment.shop_id). Returns the ids that changed, in order."""
    assignment_cls = assignment_fk.class_
    valid = select(target_cls.id).where(target_cls.company_id == user.company_id, target_cls.id.in_(ids))
    current = set(db.session.scalars(select(assignment_fk).where(assignment_cls.user_id == user.id,
                                                                 assignment_fk.in_(valid))))
    changed = sorted(set(db.session.scalars(valid)) - current if add else current)
    if add:
        db.session.add_all(assignment_cls(user_id=user.id, **{assignment_fk.key: target_id}) for target_id in changed)
    elif changed:
        db.session.execute(delete(assignment_cls).where(assignment_cls.user_id == user.id,
                                                        assignment_fk.in_(changed)))
    db.session.flush()
    return changed
