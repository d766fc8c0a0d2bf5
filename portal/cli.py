"""CLI commands: thin wrappers over services."""
import click
from flask import Flask

from .database import write_intent
from .extensions import db


def register(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.option("--company", "company_name", required=True, help="Company name (first set-up only).")
    @click.option("--email", required=True, help="The admin's email, used to sign in.")
    @click.option("--name", "display_name", required=True, help="The admin's display name.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  envvar="PORTAL_ADMIN_PASSWORD", help="Asked for when not given (or PORTAL_ADMIN_PASSWORD).")
    def create_admin(company_name, email, display_name, password):
        """Set up the portal from a script: the company and its first admin."""
        from .auth.services import AccountError, create_company_with_admin
        from .forms import EMAIL_RE, has_invisible

        email = email.strip().lower()
        if not EMAIL_RE.match(email) or len(email) > 254:
            raise click.UsageError(f"'{email}' is not an email address.")
        for label, value in (("--company", company_name), ("--name", display_name)):
            if not value.strip() or len(value) > 100 or has_invisible(value):
                raise click.UsageError(f"{label} must be 1 to 100 visible characters.")
        with write_intent():
            try:
                user = create_company_with_admin(company_name=company_name, display_name=display_name,
                                                 email=email, password=password)
            except AccountError as error:
                db.session.rollback()
                raise click.ClickException(str(error.message)) from None
            db.session.commit()
        click.echo(f"Created company '{user.company.name}' and admin {user.email}. Sign in at /login.")
