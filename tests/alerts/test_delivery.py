"""Sending alert messages to the robot and SMTP stand-ins (devtools/robots.py) from real scans: every
platform gets a well-formed, signed message for every kind; retries with back-off, then failed and listed
on the Jobs page with a Retry; refused hosts; digests; the alert jobs and the alerts-scan command."""
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal import queue
from portal.alerts.delivery import build_digest, resend_failed, send_message, stuck_messages
from portal.alerts.events import scan
from portal.extensions import db
from portal.models import (CHECK_FAILED, CHECK_VERIFIED, SYNC_ERROR, SYNC_STOPPED, AlertChannel, AlertEvent,
                           AlertMessage, Company, JobRun, User, utcnow)
from portal.passwords import hash_password
from tests.alerts.engine_helpers import SECRET, channel, member, messages, other_company_admin, shop, sync_state
from tests.consumers import consumer

pytest_plugins = ["tests.alerts.engine_fixtures"]  # its fixtures: alerts_app, admin, robots, smtp

KIND_TITLES = {
    "auth_expiring": "Amazon authorization of 1 shop expires in 6 days",  # 6 days left: past the 7-day threshold
    "auth_expired": "Amazon authorization of 1 shop has expired",
    "check_failed": "Check of 1 shop failed",
    "check_recovered": "1 shop passes its check again",
    "sync_stopped": "Order sync stopped for 1 shop",
    "sync_failing": "Order sync of 1 shop has been failing for over an hour",
}


def run_scan(now=None):
    result = scan(now or utcnow())
    db.session.commit()
    return result


def make_kind(admin, kind):
    """A shop in the state that raises `kind`; scanned (twice for a recovery)."""
    now = utcnow()
    s = shop(admin, name="Acme US", days_left={"auth_expiring": 6, "auth_expired": -2}.get(kind, 200),
             marketplaces=("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"))
    if kind in ("check_failed", "check_recovered"):
        s.check_status, s.check_code, s.checked_at = CHECK_FAILED, "invalid_grant", now
        db.session.commit()
    if kind == "check_recovered":
        run_scan(now)
        s.check_status, s.last_good_at = CHECK_VERIFIED, now
        db.session.commit()
    if kind == "sync_stopped":
        sync_state(s, status=SYNC_STOPPED, error_code="invalid_grant", error_at=now)
    if kind == "sync_failing":
        sync_state(s, status=SYNC_ERROR, error_code="server_error", last_success_at=now - timedelta(hours=3))
    result = run_scan(now)
    return s, result


@pytest.mark.parametrize("kind", list(KIND_TITLES))
@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu", "email"])
def test_each_platform_gets_each_kind_well_formed_and_signed(admin, robots, smtp, platform, kind):
    secret = SECRET if platform in ("dingtalk", "feishu") else ""
    ch = channel(admin, platform, robots, events=kind, secret=secret)
    s, result = make_kind(admin, kind)
    (message_id,) = result.message_ids
    outcome = send_message(message_id)
    assert (outcome.ok, outcome.status) == (True, "sent"), outcome.summary()
    (message,) = messages()
    assert (message.status, message.attempts, message.channel_id, message.kind) == ("sent", 1, ch.id, kind)
    assert message.sent_at is not None and message.last_summary
    title, line = KIND_TITLES[kind], f"Acme US · {s.seller_id} · US CA"
    link = f"https://portal.example.com/shops/{s.id}"
    # Why, when the check or the sync stored a code with a text (here Amazon's invalid_grant).
    reason = "Amazon refused the authorization: revoked in Seller Central, expired or mistyped."
    if platform == "email":
        (mail,) = smtp.messages
        assert mail["Subject"] == title
        plain = mail.get_body(("plain",)).get_content()
        assert line in plain and link in plain
        assert (reason in plain) == (kind in ("check_failed", "sync_stopped"))
        return
    (got,) = robots.accepted(platform)  # the stand-in checked the token, the signature and the format
    assert robots.received == [got]
    body = json.dumps(got.body, ensure_ascii=False)
    assert title in body and line in body and link in body
    assert (reason in body) == (kind in ("check_failed", "sync_stopped"))
    if platform == "dingtalk":
        assert got.query["timestamp"].isdigit() and got.query["sign"]
        assert got.body["msgtype"] == "markdown"
    elif platform == "feishu":
        assert got.body["timestamp"].isdigit() and got.body["sign"]
        assert got.body["card"]["header"]["title"]["content"] == title
    else:
        assert got.body["msgtype"] == "markdown"
    assert SECRET not in body


