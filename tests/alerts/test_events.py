"""The alert scan on the real database: each kind detected once per episode, closed when over, owed to the
channels that want it and grouped into one message per (channel, kind, days); scans racing add nothing."""
import threading
from datetime import timedelta

from portal.alerts.events import scan
from portal.database import write_intent
from portal.extensions import db
from portal.models import CHECK_FAILED, CHECK_VERIFIED, SYNC_ERROR, SYNC_OK, SYNC_STOPPED, utcnow
from portal.shops.services import replace_token
from tests.alerts.engine_helpers import channel, deliveries, events, messages, other_company_admin, shop, sync_state

pytest_plugins = ["tests.alerts.engine_fixtures"]  # its fixtures: alerts_app, admin, robots, smtp


def run_scan(now=None):
    result = scan(now or utcnow())
    db.session.commit()
    return result


def test_a_threshold_fires_once(admin, robots):
    channel(admin, "wecom", robots)
    s = shop(admin, days_left=29)
    first = run_scan()
    assert (first.events, len(first.message_ids)) == (1, 1)
    (event,) = events()
    assert (event.shop_id, event.kind, event.days) == (s.id, "auth_expiring", 30)
    assert event.episode == f"30:{s.authorization.authorized_at.isoformat()}"
    assert event.due_at == s.authorization.authorized_at + timedelta(days=365)
    second = run_scan()
    assert (second.events, second.message_ids, second.deliveries) == (0, [], 0)
    assert len(events()) == 1 and len(messages()) == 1 and len(deliveries()) == 1


def test_a_shop_seven_days_from_expiry_gets_only_the_seven_day_event(admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=6)
    run_scan()
    run_scan()
    assert [(e.kind, e.days) for e in events()] == [("auth_expiring", 7)]
    assert len(messages()) == 1


def test_crossing_the_next_threshold_supersedes_the_previous_one(admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=20)
    now = utcnow()
    run_scan(now)
    run_scan(now + timedelta(days=14))  # 6 days left
    thirty, seven = events()
    assert (thirty.days, seven.days) == (30, 7)
    assert thirty.closed_at is not None and seven.closed_at is None
    assert len(messages()) == 2
    run_scan(now + timedelta(days=21))  # expired
    kinds = [(e.kind, e.closed_at is None) for e in events()]
    assert kinds == [("auth_expiring", False), ("auth_expiring", False), ("auth_expired", True)]


def test_an_expired_shop_gets_the_expired_event_only(admin, robots):
    channel(admin, "wecom", robots)
    s = shop(admin, days_left=-3)
    run_scan()
    (event,) = events()
    assert (event.kind, event.episode) == ("auth_expired", f"expired:{s.authorization.authorized_at.isoformat()}")


def test_reauthorizing_closes_the_episode_and_opens_a_new_one(admin, robots):
    channel(admin, "wecom", robots)
    s = shop(admin, days_left=6)
    run_scan()
    replace_token(s, admin, "Atzr|alerts-test-token-renewed-abcdefghij")
    db.session.commit()
    assert run_scan().closed == 1
    (old,) = events()
    assert old.closed_at is not None
    later = utcnow() + timedelta(days=359)  # the new authorization has 6 days left
    assert run_scan(later).events == 1
    old, new = events()
    assert new.episode != old.episode and new.days == 7 and new.closed_at is None
    assert len(messages()) == 2


def test_check_failed_then_recovered(admin, robots):
    channel(admin, "wecom", robots)
    s = shop(admin)
    s.check_status, s.check_code, s.checked_at, s.last_good_at = CHECK_FAILED, "invalid_grant", utcnow(), None
    db.session.commit()
    run_scan()
    (failed,) = events()
    assert (failed.kind, failed.episode, failed.detail) == ("check_failed", "never", "invalid_grant")
    run_scan()
    assert len(events()) == 1
    s.check_status, s.last_good_at = CHECK_VERIFIED, utcnow()
    db.session.commit()
    result = run_scan()
    assert (result.events, result.closed) == (1, 1)
    failed, recovered = events()
    assert failed.closed_at is not None
    assert (recovered.kind, recovered.episode) == ("check_recovered", f"after:{failed.id}")
    assert [m.kind for m in messages()] == ["check_failed", "check_recovered"]
    s.check_status = CHECK_FAILED  # fails again: a new episode (since the last good check)
    db.session.commit()
    run_scan()
    assert events()[-1].episode == f"since:{s.last_good_at.isoformat()}"


def test_sync_stopped_but_not_for_an_expired_authorization(admin, robots):
    channel(admin, "wecom", robots)
    stopped, expired = shop(admin), shop(admin)
    now = utcnow()
    sync_state(stopped, status=SYNC_STOPPED, error_code="invalid_grant", error_at=now,
               stopped_token_at=stopped.authorization.token_updated_at)
    sync_state(expired, status=SYNC_STOPPED, error_code="authorization_expired", error_at=now)
    run_scan()
    (event,) = events()
    assert (event.shop_id, event.kind, event.detail) == (stopped.id, "sync_stopped", "invalid_grant")
    sync_state(stopped, status=SYNC_OK, error_code=None, last_success_at=utcnow())
    assert run_scan().closed == 1


