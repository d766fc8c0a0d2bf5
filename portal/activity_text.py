"""The audit trail in words: one sentence per event, in the user's language, keyed by action code.

The Activity page, its action filter and the activity CSV read their texts here. Events store short
code-like details ("role=member", "bulk: 2 shops assigned", "GET /shops/7"); `describe` turns the known
ones into words and never shows an unknown detail raw in the sentence (codes stay in the CSV columns).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import get_locale, ngettext

from .amazon.marketplaces import REGIONS, display_name
from .amazon.outcomes import marketplace_list
from .models import AuditEvent
from .texts import N_, fast_gettext, fast_ngettext, join_list

# The action filter, grouped by area; every code of audit.ACTIONS is in exactly one area.
ACTION_AREAS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (N_("Sign-in"), (
        ("auth.login", N_("Sign-in")), ("auth.logout", N_("Sign-out")),
        ("auth.password_changed", N_("Password changed")),
        ("auth.password_change_failed", N_("Password change refused")),
        ("auth.throttled", N_("Too many attempts")))),
    (N_("Shops"), (
        ("shop.created", N_("Shop added")), ("shop.updated", N_("Shop changed")),
        ("shop.deleted", N_("Shop deleted")), ("shop.token_replaced", N_("Authorization replaced")),
        ("shop.assignments_changed", N_("Shop staff changed")), ("shop.verified", N_("Shop verified")))),
    (N_("Amazon"), (
        ("amazon.authorize_started", N_("Authorization with Amazon started")),
        ("amazon.authorize_completed", N_("Authorization with Amazon completed")),
        ("amazon.authorize_refused", N_("Authorization with Amazon refused")))),
    (N_("Other shops"), (
        ("store.created", N_("Other shop added")), ("store.updated", N_("Other shop changed")),
        ("store.deleted", N_("Other shop deleted")), ("store.assignments_changed", N_("Other shop staff changed")),
        ("order.created", N_("Order added")), ("order.updated", N_("Order changed")),
        ("order.deleted", N_("Order deleted")))),
    (N_("Notifications"), (
        ("channel.created", N_("Channel added")), ("channel.updated", N_("Channel changed")),
        ("channel.deleted", N_("Channel deleted")), ("channel.tested", N_("Channel tested")))),
    (N_("Users"), (
        ("user.created", N_("User added")), ("user.role_changed", N_("Role changed")),
        ("user.deactivated", N_("User deactivated")), ("user.reactivated", N_("User reactivated")),
        ("user.password_reset", N_("Temporary password set")))),
    (N_("Security"), (
        ("access.denied", N_("Page not found or out of reach")), ("access.forbidden", N_("Permission refused")),
        ("security.csrf_failed", N_("Form refused")), ("security.cross_site", N_("Request from another site")),
        ("keys.rotated", N_("Encryption keys rotated")))),
)
ACTION_LABELS = {code: label for _area, actions in ACTION_AREAS for code, label in actions}

OUTCOME_LABELS = {"success": N_("Succeeded"), "denied": N_("Denied"), "failure": N_("Unsuccessful")}

# One sentence per action; %(who)s is the user, %(what)s the shop, store, user or order it was done to.
SENTENCES = {
    "auth.login": N_("%(who)s signed in."),
    "auth.logout": N_("%(who)s signed out."),
    "auth.password_changed": N_("%(who)s changed their password."),
    "auth.password_change_failed": N_("%(who)s tried to change their password; the current password was wrong."),
    "auth.throttled": N_("Too many attempts by %(who)s: the portal paused them for a few minutes."),
    "access.denied": N_("%(who)s asked for a page that does not exist or is out of their reach."),
    "access.forbidden": N_("%(who)s tried something they have no permission for."),
    "security.csrf_failed": N_("A form sent by %(who)s was refused: it had expired or did not come from the portal."),
    "security.cross_site": N_("A request from another website on behalf of %(who)s was refused."),
    "user.created": N_("%(who)s added the user %(what)s."),
    "user.role_changed": N_("%(who)s changed the role of %(what)s."),
    "user.deactivated": N_("%(who)s deactivated the user %(what)s."),
    "user.reactivated": N_("%(who)s reactivated the user %(what)s."),
    "user.password_reset": N_("%(who)s set a temporary password for %(what)s."),
    "shop.created": N_("%(who)s added the shop “%(what)s”."),
    "shop.updated": N_("%(who)s changed the shop “%(what)s”."),
    "shop.deleted": N_("%(who)s deleted the shop “%(what)s”."),
    "shop.token_replaced": N_("%(who)s replaced the authorization of the shop “%(what)s”."),
    "shop.assignments_changed": N_("%(who)s changed the staff of the shop “%(what)s”."),
    "shop.verified": N_("%(who)s verified the shop “%(what)s” with Amazon."),
    "store.created": N_("%(who)s added the other shop “%(what)s”."),
    "store.updated": N_("%(who)s changed the other shop “%(what)s”."),
    "store.deleted": N_("%(who)s deleted the other shop “%(what)s” and its orders."),
    "store.assignments_changed": N_("%(who)s changed the staff of the other shop “%(what)s”."),
    "order.created": N_("%(who)s added the order %(what)s."),
    "order.updated": N_("%(who)s changed the order %(what)s."),
    "order.deleted": N_("%(who)s deleted the order %(what)s."),
    "keys.rotated": N_("%(who)s re-encrypted the stored authorizations with the newest key."),
    "amazon.authorize_started": N_("%(who)s started an authorization with Amazon."),
    "amazon.authorize_completed": N_("%(who)s completed an authorization with Amazon."),
    "amazon.authorize_refused": N_("An authorization with Amazon by %(who)s did not go through."),
    "channel.created": N_("%(who)s added the notification channel “%(what)s”."),
    "channel.updated": N_("%(who)s changed the notification channel “%(what)s”."),
    "channel.deleted": N_("%(who)s deleted the notification channel “%(what)s”."),
    "channel.tested": N_("%(who)s sent a test message to the notification channel “%(what)s”."),
}
# Sentences that read differently in special cases.
FIRST_ADMIN = N_("%(who)s set up the portal and became its first admin.")
ROLE_SET = N_("%(who)s changed the role of %(what)s to %(role)s.")
USER_ADDED_AS = N_("%(who)s added the user %(what)s as %(role)s.")
FAILED_LOGIN = N_("Failed sign-in as %(who)s.")
VERIFY_FAILED = N_("%(who)s verified the shop “%(what)s” with Amazon: the check failed.")
BULK_ASSIGNED = ("%(who)s assigned %(num)d shop to %(what)s.", "%(who)s assigned %(num)d shops to %(what)s.")
SHOPS_OF_USER = ("%(who)s set the shops of %(what)s: %(num)d shop.", "%(who)s set the shops of %(what)s: %(num)d shops.")
START_NEW = N_("%(who)s started binding a new shop with Amazon.")
START_AGAIN = N_("%(who)s started re-authorizing the shop “%(what)s” with Amazon.")
COMPLETED_NEW = N_("%(who)s bound the new shop “%(what)s” through Amazon.")
COMPLETED_AGAIN = N_("%(who)s re-authorized the shop “%(what)s” through Amazon.")
UNKNOWN = N_("%(who)s: %(action)s.")

ROLE_NAMES = {"admin": N_("Admin"), "member": N_("Member")}
# Short words for the answers of a Verify (amazon/client.py codes).
VERIFY_CODES = {
    "invalid_grant": N_("Amazon refused the authorization"),
    "invalid_client": N_("Amazon refused the portal's application credentials"),
    "forbidden": N_("Amazon denied access"), "not_participating": N_("the seller does not sell in some countries"),
    "throttled": N_("Amazon asked to wait"), "unavailable": N_("Amazon could not be reached"),
    "bad_response": N_("Amazon answered unexpectedly"), "not_configured": N_("the portal is not connected to Amazon"),
    "bad_request": N_("Amazon rejected the check as invalid"), "secret_expired": N_("the portal's secret has expired"),
    "refused": N_("Amazon refused the request"),
}
REFUSALS = (  # amazon.authorize_refused details (shops/authorize.py), by how they start
    ("state", N_("The authorization had expired, was already used or was not started here.")),
    ("no code", N_("Amazon did not authorize the app.")),
    ("exchange", N_("Amazon did not accept the authorization code.")),
    ("other seller", N_("Seller Central was signed in with another seller account.")),
    ("shared with hidden shops", N_("The authorization is also used by shops the user cannot see.")),
    ("log-in URI", N_("The link did not come from Seller Central.")),
)
_WITH_PATH = {"access.denied", "access.forbidden", "security.cross_site", "auth.throttled"}  # detail "GET /path"
_USER_TYPES = {"user", "user_account"}  # audit.event_values names a User target "user"
_PAIR = re.compile(r"([a-z_]+)=(\S+)")
_SHARED = re.compile(r"shared with (\d+) other shops")


@dataclass(frozen=True)
class ActivityLine:
    """One event of the Activity page: the sentence, its details in words, the outcome badge."""

    event: AuditEvent
    sentence: str
    details: str
    outcome_label: str
    path: str
    address: str


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    return fast_gettext(label) if label else code


def outcome_label(outcome: str) -> str:
    label = OUTCOME_LABELS.get(outcome)
    return fast_gettext(label) if label else outcome


def action_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The action filter's options, grouped by area, translated."""
    return [(fast_gettext(area), [(code, fast_gettext(label)) for code, label in actions])
            for area, actions in ACTION_AREAS]


