"""`make demo`: the portal against a stand-in Amazon, with shops in every interesting state.

Everything runs offline in one process: the stand-in Amazon and stand-in chat robots (DingTalk, WeCom,
Feishu) on 127.0.0.1, and the portal with a demo database of its own (instance/demo.db), so your real
database is never touched. Two alert channels are set up and the alert scan has run once, so the Alerts
page, the header count and the Notifications page have something to show; more robots for "New channel"
are printed at start.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from werkzeug.serving import make_server

from config import Config
from devtools.robots import StandinRobots
from devtools.standin import StandinAmazon
from portal import create_app
from portal.accounts import add_user, create_company_with_admin
from portal.alerts.channels import set_credentials
from portal.alerts.delivery import send_message
from portal.alerts.events import scan
from portal.alerts.messages import KINDS, TEST
from portal.extensions import db
from portal.models import ROLE_MEMBER, AlertChannel, ShopAssignment, utcnow
from portal.shops.services import create_shop
from portal.shops.verify import check_authorization

US, CA, MX, DE, FR, IT, ES, JP = ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A1PA6795UKMFR9",
                                  "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS", "A1VC38T7YXB528")

# name, region, marketplaces, seller, stand-in scenario, seller's real region, authorization age (days), verify now
SHOPS = [
    ("美国主店 US main", "NA", [US], "A1DEMO0000001", "valid", "NA", 20, True),
    ("北美多国 NA multi", "NA", [US, CA, MX], "A1DEMO0000002", "valid", "NA", 100, True),
    ("欧洲五国 EU five", "EU", [DE, FR, IT, ES], "A1DEMO0000003", "suspended", "EU", 40, True),
    ("已撤销 Revoked", "NA", [US], "A1DEMO0000004", "revoked", "NA", 200, True),
    ("区域选错 Wrong region", "NA", [US], "A1DEMO0000005", "valid", "EU", 30, True),
    ("限流 Throttled", "FE", [JP], "A1DEMO0000006", "throttled", "FE", 60, True),
    ("即将过期 Expiring in 10 days", "EU", [DE], "A1DEMO0000007", "valid", "EU", 355, True),
    ("已过期 Expired", "NA", [CA], "A1DEMO0000008", "revoked", "NA", 380, False),
    ("部分站点 Partial", "NA", [US, MX], "A1DEMO0000009", "partial", "NA", 10, False),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--amazon-latency", type=float, default=0.2, help="seconds per stand-in Amazon request")
    args = parser.parse_args(argv)

    standin = StandinAmazon(latency=args.amazon_latency, slow_seconds=5).start()
    robots = StandinRobots().start()
    instance = Path(os.environ.get("INSTANCE_PATH", Path(__file__).resolve().parent.parent / "instance"))
    database = instance / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    demo_config = type("DemoConfig", (Config,), {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        **standin.portal_settings(),
        # "Authorize with Amazon" against the stand-in's consent page.
        "AMAZON_APP_ID": standin.app_id, "AMAZON_SELLER_CENTRAL_URL": standin.url,
        "AMAZON_READ_TIMEOUT": 3.0, "AMAZON_MAX_TOTAL_WAIT": 2.0, "VERIFY_THROTTLE_SECONDS": 10,
        "HTMX_SOURCE": os.environ.get("HTMX_SOURCE", "local"),
        "ALERT_ALLOWED_HOSTS": robots.origin, "PORTAL_BASE_URL": f"http://{args.host}:{args.port}",
    })
    app = create_app(demo_config)
    admin_password, member_password = secrets.token_urlsafe(9), secrets.token_urlsafe(9)
    with app.app_context():
        company_id = _seed(app, standin, admin_password, member_password)
        _seed_alerts(robots, company_id)
    spare = {platform: robots.add(platform, f"demo-spare-{platform}", secret="SECdemo" if platform != "wecom" else "")
             for platform in ("dingtalk", "wecom", "feishu")}

    server = make_server(args.host, args.port, app, threaded=True)
    print(f"""
Shop Portal demo on http://{args.host}:{args.port}/  (stand-in Amazon on {standin.url})
  admin:  demo-admin@example.com   password: {admin_password}
  member: demo-member@example.com  password: {member_password}
Stand-in robots for "New channel" on the Notifications page (signing secret: SECdemo; WeCom has none):
  DingTalk {spare["dingtalk"]}
  WeCom    {spare["wecom"]}
  Feishu   {spare["feishu"]}
Press Ctrl-C to stop. The demo database is {database}.""", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        standin.stop()
        robots.stop()


def _seed_alerts(robots: StandinRobots, company_id: int) -> None:
    """A signed DingTalk channel and a WeCom channel with a daily digest; one alert scan, its messages sent."""
    events = ",".join(kind for kind in KINDS if kind != TEST)
    for name, platform, secret, digest in (("运营群 Ops group", "dingtalk", "SECdemo-ops", False),
                                           ("老板日报 Daily digest", "wecom", "", True)):
        channel = AlertChannel(company_id=company_id, name=name, name_key=name.casefold(), kind=platform,
                               events=events, digest=digest)
        db.session.add(channel)
        db.session.flush()
        set_credentials(channel, webhook_url=robots.add(platform, f"demo-{platform}", secret=secret), secret=secret)
    db.session.commit()
    found = scan()
    db.session.commit()
    for message_id in found.message_ids:
        send_message(message_id)


def _seed(app, standin: StandinAmazon, admin_password: str, member_password: str) -> int:
    upgrade()
    admin = create_company_with_admin(company_name="Demo Trading 演示贸易", display_name="Demo Admin",
                                      email="demo-admin@example.com", password=admin_password)
    member = add_user(admin.company, display_name="Demo Member 小王", email="demo-member@example.com",
                      password=member_password, role=ROLE_MEMBER, must_change_password=False)
    db.session.commit()
    to_verify = []
    for index, (name, region, marketplaces, seller, scenario, real_region, age, verify_now) in enumerate(SHOPS):
        token = f"Atzr|standin-demo-{index}-{secrets.token_hex(8)}"
        standin.register(token, seller_id=seller, scenario=scenario, region=real_region,
                         marketplaces=marketplaces[:1] if scenario == "partial" else marketplaces,
                         store_name=f"Demo Store {index + 1}")
        shop = create_shop(admin, name=name, region=region, mode="multi" if len(marketplaces) > 1 else "single",
                           marketplace_ids=marketplaces, seller_id=seller, token=token).shop
        shop.authorization.authorized_at = utcnow() - timedelta(days=age)
        if index % 2 == 0:
            shop.assignments.append(ShopAssignment(user_id=member.id))
        db.session.commit()
        if verify_now:
            to_verify.append(shop.authorization_id)
    for authorization_id in to_verify:
        check_authorization(authorization_id, force=True)
    return admin.company_id


if __name__ == "__main__":
    sys.exit(main())
