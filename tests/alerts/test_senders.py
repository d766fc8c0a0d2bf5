"""The alert senders against the robot and SMTP stand-ins (devtools/robots.py): message formats,
signatures, mentions, the platforms' error codes, retryable vs not, and the outbound safety layer."""
import json
import logging
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.robots import StandinRobots, StandinSMTP
from portal.alerts.messages import AUTH_EXPIRING, CHECK_FAILED, SYNC_STOPPED, ShopRef, build_message
from portal.alerts.outbound import AllowedOrigin, AllowList, OutboundRefused, OutboundSettings, check_url
from portal.alerts.platforms import ChannelConfig, SmtpSettings, send, send_dingtalk, send_wecom, smtp_connection

SHOP = ShopRef("Acme US", "A1B2C3D4E5F6G7", ("US", "CA"))
TOKEN = "tok3n-sentinel-0123456789abcdef"
SECRET = "SECsentinel-signing-secret-xyz"


@pytest.fixture
def robots():
    server = StandinRobots(slow_seconds=3).start()
    yield server
    server.stop()


@pytest.fixture
def alerts_app(app_factory, robots):
    app = app_factory(ALERT_ALLOWED_HOSTS=robots.origin, ALERT_TIMEOUT_SECONDS=0.5,
                      PORTAL_BASE_URL="https://portal.example.com/")
    with app.app_context():
        yield app


def message(language="en"):
    return build_message(AUTH_EXPIRING, [SHOP], language=language, days=7, on=date(2026, 12, 8),
                         path="/shops/3")


# -- each platform receives a well-formed message ------------------------------------------------

def test_wecom_markdown_with_user_id_mentions(alerts_app, robots):
    url = robots.add("wecom", TOKEN)
    result = send(ChannelConfig("wecom", url, mentions=["zhangsan"]), message())
    assert (result.ok, result.platform_code, result.platform_message) == (True, 0, "ok")
    (got,) = robots.accepted("wecom")
    assert got.body["msgtype"] == "markdown"
    content = got.body["markdown"]["content"]
    assert "Acme US · A1B2C3D4E5F6G7 · US CA" in content
    assert "(https://portal.example.com/shops/3)" in content
    assert "<@zhangsan>" in content


def test_wecom_mobile_mentions_go_as_text(alerts_app, robots):
    url = robots.add("wecom", TOKEN)
    result = send(ChannelConfig("wecom", url, mentions=["13800001111", "lisi"]), message())
    assert result.ok
    (got,) = robots.accepted("wecom")
    assert got.body["msgtype"] == "text"
    assert got.body["text"]["mentioned_mobile_list"] == ["13800001111"]
    assert got.body["text"]["mentioned_list"] == ["lisi"]
    assert "https://portal.example.com/shops/3" in got.body["text"]["content"]


def test_wecom_bad_key_is_not_retryable(alerts_app, robots):
    robots.add("wecom", TOKEN)
    result = send(ChannelConfig("wecom", robots.url("wecom", "wrong-key")), message())
    assert (result.ok, result.platform_code, result.retryable) == (False, 93000, False)
    assert "93000 invalid webhook url" in result.summary()
    assert "not retryable" in result.summary()


def test_dingtalk_signed_markdown_with_mentions(alerts_app, robots):
    url = robots.add("dingtalk", TOKEN, secret=SECRET)
    result = send(ChannelConfig("dingtalk", url, SECRET, mentions=["13800001111", "user42"]), message())
    assert (result.ok, result.platform_code) == (True, 0)
    (got,) = robots.accepted("dingtalk")
    assert got.query["timestamp"].isdigit() and got.query["sign"]
    assert got.body["msgtype"] == "markdown"
    assert got.body["at"] == {"atMobiles": ["13800001111"], "atUserIds": ["user42"], "isAtAll": False}
    text = got.body["markdown"]["text"]
    assert "@13800001111" in text and "@user42" in text
    assert "A1B2C3D4E5F6G7" in text and "https://portal.example.com/shops/3" in text


