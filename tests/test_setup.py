"""First run: the set-up page and the create-admin command."""
from portal.extensions import db
from portal.models import Company, User

SETUP = {"company_name": "Acme Trading", "display_name": "Li Wei", "email": "Li.Wei@Example.com",
         "password": "a long enough passphrase", "confirm": "a long enough passphrase"}


def test_every_page_leads_to_setup_while_no_account_exists(client):
    for path in ("/", "/login", "/shops", "/my-shops", "/admin/users", "/account/password"):
        response = client.get(path)
        assert response.status_code == 303, path  # hx_redirect: See Other for browsers, HX-Redirect for htmx
        assert response.headers["Location"].endswith("/setup")


def test_setup_creates_company_and_admin_then_disappears(client):
    response = client.post("/setup", data=SETUP)
    assert response.status_code == 303
    user = db.session.scalar(db.select(User))
    assert user.email == "li.wei@example.com" and user.role == "admin" and not user.must_change_password
    assert user.company.name == "Acme Trading"
    assert user.password_hash.startswith("scrypt:") and "a long enough" not in user.password_hash
    # Signed in straight away.
    assert client.get("/admin/users").status_code == 200
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data=SETUP).status_code == 404
    assert db.session.scalar(db.select(db.func.count(Company.id))) == 1


def test_setup_validation_messages(client):
    bad = dict(SETUP, email="not-an-email", password="password", confirm="different")
    response = client.post("/setup", data=bad)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter an email address" in body
    assert "The two passwords differ." in body
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_setup_refuses_common_password(client):
    response = client.post("/setup", data=dict(SETUP, password="password123", confirm="password123"))
    assert "too common" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_setup_refuses_oversized_name_without_error(client):
    response = client.post("/setup", data=dict(SETUP, company_name="x" * 10_000))
    assert response.status_code == 200
    assert "Field cannot be longer than 100 characters." in response.get_data(as_text=True)


def test_cli_create_admin(runner, app):
    result = runner.invoke(args=["create-admin", "--company", "Acme", "--email", "Boss@Example.com",
                                 "--name", "Boss"], input="a long enough passphrase\na long enough passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Created company 'Acme' and admin boss@example.com" in result.output
    user = db.session.scalar(db.select(User))
    assert user.is_admin and user.company.name == "Acme"
    again = runner.invoke(args=["create-admin", "--company", "X", "--email", "b@example.com", "--name", "B",
                                "--password", "another long passphrase"])
    assert again.exit_code != 0 and "already set up" in again.output


def test_cli_create_admin_clear_errors(runner):
    result = runner.invoke(args=["create-admin", "--company", "Acme", "--email", "nope", "--name", "Boss",
                                 "--password", "a long enough passphrase"])
    assert result.exit_code == 2 and "'nope' is not an email address" in result.output
    result = runner.invoke(args=["create-admin", "--company", "Acme", "--email", "a@example.com", "--name", "Boss",
                                 "--password", "short"])
    assert result.exit_code == 1 and "at least 8 characters" in result.output
    assert "Traceback" not in result.output