def test_texts_in_the_company_language_and_mentions_of_assignees(admin, robots):
    admin.company.alert_language = "zh"
    db.session.commit()
    channel(admin, "wecom", robots)
    with_id, with_mobile = member(admin, alert_user_id="zhangsan"), member(admin, alert_mobile="13800001111")
    member(admin, alert_user_id="not-assigned")
    s = shop(admin, days_left=6, name="店铺一", assign=(with_id, with_mobile))
    (message_id,) = run_scan().message_ids
    assert send_message(message_id).ok
    (got,) = robots.accepted("wecom")
    assert got.body["msgtype"] == "text"  # a mobile mention: WeCom's text message
    assert got.body["text"]["mentioned_list"] == ["zhangsan"]
    assert got.body["text"]["mentioned_mobile_list"] == ["13800001111"]
    content = got.body["text"]["content"]
    assert "1 个店铺的亚马逊授权将在 6 天后到期" in content and f"店铺一 · {s.seller_id} · US" in content


def test_several_shops_in_one_message_link_to_the_list(admin, robots):
    channel(admin, "feishu", robots, mention_assignees=False)
    shops = [shop(admin, days_left=5, name=f"Shop {c}") for c in "ABC"]
    (message_id,) = run_scan().message_ids
    assert send_message(message_id).ok
    (got,) = robots.accepted("feishu")
    card = got.body["card"]
    assert card["header"]["title"]["content"] == "Amazon authorization of 3 shops expires in 5 days"
    text = card["elements"][0]["text"]["content"]
    assert all(f"{s.name} · {s.seller_id}" in text for s in shops)
    assert card["elements"][1]["actions"][0]["url"] == "https://portal.example.com/shops"


