"""CLI commands: thin wrappers over services."""
import time
from collections import Counter

import click
from flask import Flask
from sqlalchemy import select

from .accounts import AccountError, create_company_with_admin, repair_company_admin
from .alerts.delivery import send_message, stuck_messages
from .alerts.events import scan as scan_alerts
from .audit import record
from .crypto import TokenUnavailable, decrypt_channel_config, decrypt_token, needs_rotation, rotate
from .database import write_intent
from .extensions import db
from .forms import EMAIL_RE, has_invisible
from .models import SYNC_OK, SYNC_WAITING, AlertChannel, Company, SellerAuthorization, Shop
from .orders_sync import authorization_of_shop, authorizations_of_company, sync_authorization
from .queue import authorization_target, recorded
from .shops.verify import get_client, verify_many


def register(app: Flask) -> None:
    register_key_commands(app)
    register_sync_command(app)
    register_alert_command(app)

    @app.cli.command("create-admin")
    @click.option("--company", "company_name", help="Company name (first set-up only).")
    @click.option("--company-id", type=click.IntRange(1, 2**31 - 1),
                  help="Add the admin to this existing company (repair: works when users exist).")
    @click.option("--email", required=True, help="The admin's email, used to sign in.")
    @click.option("--name", "display_name", required=True, help="The admin's display name.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  envvar="PORTAL_ADMIN_PASSWORD", help="Asked for when not given (or PORTAL_ADMIN_PASSWORD).")
    def create_admin(company_name, company_id, email, display_name, password):
        """Set up the portal from a script (the company and its first admin), or with --company-id add
        an admin to a company that has none left (the new admin changes the password at sign-in)."""
        if (company_name is None) == (company_id is None):
            raise click.UsageError("Give either --company (first set-up) or --company-id (existing company).")
        email = email.strip().lower()
        if not EMAIL_RE.match(email) or len(email) > 254:
            raise click.UsageError(f"'{email}' is not an email address.")
        for label, value in (("--company", company_name), ("--name", display_name)):
            if value is not None and (not value.strip() or len(value) > 100 or has_invisible(value)):
                raise click.UsageError(f"{label} must be 1 to 100 visible characters.")
        with write_intent():
            try:
                if company_id is None:
                    user = create_company_with_admin(company_name=company_name, display_name=display_name,
                                                     email=email, password=password)
                else:
                    user, created = repair_company_admin(company_id, email=email, display_name=display_name,
                                                         password=password)
                    _audit_repair(user, created)
            except AccountError as error:
                db.session.rollback()
                raise click.ClickException(str(error.message)) from None
            company = user.company.name
            db.session.commit()
        if company_id is None:
            click.echo(f"Created company '{company}' and admin {email}. Sign in at /login.")
        else:
            click.echo(f"{email} is now an active admin of company '{company}' ({company_id}). Sign in at /login.")

    @app.cli.command("promote-admin")
    @click.option("--company-id", type=click.IntRange(1, 2**31 - 1), required=True, help="The company (its id).")
    @click.option("--email", required=True, help="The email of a user of that company.")
    def promote_admin(company_id, email):
        """Make a user of the company an active admin again (repair a company left without an admin)."""
        with write_intent():
            try:
                user, created = repair_company_admin(company_id, email=email)
                _audit_repair(user, created)
            except AccountError as error:
                db.session.rollback()
                raise click.ClickException(str(error.message)) from None
            label = user.email
            db.session.commit()
        click.echo(f"{label} is now an active admin of company {company_id}.")

    @app.cli.command("verify-shops")
    @click.option("--company", "company_id", type=int, help="Only this company (its id).")
    @click.option("--shop", "shop_ids", type=int, multiple=True, help="Only this shop id (repeatable).")
    @click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
                  help="Amazon checks in flight at once.")
    def verify_shops(company_id, shop_ids, workers):
        """Verify shops with Amazon; exits 1 when any shop failed (for cron alerts)."""
        missing = get_client().settings.missing_settings()
        if missing:
            raise click.ClickException("Amazon is not configured: set " + ", ".join(missing) + ".")
        query = select(Shop.authorization_id).distinct()
        if company_id is not None:
            if db.session.get(Company, company_id) is None:
                raise click.UsageError(f"No company with id {company_id}.")
            query = query.where(Shop.company_id == company_id)
        if shop_ids:
            query = query.where(Shop.id.in_(shop_ids))
        authorization_ids = sorted(db.session.scalars(query))
        db.session.commit()  # no transaction stays open while the workers write
        if not authorization_ids:
            click.echo("No shops to verify.")
            return

        def progress(done, total, batch):
            for result in batch:
                state = result.code or "skipped (checked recently)"
                click.echo(f"[{done}/{total}] {result.shop_name} ({result.seller_id}, {result.region}): {state}")

        started = time.monotonic()
        results = verify_many(app, authorization_ids, workers=workers, progress=progress)
        elapsed = time.monotonic() - started
        tally = Counter("skipped" if r.code is None else r.code for r in results)
        expired = sum(1 for r in results if r.expired)
        click.echo("")
        click.echo(f"{'result':<28}{'shops':>7}")
        for code, number in sorted(tally.items(), key=lambda item: (item[0] != "verified", item[0])):
            label = code if code in ("verified", "skipped") else f"failed: {code}"
            click.echo(f"{label:<28}{number:>7}")
        click.echo(f"{'authorization expired':<28}{expired:>7}")
        click.echo(f"{len(results)} shops, {len(authorization_ids)} authorizations, {workers} workers, {elapsed:.1f} s")
        if any(r.code not in (None, "verified") for r in results):
            raise SystemExit(1)