def user_ids_named(events) -> set[int]:
    """The user ids whose current names `describe` needs (the actors, users acted on, staff lists)."""
    ids = set()
    for event in events:
        if event.user_id:
            ids.add(event.user_id)
        if event.object_type in _USER_TYPES and event.object_id:
            ids.add(event.object_id)
        if event.detail and event.detail.startswith("users="):
            ids.update(int(i) for i in event.detail[6:].split(",") if i.isdigit())
    return ids


def describe(event: AuditEvent, names: dict[int, str]) -> ActivityLine:
    """The event in words; `names` maps user ids to display names (see user_ids_named)."""
    who = _who(event, names)
    what = _what(event, names)
    sentence, details = _sentence(event, who, what, names)
    path = event.detail.split(" ", 1)[1] if event.action in _WITH_PATH and event.detail and " /" in event.detail else ""
    address = fast_gettext(N_("command line")) if event.ip == "cli" else event.ip or ""
    return ActivityLine(event=event, sentence=sentence, details=details, outcome_label=outcome_label(event.outcome),
                        path=path, address=address)


def _who(event, names) -> str:
    if event.user_id and event.user_id in names:
        return names[event.user_id]
    if event.user_label == "cli" or (not event.user_label and event.ip == "cli"):
        return fast_gettext(N_("The command line"))
    return event.user_label or fast_gettext(N_("Someone"))


