"""One format for dates, times and amounts on every page, in both languages, in the portal's time zone."""
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import render_template_string
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.texts import ago, clock, csv_amount, day, minute, money, second

UTC = timezone.utc
MOMENT = datetime(2026, 12, 1, 7, 52, 30, tzinfo=UTC)  # 15:52:30 in Asia/Shanghai (the default zone)
LANGUAGES = ["zh", "en"]


def in_language(app, language, **kwargs):
    return app.test_request_context("/", headers={"Accept-Language": language}, **kwargs)


@pytest.mark.parametrize("language", LANGUAGES)
def test_dates_and_times_are_the_same_in_both_languages(app, language):
    with in_language(app, language):
        assert day(MOMENT) == "2026-12-01"
        assert minute(MOMENT) == "2026-12-01 15:52"
        assert second(MOMENT) == "2026-12-01 15:52:30"
        assert day(date(2026, 3, 5)) == "2026-03-05"  # a plain date (an order's date) stays as it is
        assert day(None) == minute(None) == second(None) == ""
        # The templates' filters, Flask-Babel's own names included (they used to say 2026年12月1日 / 12/1/26, 3:52 PM).
        page = render_template_string("{{ m|day }} {{ m|minute }} {{ m|dateformat }} {{ m|datetimeformat('short') }}",
                                      m=MOMENT)
        assert page == "2026-12-01 2026-12-01 15:52 2026-12-01 2026-12-01 15:52"


def test_dates_are_in_the_portals_time_zone(app, app_factory):
    late = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # already 1 December in Shanghai
    with app.test_request_context("/"):
        assert day(late) == "2026-12-01" and minute(late) == "2026-12-01 00:30"
        assert minute(late.replace(tzinfo=None)) == "2026-12-01 00:30"  # naive means UTC, never the server's zone
    new_york = app_factory(BABEL_DEFAULT_TIMEZONE="America/New_York")
    with new_york.test_request_context("/"):
        assert day(late) == "2026-11-30" and minute(MOMENT) == "2026-12-01 02:52"


@pytest.mark.parametrize("language", LANGUAGES)
def test_amounts_have_the_locales_grouping_and_the_currency_code(app, language):
    with in_language(app, language):
        assert money(Decimal("2479.50"), "TWD") == "2,479.50 TWD"
        assert money(Decimal("1234567.5"), "JPY") == "1,234,567.50 JPY"
        assert money(Decimal("0.3"), "EUR") == "0.30 EUR"
        assert money(Decimal("999.99")) == "999.99"
        assert render_template_string('{{ v|money("USD") }}', v=Decimal("12345.6")) == "12,345.60 USD"
    assert csv_amount(Decimal("2479.5")) == "2479.50"  # CSV: a plain number a spreadsheet can sum


@pytest.mark.parametrize("language,texts", [
    ("en", ["just now", "just now", "1 minute ago", "5 minutes ago", "1 hour ago", "3 days ago"]),
    ("zh", ["刚刚", "刚刚", "1 分钟前", "5 分钟前", "1 小时前", "3 天前"]),
])
def test_relative_times(app, language, texts):
    now = MOMENT
    with in_language(app, language):
        said = [ago(now - delta, now) for delta in (timedelta(0), timedelta(seconds=59), timedelta(seconds=60),
                                                    timedelta(minutes=5, seconds=10), timedelta(hours=1),
                                                    timedelta(days=3, hours=2))]
        assert said == texts
        assert ago(now + timedelta(seconds=5), now) == texts[0]  # a clock a little ahead: still "just now"
        assert ago(None, now) == ""


def test_clock_rounds_up_and_names_another_day(app):
    with app.test_request_context("/"):
        assert clock(MOMENT, MOMENT) == "15:53"  # 15:52:30: not possible at 15:52 yet
        assert clock(MOMENT.replace(second=0), MOMENT) == "15:52"
        assert clock(MOMENT + timedelta(days=1), MOMENT) == "2026-12-02 15:53"


@pytest.mark.parametrize("language", LANGUAGES)
def test_shop_page_dates(client, admin_a, login, make_shop, language):
    shop = make_shop(admin_a)
    login(client, admin_a)
    authorization = shop.authorization
    body = client.get(f"/shops/{shop.id}", headers={"Accept-Language": language}).get_data(as_text=True)
    with client.application.test_request_context("/"):
        authorized, updated = day(authorization.authorized_at), day(authorization.token_updated_at)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", authorized)
    assert f"{authorized} → " in body and updated in body
    assert "年" not in body and not re.search(r"\d{1,2}/\d{1,2}/\d{2}", body)


@pytest.mark.parametrize("language", LANGUAGES)
def test_activity_page_times(client, admin_a, login, language):
    login(client, admin_a)
    body = client.get("/admin/activity", headers={"Accept-Language": language}).get_data(as_text=True)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    with client.application.test_request_context("/"):
        shown = minute(event.created_at)
    assert f"<small>{shown}</small>" in body
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{2}|\d{4}/\d{1,2}/\d{1,2}| [AP]M\b", body)