def test_a_failing_platform_is_retried_with_back_off_then_failed_and_listed(alerts_app, admin, robots, login):
    ch = channel(admin, "dingtalk", robots, name="Ops robot", secret=SECRET)
    shop(admin, days_left=6)
    now = utcnow()
    (message_id,) = run_scan(now).message_ids
    robots.fail(500)
    first = queue.run_alert_send(message_id, now)
    assert (first.ok, first.retryable, first.status, first.retry_in) == (False, True, "queued", 30)
    assert queue.run_alert_send(message_id, now + timedelta(seconds=29)) is None  # not due yet
    second = queue.run_alert_send(message_id, now + timedelta(seconds=30))
    assert (second.status, second.retry_in) == ("queued", 60)
    third = queue.run_alert_send(message_id, now + timedelta(seconds=90))
    assert (third.status, third.retry_in, third.attempts) == ("failed", None, 3)  # ALERTS_MAX_ATTEMPTS=3
    assert robots.connections >= 3 and robots.accepted() == []
    (message,) = messages()
    assert (message.status, message.attempts, message.last_code) == ("failed", 3, 500)
    assert "500" in message.last_summary and "retryable" in message.last_summary
    runs = list(db.session.scalars(select(JobRun).where(JobRun.name == "alerts.send").order_by(JobRun.id)))
    assert [r.status for r in runs] == ["retrying", "retrying", "failed"]
    assert {r.company_id for r in runs} == {admin.company_id} and runs[-1].error
    retries = [task for task in queue.huey.pending() if task.name == "alerts.send"]
    assert len(retries) == 2 and all(task.eta is not None for task in retries)  # queued with their delay

    client = alerts_app.test_client()
    login(client, admin)
    page = client.get("/jobs").get_data(as_text=True)
    assert "Alerts that could not be sent" in page and "Ops robot" in page and "Authorization expiring soon" in page
    assert message.last_summary in page and "Alert message" in page and "Failed, tried again later" in page
    robots.fault = None
    response = client.post(f"/jobs/alerts/{message_id}/retry", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    (message,) = messages()
    assert (message.status, message.attempts) == ("queued", 0)
    assert send_message(message_id).ok
    assert len(robots.accepted("dingtalk")) == 1 and ch.id == message.channel_id
    assert "Alerts that could not be sent" not in client.get("/jobs").get_data(as_text=True)


def test_retry_is_for_admins_of_the_company_only(alerts_app, admin, robots, login):
    channel(admin, "wecom", robots, token="unknown-to-the-robot")
    shop(admin, days_left=6)
    (message_id,) = run_scan().message_ids
    robots._robots.clear()  # the robot was deleted on the platform: 93000, not retryable
    outcome = send_message(message_id)
    assert (outcome.status, outcome.platform_code, outcome.retryable) == ("failed", 93000, False)
    plain = member(admin)
    other = other_company_admin()
    for user, status in ((plain, 403), (other, 404)):
        client = alerts_app.test_client()
        login(client, user)
        assert client.post(f"/jobs/alerts/{message_id}/retry").status_code == status
        assert "could not be sent" not in client.get("/jobs").get_data(as_text=True)
    client = alerts_app.test_client()
    login(client, admin)
    assert client.post(f"/jobs/alerts/{message_id}/retry", csrf=False).status_code == 400
    assert messages()[0].status == "failed"
    response = client.post(f"/jobs/alerts/{message_id}/retry")
    assert response.status_code == 303 and messages()[0].status == "queued"
    assert client.post(f"/jobs/alerts/{message_id}/retry").status_code == 404  # no longer failed


def test_a_disallowed_host_is_refused_before_connecting_and_not_retried(app_factory, robots):
    app = app_factory(ALERT_ALLOWED_HOSTS=None, PORTAL_BASE_URL="https://portal.example.com")
    with app.app_context():
        user = _admin_in(app)
        channel(user, "wecom", robots)
        shop(user, days_left=6)
        (message_id,) = run_scan().message_ids
        outcome = send_message(message_id)
        assert (outcome.ok, outcome.retryable, outcome.detail, outcome.status) == (
            False, False, "host_not_allowed", "failed")
        assert robots.connections == 0 and robots.received == []
        (message,) = messages()
        assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 1, None)


def _admin_in(app):
    user = User(company=Company(name="Acme", alert_language="en"), email="admin@example.com", display_name="Admin",
                role="admin", password_hash=hash_password("x" * 12))
    db.session.add(user)
    db.session.commit()
    return user


def test_a_digest_channel_gets_one_message_with_all_events(admin, robots, smtp):
    digest = channel(admin, "wecom", robots, digest=True)
    mail = channel(admin, "email", digest=True)
    a, b = shop(admin, days_left=5, name="Alpha"), shop(admin, days_left=6, name="Beta")
    c = shop(admin, name="Gamma")
    c.check_status, c.checked_at = CHECK_FAILED, utcnow()
    db.session.commit()
    assert run_scan().message_ids == []
    now = utcnow()
    made = queue.run_alert_digest(now)
    assert len(made) == 2 and queue.run_alert_digest(now) is None  # once a day
    assert build_digest(digest.id) is None  # nothing waits any more
    for message_id in made:
        assert send_message(message_id).ok
    (got,) = robots.accepted("wecom")
    content = got.body["markdown"]["content"]
    assert "Shop Portal daily digest: 3 alerts" in content
    assert "Amazon authorization of 2 shops expires in 5 days" in content and "Check of 1 shop failed" in content
    assert all(f"{s.name} · {s.seller_id}" in content for s in (a, b, c))
    (email,) = smtp.messages
    assert email["Subject"] == "Shop Portal daily digest: 3 alerts"
    assert {m.kind for m in messages()} == {"digest"} and mail.id in {m.channel_id for m in messages()}


