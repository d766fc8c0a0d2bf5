"""Account services: plain arguments in, model objects out; they flush, the caller commits."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .forms import FormError
from .models import ROLE_ADMIN, ROLES, Company, User, count_users, utcnow
from .passwords import check_password, hash_password, needs_rehash, password_problems


class AccountError(FormError):
    """An account rule refused the request (see FormError: a message and the form field it belongs to)."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def _check_new_password(password: str, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise AccountError(problems[0], field="password")


# Emails are unique across the whole portal (one address signs in to one account, never ambiguously).
# The refusal is the same whether the address is used in the admin's own company or another one, and
# does not say where: it leaks nothing but "this address cannot be used".
EMAIL_TAKEN = _l("This email address cannot be used for a new account. Use another address.")
# Any constant: the PostgreSQL advisory lock that serializes the first set-up.
_SETUP_LOCK = 0x5E7C0


def _lock_setup() -> None:
    """Only one first set-up at a time: parallel requests all saw zero users under READ COMMITTED.
    SQLite's BEGIN IMMEDIATE (every writing request) already serializes them."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETUP_LOCK})


def lock_company(company_id: int) -> None:
    """Lock the company's row until commit (SELECT … FOR UPDATE on PostgreSQL; on SQLite the writing
    request holds the database's write lock already): admin counts read after it cannot go stale."""
    db.session.execute(select(Company.id).where(Company.id == company_id).with_for_update())


def create_company_with_admin(*, company_name: str, display_name: str, email: str, password: str) -> User:
    """First run: the company and its first admin. Refused once any account exists."""
    _lock_setup()
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
        raise AccountError(EMAIL_TAKEN, field="email")
    user = User(company=company, display_name=display_name.strip(), email=email, role=role,
                password_hash=hash_password(password), must_change_password=must_change_password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same address added at the same moment elsewhere; the caller rolls back
        raise AccountError(EMAIL_TAKEN, field="email") from None
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


def _locked(user: User) -> None:
    """Lock the user's company, then reload the user: decisions below use the latest committed state."""
    lock_company(user.company_id)
    db.session.refresh(user)


def set_role(user: User, role: str) -> None:
    """Two admins demoting each other at the same moment: the company row lock makes the second wait
    and then count one admin, so the company never ends up without an active admin."""
    if role not in ROLES:
        raise AccountError(_l("Unknown role."), field="role")
    _locked(user)
    if user.role == ROLE_ADMIN and role != ROLE_ADMIN and user.active and _active_admin_count(user.company_id) <= 1:
        raise AccountError(_l("This is the last active admin of the company: make someone else an admin first."))
    user.role = role  # takes effect on the user's next request: the user is reloaded each time


def set_active(user: User, active: bool) -> None:
    _locked(user)
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


def repair_company_admin(company_id: int, *, email: str, display_name: str | None = None,
                         password: str | None = None) -> tuple[User, bool]:
    """Give a company an active admin again (CLI repair path, works when users exist): promote and
    reactivate the company's user with this email, or — with a name and password — add a new admin.
    Returns (user, created)."""
    lock_company(company_id)
    company = db.session.get(Company, company_id)
    if company is None:
        raise AccountError(f"No company with id {company_id}.")
    email = normalize_email(email)
    user = find_user_by_email(email)
    if user is not None:
        if user.company_id != company_id:
            raise AccountError(EMAIL_TAKEN, field="email")
        user.role = ROLE_ADMIN
        if not user.active:
            user.active = True
            end_sessions(user)
        db.session.flush()
        return user, False
    if not display_name or not password:
        raise AccountError("No user with this email in the company: give --name and a password to add one.")
    return add_user(company, display_name=display_name, email=email, password=password, role=ROLE_ADMIN,
                    must_change_password=True), True


def set_mention_ids(user: User, *, mobile: str | None, platform_user_id: str | None) -> None:
    """The user's ids for @-mentions in alerts (empty: none)."""
    user.alert_mobile = mobile or None
    user.alert_user_id = platform_user_id or None
    db.session.flush()