@pytest.mark.parametrize("secret", ["a-different-secret", ""])
def test_dingtalk_bad_or_missing_sign_shows_310000(alerts_app, robots, secret):
    url = robots.add("dingtalk", TOKEN, secret=SECRET)
    result = send(ChannelConfig("dingtalk", url, secret), message())
    assert (result.ok, result.platform_code, result.retryable) == (False, 310000, False)
    assert result.platform_message.startswith("sign not match")
    assert robots.accepted() == []


def test_dingtalk_old_timestamp_is_refused(alerts_app, robots):
    url = robots.add("dingtalk", TOKEN, secret=SECRET)
    settings = OutboundSettings.from_config(alerts_app.config)
    result = send_dingtalk(ChannelConfig("dingtalk", url, SECRET), message(), settings,
                           clock=lambda: time.time() - 7200)
    assert (result.ok, result.platform_code) == (False, 310000)


def test_dingtalk_unknown_token_and_missing_keyword(alerts_app, robots):
    url = robots.add("dingtalk", TOKEN, keyword="ALERT")
    unknown = send(ChannelConfig("dingtalk", robots.url("dingtalk", "nope")), message())
    assert (unknown.platform_code, unknown.retryable) == (300001, False)
    keyword = send(ChannelConfig("dingtalk", url), message())
    assert (keyword.platform_code, keyword.platform_message.startswith("keywords not in content")) == (310000, True)


def test_feishu_signed_card_with_mentions(alerts_app, robots):
    url = robots.add("feishu", TOKEN, secret=SECRET)
    result = send(ChannelConfig("feishu", url, SECRET, mentions=["ou_abc123", "13800001111"]), message())
    assert (result.ok, result.platform_code, result.platform_message) == (True, 0, "success")
    (got,) = robots.accepted("feishu")
    assert got.body["timestamp"].isdigit() and got.body["sign"]
    assert got.body["msg_type"] == "interactive"
    card = got.body["card"]
    assert card["header"]["title"]["content"] == "Amazon authorization of 1 shop expires in 7 days"
    text = card["elements"][0]["text"]["content"]
    assert "<at id=ou_abc123></at>" in text and "13800001111" not in text
    assert card["elements"][1]["actions"][0]["url"] == "https://portal.example.com/shops/3"


def test_feishu_errors(alerts_app, robots):
    url = robots.add("feishu", TOKEN, secret=SECRET)
    bad_sign = send(ChannelConfig("feishu", url, "wrong-secret"), message())
    assert (bad_sign.ok, bad_sign.platform_code, bad_sign.retryable) == (False, 19021, False)
    assert "19021 sign match fail" in bad_sign.summary()
    bad_token = send(ChannelConfig("feishu", robots.url("feishu", "nope"), SECRET), message())
    assert (bad_token.platform_code, bad_token.retryable) == (19001, False)
    robots.add("feishu", "kw", keyword="ALERT")
    keyword = send(ChannelConfig("feishu", robots.url("feishu", "kw")), message())
    assert keyword.platform_code == 19024


# -- retryable failures ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_server_error_is_retryable(alerts_app, robots, kind):
    url = robots.add(kind, TOKEN)
    robots.fail(500)
    result = send(ChannelConfig(kind, url), message())
    assert (result.ok, result.platform_code, result.retryable, result.detail) == (False, 500, True, "http_error")


def test_timeout_is_retryable(alerts_app, robots):
    url = robots.add("dingtalk", TOKEN)
    robots.fail("timeout")
    result = send(ChannelConfig("dingtalk", url), message())
    assert (result.ok, result.retryable, result.detail) == (False, True, "timeout")


