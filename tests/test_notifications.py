"""The Notifications page: channels' CRUD, admins only, validation, write-only secrets, Send test against
the robot stand-ins, its throttle, and key rotation of the channels' credentials."""
import re

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from devtools.robots import StandinRobots
from portal.alerts.channels import stored_credentials
from portal.crypto import needs_rotation
from portal.extensions import db
from portal.models import AlertChannel, AuditEvent

HX = {"HX-Request": "true"}
TOKEN = "dtok-sentinel-0123456789abcdef"
SECRET = "SECsentinel0123456789signingsecret"
ALL_EVENTS = ["auth_expiring", "auth_expired", "check_failed", "check_recovered", "sync_stopped", "sync_failing"]


@pytest.fixture
def robots():
    server = StandinRobots(slow_seconds=3).start()
    yield server
    server.stop()


@pytest.fixture
def app(app_factory, robots):
    app = app_factory(ALERT_ALLOWED_HOSTS=robots.origin, ALERT_TIMEOUT_SECONDS=1, ALERTS_TEST_SECONDS=60)
    with app.app_context():
        yield app


@pytest.fixture
def admin(client, login, admin_a):
    login(client, admin_a)
    return client


def form(**values):
    data = {"kind": "dingtalk", "name": "Ops group", "webhook_url": "", "secret": "", "events": ALL_EVENTS,
            "mention_assignees": "y", "enabled": "y"}
    data.update(values)
    return {key: value for key, value in data.items() if value is not None}


def add(admin, robots, **values):
    if "webhook_url" not in values:
        values["webhook_url"] = robots.add("dingtalk", TOKEN, secret=SECRET)
    values.setdefault("secret", SECRET)
    response = admin.post("/notifications/new", data=form(**values), headers=HX)
    assert response.status_code == 200 and "HX-Redirect" in response.headers, response.get_data(as_text=True)
    return db.session.scalars(select(AlertChannel).order_by(AlertChannel.id.desc())).first()


