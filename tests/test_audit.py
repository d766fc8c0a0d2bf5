"""The audit trail: events for what matters, an Activity page for admins, never a secret."""
import csv
import io
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}


def actions():
    return [(e.action, e.outcome) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_sign_in_out_and_failures_are_recorded(client, admin_a, login):
    client.post("/login", data={"email": "admin-a@example.com", "password": "wrong password!"})
    client.post("/login", data={"email": "nobody@example.com", "password": "wrong password!"})
    login(client, admin_a)
    client.post("/logout")
    assert actions() == [("auth.login", "failure"), ("auth.login", "failure"), ("auth.login", "success"),
                         ("auth.logout", "success")]
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "failure")).all()
    assert [e.user_label for e in failures] == ["admin-a@example.com", "nobody@example.com"]
    assert failures[0].company_id == admin_a.company_id and failures[1].company_id is None
    assert all(e.ip == "127.0.0.1" for e in failures)
    assert "wrong password" not in repr([(e.detail, e.object_label) for e in failures])


def test_denials_are_recorded(client, member_a, admin_b, make_shop, login):
    shop = make_shop(admin_b)
    login(client, member_a)
    assert client.get(f"/shops/{shop.id}").status_code == 404
    assert client.get("/admin/users", headers=HX).status_code == 403
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert [(e.action, e.object_type, e.object_id) for e in denied] == [
        ("access.denied", "shop", shop.id), ("access.forbidden", None, None)]
    assert denied[0].user_id == member_a.id and denied[0].company_id == member_a.company_id


def test_changes_are_recorded(client, admin_a, member_a, make_shop, login):
    login(client, admin_a)
    shop = make_shop(admin_a)
    shop_id = shop.id
    client.post(f"/shops/{shop.id}/assign", data={"shown": [member_a.id], "selected": [member_a.id]})
    client.post(f"/shops/{shop.id}/reauthorize", data={"token": "Atzr|audit-new-token-0123456789", "authorized": "y"})
    client.post(f"/admin/users/{member_a.id}/role", data={"role": "admin"})
    client.post(f"/shops/{shop.id}/delete")
    recorded = [a for a, _o in actions()]
    for expected in ("shop.assignments_changed", "shop.token_replaced", "user.role_changed", "shop.deleted"):
        assert expected in recorded
    token_event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "shop.token_replaced"))
    assert token_event.object_id == shop_id and "Atzr" not in (token_event.detail or "")


def test_activity_page_filters_and_is_company_scoped(client, admin_a, member_a, admin_b, app, login):
    other = app.test_client()
    login(other, admin_b)  # company B's sign-in must not show up for company A
    login(client, member_a)
    client.post("/logout")
    login(client, admin_a)
    page = client.get("/admin/activity").get_data(as_text=True)
    assert "Member A signed in." in page and "Admin B" not in page
    only_logout = client.get("/admin/activity", query_string={"action": "auth.logout"}, headers=HX).get_data(as_text=True)
    assert "Member A signed out." in only_logout and "signed in" not in only_logout
    by_user = client.get("/admin/activity", query_string={"user": admin_a.id}, headers=HX).get_data(as_text=True)
    assert "Admin A signed in." in by_user and "Member A" not in by_user
    future = client.get("/admin/activity", query_string={"start": "2999-01-01"}, headers=HX).get_data(as_text=True)
    assert "No activity matches these filters." in future
    assert client.get("/admin/activity", query_string={"start": "garbage", "user": "x"}).status_code == 200


def test_activity_csv(client, admin_a, login):
    client.post("/login", data={"email": "=cmd|' /C calc'!A0", "password": "wrong password!"})
    login(client, admin_a)
    response = client.get("/admin/activity.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["time (Asia/Shanghai)", "user", "action"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", rows[1][0])  # the portal's zone, spreadsheet-readable
    assert ["auth.login", "success"] == rows[1][2:4]


def test_member_cannot_see_activity(client, member_a, login):
    login(client, member_a)
    assert client.get("/admin/activity").status_code == 403
    assert client.get("/admin/activity.csv").status_code == 403


def test_audit_events_are_append_only(app, admin_a):
    from portal.audit import record

    record("auth.login", user=admin_a)
    db.session.commit()
    event = db.session.scalar(select(AuditEvent))
    event.outcome = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.delete(db.session.scalar(select(AuditEvent)))
        db.session.commit()
    db.session.rollback()


def test_user_text_in_audit_is_single_line(client, admin_a, login):
    client.post("/login", data={"email": "evil@example.com\r\nforged line", "password": PASSWORD})
    labels = [e.user_label for e in db.session.scalars(select(AuditEvent))]
    assert labels and all("\n" not in (label or "") and "\r" not in (label or "") for label in labels)


@pytest.mark.parametrize("query", [
    {"end": "9999-12-31"}, {"start": "9999-12-31"}, {"start": "0001-01-01", "end": "0001-01-01"},
    {"user": "²"}, {"user": "①"}, {"user": "٣"}, {"user": "9223372036854775808"}, {"user": "99999999999999999999999"},
    {"user": "-1"}, {"end": "2026-02-30"}, {"start": "２０２６-01-01"}, {"action": "x" * 5000}, {"page": "9" * 400},
])
@pytest.mark.parametrize("path", ["/admin/activity", "/admin/activity.csv"])
def test_activity_filters_never_raise(client, admin_a, login, path, query):
    login(client, admin_a)
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def test_activity_end_filter_at_the_range_end_keeps_todays_events(client, admin_a, login):
    login(client, admin_a)
    body = client.get("/admin/activity", query_string={"end": "9999-12-31"}).get_data(as_text=True)
    assert "auth.login" in body