def test_sync_failing_for_longer_than_the_setting(admin, robots):
    channel(admin, "wecom", robots)
    long_ago, recently, never = shop(admin), shop(admin), shop(admin)
    now = utcnow()
    sync_state(long_ago, status=SYNC_ERROR, error_code="server_error", last_success_at=now - timedelta(hours=2))
    sync_state(recently, status=SYNC_ERROR, error_code="server_error", last_success_at=now - timedelta(minutes=10))
    sync_state(never, status=SYNC_ERROR, error_code="server_error", run_started_at=now - timedelta(hours=3))
    run_scan(now)
    found = {e.shop_id: e for e in events()}
    assert set(found) == {long_ago.id, never.id}
    assert found[never.id].episode == "never" and found[never.id].due_at == now - timedelta(hours=3)
    sync_state(long_ago, status="running")  # a retry in progress: the same failure, still open
    assert run_scan(now).closed == 0
    sync_state(long_ago, status=SYNC_OK, last_success_at=now)
    assert run_scan(now).closed == 1


def test_one_message_per_channel_kind_and_days(admin, robots):
    wecom, feishu = channel(admin, "wecom", robots), channel(admin, "feishu", robots)
    only_expired = channel(admin, "dingtalk", robots, events="auth_expired")
    channel(admin, "wecom", robots, enabled=False)
    digest = channel(admin, "email", digest=True)
    for _ in range(3):
        shop(admin, days_left=5)
    shop(admin, days_left=25)
    result = run_scan()
    assert result.events == 4
    assert len(result.message_ids) == 4
    by_channel = {}
    for d in deliveries():
        by_channel.setdefault(d.channel_id, []).append(d)
    assert len(by_channel[wecom.id]) == len(by_channel[feishu.id]) == len(by_channel[digest.id]) == 4
    assert only_expired.id not in by_channel
    assert all(d.message_id is None for d in by_channel[digest.id])
    sizes = sorted(len([d for d in by_channel[wecom.id] if d.message_id == m]) for m in
                   {d.message_id for d in by_channel[wecom.id]})
    assert sizes == [1, 3]  # the 7-day shops in one message, the 30-day shop in another
    assert {m.channel_id for m in messages()} == {wecom.id, feishu.id}


def test_two_scans_in_a_row_at_the_same_moment_add_nothing(admin, robots):
    channel(admin, "wecom", robots)
    shop(admin, days_left=6)
    shop(admin, days_left=-1)
    now = utcnow()
    first, second = run_scan(now), run_scan(now)
    assert (first.events, second.events, second.message_ids) == (2, 0, [])
    assert len(events()) == 2 and len(deliveries()) == 2 and len(messages()) == 2


def test_two_scans_racing_in_threads_record_each_event_once(alerts_app, admin, robots):
    channel(admin, "wecom", robots)
    for days in (5, 25, -2):
        shop(admin, days_left=days)
    now, barrier, results, errors = utcnow(), threading.Barrier(2), [], []

    def work():
        try:
            with alerts_app.app_context(), write_intent():
                barrier.wait()
                results.append(scan(now))
                db.session.commit()
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(r.events for r in results) == [0, 3]
    assert len(events()) == 3 and len(deliveries()) == 3 and len(messages()) == 3


def test_other_companies_channels_get_nothing(admin, robots):
    other = other_company_admin()
    channel(other, "wecom", robots)
    shop(admin, days_left=3)
    result = run_scan()
    assert result.events == 1 and result.deliveries == 0 and messages() == []


def test_a_channel_added_later_gets_the_open_alerts_once(admin, robots):
    shop(admin, days_left=5)
    run_scan()  # no channel yet: the event is recorded, owed to nobody
    assert len(events()) == 1 and deliveries() == [] and messages() == []
    channel(admin, "wecom", robots, name="Ops", events="check_failed")  # does not want expiry alerts
    assert run_scan().deliveries == 0
    late = channel(admin, "dingtalk", robots, name="Late")
    caught = run_scan()
    assert (caught.events, caught.deliveries, len(caught.message_ids)) == (0, 1, 1)
    (delivery,) = deliveries()
    assert (delivery.channel_id, delivery.event_id) == (late.id, events()[0].id)
    assert (run_scan().deliveries, run_scan().message_ids) == (0, [])
    # An alert that is over is not sent to a channel switched on afterwards.
    off = channel(admin, "feishu", robots, name="Off")
    off.enabled = False
    db.session.commit()
    e = events()[0]
    e.closed_at = utcnow()
    db.session.commit()
    off.enabled = True
    db.session.commit()
    assert run_scan().deliveries == 0