def test_a_channel_disabled_meanwhile_or_unreadable_fails_clearly(admin, robots):
    disabled, broken = channel(admin, "wecom", robots), channel(admin, "feishu", robots)
    shop(admin, days_left=6)
    ids = run_scan().message_ids
    db.session.execute(update(AlertChannel).where(AlertChannel.id == disabled.id).values(enabled=False))
    db.session.execute(update(AlertChannel).where(AlertChannel.id == broken.id).values(config_ciphertext="garbage"))
    db.session.commit()
    outcomes = {m: send_message(m) for m in ids}
    assert sorted(o.detail for o in outcomes.values()) == ["channel_disabled", "credentials_unreadable"]
    assert all(o.status == "failed" for o in outcomes.values())
    assert robots.connections == 0
    summaries = {m.channel_id: m.last_summary for m in messages()}
    assert "disabled" in summaries[disabled.id] and "decrypted" in summaries[broken.id]


def test_a_message_is_claimed_once(admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=6)
    (message_id,) = run_scan().message_ids
    assert send_message(message_id).ok
    assert send_message(message_id) is None and len(robots.accepted()) == 1


def test_stuck_messages_are_queued_again_by_the_scan(admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=6)
    shop(admin, days_left=-1)
    now = utcnow()
    first, second = run_scan(now).message_ids
    db.session.execute(update(AlertMessage).where(AlertMessage.id == first).values(
        status="sending", last_attempt_at=now - timedelta(minutes=11)))
    db.session.execute(update(AlertMessage).where(AlertMessage.id == second).values(
        next_attempt_at=now - timedelta(minutes=6)))
    db.session.commit()
    assert stuck_messages(now) == [first, second]
    db.session.commit()
    assert [m.status for m in messages()] == ["queued", "queued"]
    queue.huey.storage.flush_all()
    later = now + timedelta(minutes=6)
    result = queue.run_alert_scan(later)
    assert result is not None and queue.huey.storage.queue_size() == 2  # both sends queued again
    assert queue.run_alert_scan(later) is None  # the slot was claimed


def test_resend_failed_only_touches_failed_messages(admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=6)
    (message_id,) = run_scan().message_ids
    assert resend_failed(message_id) is False


def test_alerts_scan_command_sends_in_the_foreground(alerts_app, admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=6)
    result = alerts_app.test_cli_runner().invoke(args=["alerts-scan"])
    assert result.exit_code == 0, result.output
    assert "1 new alerts" in result.output and "sent" in result.output
    assert len(robots.accepted("wecom")) == 1
    robots.fail(500)
    shop(admin, days_left=-1)
    failed = alerts_app.test_cli_runner().invoke(args=["alerts-scan"])
    assert failed.exit_code == 1 and "queued" in failed.output


def test_the_alert_jobs_are_scheduled(alerts_app):
    names = [name for name, _ in queue.next_runs()]
    assert {"alerts.scan", "alerts.digest"} <= set(names)
    when = dict(queue.next_runs())["alerts.digest"]
    assert when.astimezone(queue._portal_zone()).hour == alerts_app.config["ALERTS_DIGEST_HOUR"]


def test_a_real_consumer_sends_the_queued_message_and_records_the_run(alerts_app, admin, robots):
    channel(admin, "dingtalk", robots, name="Ops group", secret=SECRET)
    shop(admin, days_left=6)
    (message_id,) = run_scan().message_ids
    queue.send_alert_task(message_id)
    with consumer():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and messages()[0].status != "sent":
            time.sleep(0.1)
    (message,) = messages()
    assert message.status == "sent" and len(robots.accepted("dingtalk")) == 1
    (run,) = db.session.scalars(select(JobRun).where(JobRun.name == "alerts.send"))
    assert (run.status, run.company_id, run.target) == ("ok", admin.company_id, "Ops group · auth_expiring")


def test_expiry_messages_count_the_days_actually_left_not_the_threshold(admin, robots):
    """A shop first seen 10 days before expiry raises the 30-day alert; its message says 10 days, as its
    row in the shop list does."""
    channel(admin, "wecom", robots, mention_assignees=False)
    shop(admin, days_left=10, name="Late shop")
    (message_id,) = run_scan().message_ids
    (event,) = db.session.scalars(select(AlertEvent)).all()
    assert event.days == 30
    assert send_message(message_id).ok
    (got,) = robots.accepted("wecom")
    assert "Amazon authorization of 1 shop expires in 10 days" in got.body["markdown"]["content"]
