"""The words for an order's status and source, one list for every page, form and CSV (manual orders of
other shops and orders pulled from Amazon share them)."""
from .models import ORDER_SOURCE_AMAZON, ORDER_SOURCE_MANUAL
from .texts import N_, fast_gettext

# Order statuses of the portal (Amazon's own status is mapped onto them by the sync, see orders_sync.py).
STATUS_TEXTS = {"pending": N_("Pending"), "paid": N_("Paid"), "shipped": N_("Shipped"),
                "delivered": N_("Delivered"), "cancelled": N_("Cancelled"), "refunded": N_("Refunded")}
SOURCE_TEXTS = {ORDER_SOURCE_AMAZON: N_("Amazon"), ORDER_SOURCE_MANUAL: N_("Manual entry")}


def status_labels() -> dict[str, str]:
    """Status -> its text in the request's language."""
    return {key: fast_gettext(text) for key, text in STATUS_TEXTS.items()}


def source_label(source: str) -> str:
    """Where an order came from, in words ("Manual entry", "Amazon"); an unknown code as it is."""
    text = SOURCE_TEXTS.get(source)
    return fast_gettext(text) if text else source