def _what(event, names) -> str:
    if event.object_type in _USER_TYPES and event.object_id in names:
        return names[event.object_id]
    if event.object_label:
        return event.object_label
    return f"#{event.object_id}" if event.object_id else ""


def _sentence(event, who: str, what: str, names) -> tuple[str, str]:
    detail = event.detail or ""
    pairs = dict(_PAIR.findall(detail))
    values = {"who": who, "what": what, "action": event.action}
    special = _special(event, detail, pairs, values)
    if isinstance(special, tuple):
        text = fast_ngettext(special[0], special[1], values["num"])
    else:
        text = fast_gettext(special or SENTENCES.get(event.action, UNKNOWN))
    return text % values, _details(event, detail, pairs, names)


def _special(event, detail, pairs, values):
    """A sentence other than the action's usual one, or None."""
    action = event.action
    if action == "auth.login" and event.outcome != "success":
        return FAILED_LOGIN
    if action in {"user.created", "user.role_changed"}:
        if detail.startswith("first admin"):
            return FIRST_ADMIN
        if pairs.get("role") in ROLE_NAMES:
            values["role"] = fast_gettext(ROLE_NAMES[pairs["role"]])
            return USER_ADDED_AS if action == "user.created" else ROLE_SET
    if action == "shop.verified" and event.outcome != "success":
        return VERIFY_FAILED
    if action == "shop.assignments_changed" and event.object_type in _USER_TYPES:
        match = re.match(r"bulk: (\d+) shops assigned", detail)
        if match:
            values["num"] = int(match.group(1))
            return BULK_ASSIGNED
        if detail.startswith("shops="):
            values["num"] = len([i for i in detail[6:].split(",") if i.isdigit()])
            return SHOPS_OF_USER
    if action == "amazon.authorize_started":
        return START_AGAIN if pairs.get("purpose") == "reauthorize" else START_NEW
    if action == "amazon.authorize_completed":
        return COMPLETED_NEW if detail.startswith("new shop") else COMPLETED_AGAIN
    return None