def test_redirect_is_not_followed(alerts_app, robots):
    with StandinRobots() as elsewhere:
        robots.fail("redirect")
        robots.redirect_to = elsewhere.add("wecom", TOKEN)
        result = send(ChannelConfig("wecom", robots.add("wecom", TOKEN)), message())
        assert (result.ok, result.platform_code, result.retryable, result.detail) == (
            False, 302, False, "redirect_refused")
        assert elsewhere.connections == 0


# -- the safety layer --------------------------------------------------------------------------

def test_default_allow_list_refuses_other_hosts_before_connecting(app, robots):
    url = robots.add("wecom", TOKEN)
    result = send(ChannelConfig("wecom", url), message())
    assert (result.ok, result.retryable, result.detail) == (False, False, "host_not_allowed")
    assert robots.connections == 0 and robots.received == []


def test_http_to_a_platform_host_is_refused(app):
    result = send(ChannelConfig("wecom", f"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN}"),
                  message())
    assert result.detail == "scheme"


@pytest.fixture
def listener():
    """A bare listening socket that records every connection it accepts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    accepted = []

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield sock.getsockname()[1], accepted
    sock.close()


def test_private_address_refused_before_connecting(app, listener):
    port, accepted = listener
    # An allowed origin that is not the operator's own listing may not resolve to a loopback address.
    settings = OutboundSettings(AllowList((AllowedOrigin("http", "localhost", port, private_ok=False),)), 0.5)
    result = send_wecom(ChannelConfig("wecom", f"http://localhost:{port}/cgi-bin/webhook/send?key=k"),
                        message(), settings)
    assert result.detail == "private_address"
    assert accepted == []


@pytest.mark.parametrize("addresses", [["10.1.2.3"], ["203.0.113.9", "127.0.0.1"], ["169.254.169.254"],
                                       ["::1"], ["fe80::1"], ["::ffff:192.168.0.1"], ["100.64.0.1"]])
def test_every_resolved_address_is_checked(app, addresses):
    settings = OutboundSettings(AllowList.parse(None))
    with pytest.raises(OutboundRefused) as refused:
        check_url("https://oapi.dingtalk.com/robot/send?access_token=x", settings, lambda host, port: addresses)
    assert refused.value.reason == "private_address"


def test_request_goes_to_the_checked_address(alerts_app, robots):
    # "robots.test" does not exist in DNS: the request reaches the stand-in only because the sender
    # connects to the address it checked, with the URL's host in the Host header.
    port = robots.origin.rsplit(":", 1)[1]
    config = {**alerts_app.config, "ALERT_ALLOWED_HOSTS": f"http://robots.test:{port}"}
    robots.add("wecom", TOKEN)
    result = send(ChannelConfig("wecom", f"http://robots.test:{port}/cgi-bin/webhook/send?key={TOKEN}"),
                  message(), config=config, resolver=lambda host, p: ["127.0.0.1"] if host == "robots.test" else [])
    assert result.ok
    assert robots.accepted()[0].headers["Host"] == f"robots.test:{port}"


def test_allow_list_parsing():
    allow = AllowList.parse("gateway.example.com, http://127.0.0.1:8025")
    assert allow.match("https", "gateway.example.com", 443)
    assert not allow.match("http", "gateway.example.com", 80)
    assert allow.match("http", "127.0.0.1", 8025)
    assert not allow.match("http", "127.0.0.1", 8026)
    assert not allow.match("https", "oapi.dingtalk.com", 443)  # the operator's list replaces the default
    assert AllowList.parse("").match("https", "open.larksuite.com", 443)


# -- e-mail --------------------------------------------------------------------------------------

@pytest.fixture
def smtp():
    server = StandinSMTP().start()
    yield server
    server.stop()


def test_email_is_multipart_alternative(app_factory, smtp):
    app = app_factory(**smtp.settings(), PORTAL_BASE_URL="https://portal.example.com")
    with app.app_context():
        result = send(ChannelConfig("email", email_to="ops@example.com, boss@example.com"), message())
    assert (result.ok, result.platform_code) == (True, 250)
    (mail,) = smtp.messages
    assert smtp.envelopes == [("alerts@portal.test", ["ops@example.com", "boss@example.com"])]
    assert mail["Subject"] == "Amazon authorization of 1 shop expires in 7 days"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Acme US · A1B2C3D4E5F6G7 · US CA" in plain and "https://portal.example.com/shops/3" in plain
    assert '<a href="https://portal.example.com/shops/3">' in html and "<li>Acme US" in html


def test_email_starttls_required_but_not_offered(app_factory, smtp):
    app = app_factory(**{**smtp.settings(), "SMTP_SECURITY": "starttls"})
    with app.app_context():
        result = send(ChannelConfig("email", email_to="ops@example.com"), message())
    assert (result.ok, result.retryable, result.detail) == (False, False, "smtp_no_starttls")
    assert smtp.messages == []


def test_email_ssl_against_plain_server_fails_clearly(app_factory, smtp):
    app = app_factory(**{**smtp.settings(), "SMTP_SECURITY": "ssl"})
    with app.app_context():
        result = send(ChannelConfig("email", email_to="ops@example.com"), message())
    assert (result.ok, result.detail) == (False, "smtp_tls")
    assert smtp.messages == []


def test_smtp_security_selection():
    assert SmtpSettings.from_config({"SMTP_SECURITY": "ssl"}).port == 465
    assert SmtpSettings.from_config({}).port == 587
    assert SmtpSettings.from_config({"SMTP_SECURITY": "none", "SMTP_PORT": 2525}).port == 2525
    with pytest.raises(ValueError):
        SmtpSettings.from_config({"SMTP_SECURITY": "tls1"})
    assert callable(smtp_connection)


def test_email_without_recipients_is_not_configured(app_factory, smtp):
    app = app_factory(**smtp.settings())
    with app.app_context():
        result = send(ChannelConfig("email", email_to=""), message())
    assert (result.ok, result.detail) == (False, "not_configured")


# -- texts -----------------------------------------------------------------------------------------

def test_message_texts_in_english(alerts_app):
    msg = build_message(AUTH_EXPIRING, [SHOP, ShopRef("Acme DE", "A9Z8Y7X6W5V4U3", ("DE",))], language="en",
                        days=30, on=date(2026, 12, 31), path="/shops")
    assert msg.title == "Amazon authorization of 2 shops expires in 30 days"
    assert msg.lines == ("Acme US · A1B2C3D4E5F6G7 · US CA", "Acme DE · A9Z8Y7X6W5V4U3 · DE",
                         "Expires on 2026-12-31", "Re-authorize before 2026-12-31, or orders stop syncing.")
    assert msg.link == "https://portal.example.com/shops"
    assert build_message(SYNC_STOPPED, [SHOP], language="en").title == "Order sync stopped for 1 shop"


def test_message_texts_in_chinese_by_default(alerts_app):
    msg = build_message(CHECK_FAILED, [SHOP], on=date(2026, 12, 1))
    assert msg.title == "1 个店铺验证失败"
    assert "A1B2C3D4E5F6G7" in msg.lines[0]
    assert "自 2026-12-01 起" in msg.lines
    assert msg.link_text == "在店铺门户中打开"
    expiring = message("zh")
    assert expiring.title == "1 个店铺的亚马逊授权将在 7 天后到期"


# -- secrets never logged --------------------------------------------------------------------------

def test_secrets_never_logged(alerts_app, robots, caplog):
    caplog.set_level(logging.DEBUG)
    for kind in ("wecom", "dingtalk", "feishu"):
        url = robots.add(kind, TOKEN, secret=SECRET if kind != "wecom" else "")
        assert send(ChannelConfig(kind, url, SECRET if kind != "wecom" else ""), message()).ok
    signs = [r.query.get("sign") or (r.body or {}).get("sign") for r in robots.received]
    assert len(robots.received) == 3 and all(signs[1:])
    text = caplog.text
    assert TOKEN not in text and SECRET not in text
    assert not any(sign in text or quote(sign, safe="") in text for sign in signs[1:])
    assert "/robot/send" not in text  # no log line names the URL, with or without an app context
    assert "alert via dingtalk to 127.0.0.1" in text


# -- HTTPS to the checked address, certificate checked for the URL's host -------------------------

def _self_signed(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("cert_name, ok", [("robots.test", True), ("someone-else.test", False)])
def test_https_to_the_checked_address_verifies_the_host_name(app, tmp_path, cert_name, ok):
    cert_file, key_file = _self_signed(tmp_path, cert_name)
    with StandinRobots(ssl_context=(cert_file, key_file)) as secure:
        port = secure.origin.rsplit(":", 1)[1]
        secure.add("feishu", TOKEN)
        config = {**app.config, "ALERT_ALLOWED_HOSTS": f"https://robots.test:{port}",
                  "ALERT_CA_BUNDLE": cert_file, "ALERT_TIMEOUT_SECONDS": 2}
        result = send(ChannelConfig("feishu", f"https://robots.test:{port}/open-apis/bot/v2/hook/{TOKEN}"),
                      message(), config=config, resolver=lambda host, p: ["127.0.0.1"])
    if ok:
        assert (result.ok, result.platform_code) == (True, 0)
    else:
        assert (result.ok, result.retryable, result.detail) == (False, False, "tls_failed")
        assert secure.accepted() == []


def test_shop_names_never_become_markup_or_mentions(alerts_app, robots):
    evil = ShopRef("<at id=all></at><@all>[click](https://evil.example)", "A1B2C3D4E5F6G7")
    msg = build_message(CHECK_FAILED, [evil], language="en")
    for kind in ("wecom", "dingtalk", "feishu"):
        url = robots.add(kind, TOKEN)
        assert send(ChannelConfig(kind, url, mentions=["all", "@all", "<b>x</b>", "ou_ok"]), msg).ok
    wecom, dingtalk, feishu = (json.dumps(r.body, ensure_ascii=False) for r in robots.received)
    for body in (wecom, dingtalk, feishu):
        assert "<at id=all>" not in body and "<@all>" not in body and "](https://evil" not in body
        assert "<b>" not in body
    assert "<@ou_ok>" in wecom and "<at id=ou_ok></at>" in feishu
    assert json.loads(dingtalk)["at"] == {"atMobiles": [], "atUserIds": ["ou_ok"], "isAtAll": False}


def test_rate_limit_codes_are_retryable_and_faults_can_be_limited(alerts_app, robots):
    url = robots.add("dingtalk", TOKEN)
    robots.forced_answers = [{"errcode": 410100, "errmsg": "send too fast"}]
    busy = send(ChannelConfig("dingtalk", url), message())
    assert (busy.ok, busy.platform_code, busy.retryable) == (False, 410100, True)
    robots.fail(500, times=1)
    assert send(ChannelConfig("dingtalk", url), message()).retryable
    assert send(ChannelConfig("dingtalk", url), message()).ok


def test_bad_setting_is_a_result_not_a_crash(alerts_app, robots):
    config = {**alerts_app.config, "ALERT_ALLOWED_HOSTS": "ftp://files.example.com"}
    result = send(ChannelConfig("wecom", robots.add("wecom", TOKEN)), message(), config=config)
    assert (result.ok, result.retryable, result.detail) == (False, False, "bad_setting")
    assert "ALERT_ALLOWED_HOSTS" in result.platform_message
    assert robots.connections == 0


@pytest.mark.parametrize("url", ["", "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                                 "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k k",
                                 "https://user:pw@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                                 "https://qyapi.weixin.qq.com:99999/x", "javascript:alert(1)",
                                 "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=键"])
def test_malformed_urls_are_refused(app, url):
    result = send(ChannelConfig("wecom", url), message())
    assert (result.ok, result.retryable) == (False, False)
    assert result.detail in {"bad_url", "scheme"}