def register_sync_command(app: Flask) -> None:
    @app.cli.command("sync-orders")
    @click.option("--shop", "shop_id", type=click.IntRange(1, 2**31 - 1), help="Only the seller of this shop (its id).")
    @click.option("--company", "company_id", type=click.IntRange(1, 2**31 - 1), help="Only this company (its id).")
    @click.option("--max-wait", type=click.IntRange(0, 24 * 3600), default=900, show_default=True,
                  help="Seconds to wait in all for Amazon's rate limit before giving up.")
    def sync_orders(shop_id, company_id, max_wait):
        """Sync orders from Amazon in the foreground (for cron and support): waits while a sync waits for
        the rate limit, up to --max-wait; exits 1 when any seller failed or did not finish."""
        if shop_id is not None and company_id is not None:
            raise click.UsageError("Give --shop or --company, not both.")
        authorization_ids = _sync_targets(shop_id, company_id)
        db.session.commit()
        if not authorization_ids:
            click.echo("No Amazon shops to sync.")
            return
        deadline = time.monotonic() + max_wait
        failed = 0
        for authorization_id in authorization_ids:
            with write_intent():
                result, line = _sync_one(authorization_id, deadline)
            click.echo(line)
            failed += result != SYNC_OK
        click.echo(f"{len(authorization_ids)} sellers, {len(authorization_ids) - failed} synced, {failed} not")
        if failed:
            raise SystemExit(1)


def register_alert_command(app: Flask) -> None:
    @app.cli.command("alerts-scan")
    def alerts_scan():
        """Look for new alerts now and send their messages in the foreground (one try each; a retryable
        failure is left to the job queue's retries). Exits 1 when a message could not be sent."""
        found = None
        with write_intent():
            with recorded("alerts.scan") as run:
                found = scan_alerts()
                db.session.commit()
                run.summary = f"{found.events} new alerts, {found.closed} closed (command line)"
            if found is None:
                raise click.ClickException("The alert scan failed (see the log).")
            ids = sorted({*found.message_ids, *stuck_messages()})
            db.session.commit()
            outcomes = [(message_id, send_message(message_id)) for message_id in ids]
        click.echo(f"{found.events} new alerts, {found.closed} closed, {len(ids)} messages to send")
        for message_id, outcome in outcomes:
            state = "skipped (not due or taken by a job)" if outcome is None else outcome.status
            click.echo(f"message {message_id}: {state}" + (f" ({outcome.summary()})" if outcome else ""))
        if any(outcome is not None and not outcome.ok for _, outcome in outcomes):
            raise SystemExit(1)


def _sync_targets(shop_id: int | None, company_id: int | None) -> list[int]:
    if shop_id is not None:
        authorization_id = authorization_of_shop(shop_id)
        if authorization_id is None:
            raise click.UsageError(f"No shop with id {shop_id}.")
        return [authorization_id]
    if company_id is not None:
        if db.session.get(Company, company_id) is None:
            raise click.UsageError(f"No company with id {company_id}.")
        return authorizations_of_company(company_id)
    return [a for c in db.session.scalars(select(Company.id).order_by(Company.id)) for a in authorizations_of_company(c)]