def _details(event, detail: str, pairs: dict, names) -> str:
    """The known parts of the event's detail, in words ("" for none or unknown ones)."""
    parts = []
    if "seller" in pairs and event.action in {"shop.created", "amazon.authorize_completed"}:
        parts.append(fast_gettext(N_("Seller ID %(seller)s")) % {"seller": pairs["seller"]})
    if pairs.get("region") in REGIONS:
        parts.append(display_name(REGIONS[pairs["region"]], get_locale()))
    if pairs.get("via") == "amazon" or "through Amazon" in detail or "from Amazon" in detail:
        parts.append(fast_gettext(N_("through Amazon")))
    if pairs.get("via") == "seller-central":
        parts.append(fast_gettext(N_("started in Seller Central")))
    if "marketplaces" in pairs:
        parts.append(fast_gettext(N_("Countries: %(countries)s"))
                     % {"countries": marketplace_list(pairs["marketplaces"].split(","), get_locale())})
    shared = _SHARED.search(detail)
    if shared and int(shared.group(1)):
        num = int(shared.group(1))
        parts.append(fast_ngettext("also used by %(num)d other shop", "also used by %(num)d other shops", num)
                     % {"num": num})
    if detail.startswith("users="):
        staff = [names.get(int(i), f"#{i}") for i in detail[6:].split(",") if i.isdigit()]
        parts.append(fast_gettext(N_("Staff: %(names)s")) % {"names": join_list(staff)} if staff
                     else fast_gettext(N_("Staff: nobody")))
    if event.action == "shop.verified" and detail in VERIFY_CODES and event.outcome != "success":
        parts.append(fast_gettext(VERIFY_CODES[detail]))
    if event.action == "keys.rotated" and "rotated" in pairs:
        parts.append(fast_gettext(N_("%(rotated)s re-encrypted, %(current)s already current, %(unreadable)s "
                                     "unreadable")) % {key: pairs.get(key, "0")
                                                       for key in ("rotated", "current", "unreadable")})
    if event.action == "amazon.authorize_refused":
        parts.extend(fast_gettext(text) for start, text in REFUSALS if detail.startswith(start))
    if "command line" in detail:
        parts.append(fast_gettext(N_("from the command line")))
    return join_list(parts)


# Extraction markers: the plural sentences are looked up at run time by _sentence and _details.
def _messages_for_extraction():  # pragma: no cover
    ngettext("%(who)s assigned %(num)d shop to %(what)s.", "%(who)s assigned %(num)d shops to %(what)s.", 1)
    ngettext("%(who)s set the shops of %(what)s: %(num)d shop.", "%(who)s set the shops of %(what)s: %(num)d shops.", 1)
    ngettext("also used by %(num)d other shop", "also used by %(num)d other shops", 1)
