"""Account services: plain arguments in, model objects out; they flush, the caller commits."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import ROLE_ADMIN, ROLES, Company, User, count_users, utcnow
from .passwords import check_password, hash_password, needs_rehash, password_problems


class AccountError(ValueError):
    """A request the rules refuse; str(error) is a message for the user."""

    def __init__(self, message, field: str | None = None):
        # str(): a lazy string renders as markup (it has __html__), and messages may carry user text.
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def _check_new_password(password: str, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise AccountError(problems[0], field="password")


def create_company_with_admin(*, company_name: str, display_name: str, email: str, password: str) -> User:
    """First run: the company and its first admin. Refused once any account exists."""
    if count_users() > 0:
        raise AccountError(_l("The portal is already set up."))
    company = Company(name=company_name.strip())
    db.session.add(company)
    return add_user(company, display_name=display_name, email=email, password=password,
                    role=ROLE_ADMIN, must_change_password=False)


def add_user(company: Company, *, display_name: str, email: str, password: str, role: str,
             must_change_password: bool = True) -> User:
    email = normalize_email(email)
    if role not in ROLES:
        raise AccountError(_l("Unknown role."), field="role")
    _check_new_password(password, email)
    if find_user_by_email(email) is not None:
        raise AccountError(_l("An account with this email already exists."), field="email")
    user = User(company=company, display_name=display_name.strip(), email=email, role=role,
                password_hash=hash_password(password), must_change_password=must_change_password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None (same cost either way)."""
    user = find_user_by_email(email)
    valid = check_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def change_password(user: User, *, current: str, new: str) -> None:
    if not check_password(user.password_hash, current):
        raise AccountError(_l("The current password is not correct."), field="current_password")
    if current == new:
        raise AccountError(_l("Choose a password different from the current one."), field="new_password")
    try:
        _check_new_password(new, user.email)
    except AccountError as error:
        raise AccountError(error.message, field="new_password") from None
    user.password_hash = hash_password(new)
    user.must_change_password = False
    end_sessions(user)


def end_sessions(user: User) -> None:
    """Invalidate every session of this user: the session id embeds session_version."""
    user.session_version = (user.session_version or 0) + 1


def _active_admin_count(company_id: int) -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.company_id == company_id, User.role == ROLE_ADMIN,
                                          User.active.is_(True))
    ) or 0


def set_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise AccountError(_l("Unknown role."), field="role")
    if user.role == ROLE_ADMIN and role != ROLE_ADMIN and user.active and _active_admin_count(user.company_id) <= 1:
        raise AccountError(_l("This is the last active admin of the company: make someone else an admin first."))
    user.role = role  # takes effect on the user's next request: the user is reloaded each time


def set_active(user: User, active: bool) -> None:
    if not active and user.active and user.is_admin and _active_admin_count(user.company_id) <= 1:
        raise AccountError(_l("This is the last active admin of the company: it cannot be deactivated."))
    if user.active != active:
        user.active = active
        end_sessions(user)


def reset_password(user: User, temporary_password: str) -> None:
    """Admin sets a temporary password; the user must change it at the next sign-in."""
    _check_new_password(temporary_password, user.email)
    user.password_hash = hash_password(temporary_password)
    user.must_change_password = True
    end_sessions(user)