def _sync_one(authorization_id: int, deadline: float) -> tuple[str, str]:
    """Sync one authorization to the end (waiting for the rate limit while the deadline allows);
    recorded as a job run. (final status, summary line)."""
    company_id, target = authorization_target(authorization_id)
    totals = Counter()
    status, error = "error", ""
    with recorded("orders.sync", company_id=company_id, authorization_id=authorization_id, target=target) as run:
        while True:
            result = sync_authorization(authorization_id)
            totals.update(pages=result.pages, created=result.created, updated=result.updated, requests=result.requests)
            status, error = result.status, " ".join(filter(None, (result.error_code, result.error_detail)))
            wait = result.retry_after or 1
            if status != SYNC_WAITING or time.monotonic() + wait > deadline:
                break
            click.echo(f"{target}: waiting {wait} s for Amazon's rate limit")
            time.sleep(wait)
        run.status, run.error = status, error or None
        run.summary = (f"{totals['pages']} pages, {totals['created']} new, {totals['updated']} updated, "
                       f"{totals['requests']} requests (command line)")
    line = (f"{target}: {status}, {totals['pages']} pages, {totals['created']} new, {totals['updated']} updated"
            + (f" ({error})" if error else ""))
    return status, line


def _audit_repair(user, created: bool) -> None:
    record("user.created" if created else "user.role_changed", target=user, user_label="cli",
           company_id=user.company_id, detail="role=admin (repair from the command line)")


def register_key_commands(app: Flask) -> None:
    @app.cli.command("rotate-token-key")
    @click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True)
    def rotate_token_key(batch_size):
        """Re-encrypt every stored Amazon token with the newest key of TOKEN_ENC_KEYS.

        Safe to interrupt and run again: each batch is committed, rows already on the newest key
        are skipped, and a token that no key can read is reported and left as it is."""
        rotated, current, unreadable = _rotate_rows(
            SellerAuthorization, "token_ciphertext", batch_size,
            prove=lambda row: decrypt_token(row.token_ciphertext, company_id=row.company_id, seller_id=row.seller_id,
                                            region=row.region),
            unreadable_text=lambda row: f"authorization {row.id} (seller {row.seller_id}, {row.region}): its token "
                                        "cannot be read; re-authorize its shops")
        channels = _rotate_rows(
            AlertChannel, "config_ciphertext", batch_size, AlertChannel.config_ciphertext.is_not(None),
            prove=lambda row: decrypt_channel_config(row.config_ciphertext, company_id=row.company_id,
                                                     channel_id=row.id),
            unreadable_text=lambda row: f"alert channel {row.id}: its settings cannot be read; paste its webhook "
                                        "address again")
        detail = f"rotated={rotated} current={current} unreadable={unreadable}"
        if any(channels):
            detail += " channels={}/{}/{}".format(*channels)
        with write_intent():
            record("keys.rotated", detail=detail, user_label="cli")
            db.session.commit()
        click.echo(f"Re-encrypted {rotated} tokens with the newest key; {current} were already on it; "
                   f"{unreadable} could not be read.")
        click.echo(f"Re-encrypted {channels[0]} channels with the newest key; {channels[1]} were already on it; "
                   f"{channels[2]} could not be read.")
        if unreadable or channels[2]:
            raise SystemExit(1)


def _rotate_rows(model, column: str, batch_size: int, *where, prove, unreadable_text) -> tuple[int, int, int]:
    """Re-encrypt `column` of every `model` row with the newest key: each batch committed, rows already on
    the newest key skipped, a row whose ciphertext `prove` cannot read (nor show to be its own) reported
    and left as it is. Returns (rotated, current, unreadable)."""
    rotated = current = unreadable = 0
    last_id = 0
    while True:
        with write_intent():
            rows = db.session.scalars(select(model).where(model.id > last_id, *where)
                                      .order_by(model.id).limit(batch_size)).all()
            if not rows:
                return rotated, current, unreadable
            for row in rows:
                try:  # also proves the ciphertext belongs to this row
                    prove(row)
                except TokenUnavailable:
                    unreadable += 1
                    click.echo(unreadable_text(row), err=True)
                    continue
                ciphertext = getattr(row, column)
                if needs_rotation(ciphertext):
                    setattr(row, column, rotate(ciphertext))
                    rotated += 1
                else:
                    current += 1
            last_id = rows[-1].id
            db.session.commit()