def text_of(html):
    """The row's words without tags (the platform's answer sits in its own untranslated span)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def all_audit_text():
    return " ".join(f"{e.object_label} {e.detail}" for e in db.session.scalars(select(AuditEvent)))


def test_empty_state_and_new_dialog_for_each_platform(admin):
    page = admin.get("/notifications").get_data(as_text=True)
    assert 'data-testid="channels-empty"' in page and "New channel" in page
    for kind, expect in (("wecom", "Webhook address"), ("dingtalk", "Signing secret"),
                         ("feishu", "Signing secret"), ("email", "Recipients")):
        body = admin.get(f"/notifications/form-fields?kind={kind}", headers=HX).get_data(as_text=True)
        assert expect in body, kind
    wecom = admin.get("/notifications/form-fields?kind=wecom", headers=HX).get_data(as_text=True)
    assert "Signing secret" not in wecom
    email = admin.get("/notifications/form-fields?kind=email", headers=HX).get_data(as_text=True)
    assert 'data-testid="smtp-missing"' in email
    dialog = admin.get("/notifications/new", headers=HX).get_data(as_text=True)
    assert dialog.count('type="checkbox" checked') + dialog.count("checked") >= 6


def test_create_edit_toggle_delete(app, admin, robots):
    channel = add(admin, robots)
    assert (channel.kind, channel.name, channel.target_host, channel.has_secret) == ("dingtalk", "Ops group",
                                                                                     "127.0.0.1", True)
    assert channel.event_kinds() == ALL_EVENTS and channel.enabled and channel.mention_assignees
    page = admin.get("/notifications").get_data(as_text=True)
    assert "Ops group" in page and "DingTalk" in page and 'data-testid="signed-badge"' in page
    # edit without re-entering the URL or the secret keeps both
    response = admin.post(f"/notifications/{channel.id}/edit", headers=HX,
                          data=form(name="Ops group 2", events=["auth_expired"], digest="y", enabled=None))
    assert "HX-Redirect" in response.headers, response.get_data(as_text=True)
    db.session.refresh(channel)
    assert (channel.name, channel.event_kinds(), channel.digest, channel.enabled) == (
        "Ops group 2", ["auth_expired"], True, False)
    assert stored_credentials(channel) == {"url": robots.url("dingtalk", TOKEN), "secret": SECRET}
    # the toggle re-renders the row
    row = admin.post(f"/notifications/{channel.id}/toggle", headers=HX).get_data(as_text=True)
    assert row.startswith(f'<tr id="channel-{channel.id}"') and "Switch off" in row
    # remove the secret
    admin.post(f"/notifications/{channel.id}/edit", headers=HX, data=form(name="Ops group 2", remove_secret="y"))
    db.session.refresh(channel)
    assert not channel.has_secret and stored_credentials(channel)["url"] == robots.url("dingtalk", TOKEN)
    response = admin.post(f"/notifications/{channel.id}/delete", headers=HX)
    assert "HX-Redirect" in response.headers
    assert db.session.scalar(select(AlertChannel.id)) is None
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("channel.%")))]
    assert actions == ["channel.created", "channel.updated", "channel.updated", "channel.updated", "channel.deleted"]


def test_secrets_never_rendered_nor_audited(app, admin, robots):
    channel = add(admin, robots)
    bodies = [admin.get(path, headers=headers).get_data(as_text=True)
              for path in ("/notifications", f"/notifications/{channel.id}/edit")
              for headers in ({}, HX)]
    bodies.append(admin.post(f"/notifications/{channel.id}/edit", headers=HX,
                             data=form(name="", webhook_url="https://evil.example.com/x")).get_data(as_text=True))
    for body in bodies:
        assert TOKEN not in body and SECRET not in body
    assert "Stored — leave empty to keep it." in bodies[3]
    assert TOKEN not in all_audit_text() and SECRET not in all_audit_text()


def test_name_unique_per_company_case_insensitive(admin, robots):
    add(admin, robots)
    response = admin.post("/notifications/new", headers=HX,
                          data=form(name="OPS  group", webhook_url=robots.url("dingtalk", TOKEN)))
    assert "already has a channel with this name" in response.get_data(as_text=True)


@pytest.mark.parametrize("kind, url, message", [
    ("dingtalk", "https://evil.example.com/robot/send?access_token=x", "The host evil.example.com is not allowed"),
    ("dingtalk", "not a url", "Paste the robot&#39;s webhook address"),
    ("wecom", "ORIGIN/robot/send?access_token=x", "does not look like a WeCom webhook address"),
    ("dingtalk", "ORIGIN/robot/send", "does not look like a DingTalk webhook address"),
    ("feishu", "ORIGIN/open-apis/bot/v2/hook/", "does not look like a Feishu / Lark webhook address"),
    ("dingtalk", "", "Paste the robot&#39;s webhook address."),
])
def test_webhook_validation(admin, robots, kind, url, message):
    url = url.replace("ORIGIN", robots.origin)
    body = admin.post("/notifications/new", headers=HX, data=form(kind=kind, webhook_url=url)).get_data(as_text=True)
    assert message in body
    assert db.session.scalar(select(AlertChannel.id)) is None


def test_http_to_a_platform_host_and_default_hosts(app_factory, client, login, make_user, make_company):
    app = app_factory()  # the default allow-list: the platforms' own hosts over https
    with app.app_context():
        admin_user = make_user(make_company(), role="admin")
        client = app.test_client()
        login(client, admin_user)
        body = client.post("/notifications/new", headers=HX, data=form(
            webhook_url="http://oapi.dingtalk.com/robot/send?access_token=abc")).get_data(as_text=True)
        assert "Use https:// for this address" in body
        body = client.post("/notifications/new", headers=HX, data=form(
            webhook_url="https://example.com/robot/send?access_token=abc")).get_data(as_text=True)
        assert "Allowed hosts: qyapi.weixin.qq.com, oapi.dingtalk.com, open.feishu.cn, open.larksuite.com" in body
        response = client.post("/notifications/new", headers=HX, data=form(
            webhook_url="https://oapi.dingtalk.com/robot/send?access_token=abc"))
        assert "HX-Redirect" in response.headers  # saved without connecting anywhere


def test_email_recipients_validated(admin):
    body = admin.post("/notifications/new", headers=HX,
                      data=form(kind="email", email_to="boss@example.com, not-an-address")).get_data(as_text=True)
    assert "Not an e-mail address: not-an-address" in body
    body = admin.post("/notifications/new", headers=HX, data=form(kind="email", email_to="")).get_data(as_text=True)
    assert "Enter at least one e-mail address." in body
    response = admin.post("/notifications/new", headers=HX,
                          data=form(kind="email", name="Boss", email_to="Boss@Example.com; ops@example.com"))
    assert "HX-Redirect" in response.headers
    channel = db.session.scalar(select(AlertChannel))
    assert channel.email_to == "boss@example.com, ops@example.com" and channel.config_ciphertext is None
    page = admin.get("/notifications").get_data(as_text=True)
    assert "boss@example.com, ops@example.com" in page
    row = admin.post(f"/notifications/{channel.id}/test", headers=HX).get_data(as_text=True)
    assert "Not sent: e-mail is not set up on the server (SMTP_HOST)" in text_of(row)


def test_send_test_ok_and_wrong_secret(admin, robots):
    channel = add(admin, robots)
    row = admin.post(f"/notifications/{channel.id}/test", headers=HX).get_data(as_text=True)
    assert "Sent: DingTalk answered 0 ok" in text_of(row) and 'data-testid="test-result"' in row
    assert len(robots.accepted("dingtalk")) == 1
    db.session.refresh(channel)
    assert channel.last_test_ok is True
    other = add(admin, robots, name="Wrong secret", secret="SECwrong",
                webhook_url=robots.url("dingtalk", TOKEN))
    row = admin.post(f"/notifications/{other.id}/test", headers=HX).get_data(as_text=True)
    words = text_of(row)
    assert "DingTalk answered: 310000 sign not match" in words
    assert "— the signature does not match: check the signing secret" in words
    assert "SECwrong" not in row and TOKEN not in row
    tested = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "channel.tested")).all()
    assert [e.outcome for e in tested] == ["success", "failure"]
    assert "SECwrong" not in all_audit_text() and TOKEN not in all_audit_text()


def test_send_test_in_chinese(admin, robots, client):
    channel = add(admin, robots, secret="SECwrong")
    client.set_cookie("lang", "zh")
    row = client.post(f"/notifications/{channel.id}/test", headers={**HX, "Accept-Language": "zh"}).get_data(as_text=True)
    assert "310000 sign not match" in text_of(row)  # the hint's Chinese comes with the merged catalog


def test_send_test_is_throttled(admin, robots):
    channel = add(admin, robots)
    first = admin.post(f"/notifications/{channel.id}/test", headers=HX).get_data(as_text=True)
    second = admin.post(f"/notifications/{channel.id}/test", headers=HX).get_data(as_text=True)
    assert "Sent:" in first and "A test was just sent. Wait 60 seconds" in second
    assert len(robots.received) == 1


def test_send_test_without_htmx_redirects(admin, robots):
    channel = add(admin, robots)
    response = admin.post(f"/notifications/{channel.id}/test")
    assert response.status_code == 303


def test_language_setting(admin, admin_a):
    response = admin.post("/notifications/language", data={"language": "en"}, headers=HX)
    assert "HX-Redirect" in response.headers
    db.session.refresh(admin_a.company)
    assert admin_a.company.alert_language == "en"
    assert admin.post("/notifications/language", data={"language": "fr"}).status_code == 400


def test_members_forbidden_other_company_404(app, client, login, admin, robots, member_a, admin_b):
    channel = add(admin, robots)
    member = app.test_client()
    login(member, member_a)
    for path in ("/notifications", "/notifications/new", f"/notifications/{channel.id}/edit"):
        assert member.get(path).status_code == 403
    assert member.post(f"/notifications/{channel.id}/test", headers=HX).status_code == 403
    other = app.test_client()
    login(other, admin_b)
    assert other.get(f"/notifications/{channel.id}/edit").status_code == 404
    for action in ("test", "toggle", "delete", "edit"):
        assert other.post(f"/notifications/{channel.id}/{action}", headers=HX).status_code == 404
    assert "Ops group" not in other.get("/notifications").get_data(as_text=True)
    db.session.refresh(channel)
    assert channel.enabled and channel.last_test_at is None


def test_rotation_covers_channels(app, admin, robots):
    channel = add(admin, robots)
    old_key = app.config["TOKEN_ENC_KEYS"]
    app.config["TOKEN_ENC_KEYS"] = f"{Fernet.generate_key().decode()},{old_key}"
    result = app.test_cli_runner().invoke(args=["rotate-token-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 channels with the newest key; 0 were already on it; 0 could not be read." in result.output
    db.session.refresh(channel)
    assert not needs_rotation(channel.config_ciphertext)
    app.config["TOKEN_ENC_KEYS"] = app.config["TOKEN_ENC_KEYS"].split(",")[0]
    assert stored_credentials(channel)["secret"] == SECRET


def test_user_mention_ids(admin, member_a):
    path = f"/admin/users/{member_a.id}/mentions"
    assert "Mobile number for @-mentions" in admin.get(path, headers=HX).get_data(as_text=True)
    body = admin.post(path, headers=HX, data={"alert_mobile": "12ab", "alert_user_id": "bad id!"}).get_data(as_text=True)
    assert re.search(r"6.20", body) and "letters, digits" in body
    response = admin.post(path, headers=HX, data={"alert_mobile": "+86 138-0000-1111", "alert_user_id": "zhangsan"})
    assert "HX-Redirect" in response.headers, response.get_data(as_text=True)
    db.session.refresh(member_a)
    assert (member_a.alert_mobile, member_a.alert_user_id) == ("+8613800001111", "zhangsan")


@pytest.mark.parametrize("platform, token, keyword, wrong, expect", [
    ("wecom", "wkey-0123456789abcdef", "", True, "93000 invalid webhook url"),
    ("feishu", "ftok-0123456789abcdef", "", True, "19001"),
    ("feishu", "ftok-0123456789abcdef", "Urgent", False, "19024"),
    ("dingtalk", TOKEN, "Urgent", False, "310000 keywords not in content"),
])
def test_send_test_explains_platform_refusals(admin, robots, platform, token, keyword, wrong, expect):
    robots.add(platform, token, keyword=keyword)
    url = robots.url(platform, "not-the-token" if wrong else token)
    channel = add(admin, robots, kind=platform, name=f"{platform} {keyword}", webhook_url=url, secret="")
    words = text_of(admin.post(f"/notifications/{channel.id}/test", headers=HX).get_data(as_text=True))
    assert expect in words
    hint = "requires a keyword" if keyword else "does not know this webhook address"
    assert hint in words


def test_send_test_logs_no_secret(admin, robots, caplog):
    channel = add(admin, robots)
    with caplog.at_level("DEBUG"):
        admin.post(f"/notifications/{channel.id}/edit", headers=HX,
                   data=form(webhook_url=robots.url("dingtalk", TOKEN), secret=SECRET))
        admin.post(f"/notifications/{channel.id}/test", headers=HX)
    assert robots.accepted("dingtalk")
    assert TOKEN not in caplog.text and SECRET not in caplog.text


def test_rotation_reports_an_unreadable_channel(app, admin, robots):
    channel = add(admin, robots)
    channel.config_ciphertext = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["rotate-token-key"])
    assert result.exit_code == 1
    assert f"alert channel {channel.id}" in result.output and "0 channels" in result.output.replace(
        "Re-encrypted 0 channels", "0 channels")
    row = admin.post(f"/notifications/{channel.id}/test", headers=HX).get_data(as_text=True)
    assert "the stored webhook address cannot be read" in text_of(row)


MARK = "<x-fuzz"
SPECIAL = ["<", '"', "'", "&", "\x00", "\r\n", "\u202e", "\u200b", "名", "%00", "{{ 7*7 }}", "javascript:",
           "https://", "http://127.0.0.1:1/robot/send?access_token=", "/open-apis/bot/v2/hook/", "SEC", "@", ","]
hostile = st.one_of(
    st.lists(st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=8), st.sampled_from(SPECIAL)),
             max_size=5).map("".join),
    st.text(max_size=5).map(lambda t: t + MARK + ">"),
    st.tuples(st.sampled_from(["a", "名", " "]), st.integers(60, 3000)).map(lambda p: p[0] * p[1]))


@settings(max_examples=40, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(["wecom", "dingtalk", "feishu", "email", "x"]), name=hostile, url=hostile,
       secret=hostile, email_to=hostile, htmx=st.booleans())
def test_fuzz_channel_form(admin, kind, name, url, secret, email_to, htmx):
    response = admin.post("/notifications/new", headers=HX if htmx else {}, data=form(
        kind=kind, name=name, webhook_url=url, secret=secret, email_to=email_to))
    body = response.get_data(as_text=True)
    assert response.status_code < 500, body[:300]
    assert MARK not in body
