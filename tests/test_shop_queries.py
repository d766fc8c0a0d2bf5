"""The Shop list and My shops issue the same number of SQL statements for 5 rows as for 500."""
import pytest
from sqlalchemy import event, insert

from portal.extensions import db
from portal.models import Shop, ShopAssignment, ShopMarketplace


def _seed(admin, member, make_shop, n):
    shop = make_shop(admin, name="Seed", assign=[member])
    rows = [{"company_id": admin.company_id, "authorization_id": shop.authorization_id, "name": f"Bulk {i:04d}",
             "name_key": f"bulk {i:04d}", "mode": "single", "created_at": shop.created_at} for i in range(n - 1)]
    db.session.execute(insert(Shop), rows)
    db.session.commit()
    ids = [s.id for s in db.session.scalars(db.select(Shop).where(Shop.name.like("Bulk%")))]
    db.session.execute(insert(ShopMarketplace), [
        {"shop_id": sid, "authorization_id": shop.authorization_id, "marketplace_id": f"M{sid}", "position": 0}
        for sid in ids])
    db.session.execute(insert(ShopAssignment), [{"shop_id": sid, "user_id": member.id} for sid in ids])
    db.session.commit()


def _count_statements(app, client, path):
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("path", ["/shops", "/my-shops"])
def test_statement_count_does_not_grow_with_rows(app_factory, path):
    counts = {}
    for size, rows in ((50, 5), (500, 500)):
        app = app_factory(PAGE_SIZE=size)
        client = app.test_client()
        with app.app_context():
            from portal.passwords import hash_password
            from portal.models import Company, User
            from tests.conftest import PASSWORD

            db.drop_all()
            db.create_all()
            company = Company(name="C")
            admin = User(company=company, email="a@example.com", display_name="A", role="admin",
                         password_hash=hash_password(PASSWORD))
            member = User(company=company, email="m@example.com", display_name="M", role="admin",
                          password_hash=hash_password(PASSWORD))
            db.session.add_all([admin, member])
            db.session.commit()
            from portal.shops.services import create_shop

            def make_shop(creator, name, assign):
                result = create_shop(creator, name=name, region="NA", mode="single", marketplace_ids=["ATVPDKIKX0DER"],
                                     seller_id="A123456789012", token="Atzr|statement-count-token-0123456789")
                for user in assign:
                    result.shop.assignments.append(ShopAssignment(user_id=user.id))
                db.session.commit()
                return result.shop

            _seed(admin, member, make_shop, rows)
            email = "m@example.com"
        client.post("/login", data={"email": email, "password": PASSWORD})
        counts[rows] = _count_statements(app, client, path)
    assert counts[5] == counts[500], counts
    assert counts[500] <= 8, counts


def test_throttled_verify_answer_stays_within_eight_statements(app_factory):
    from portal.passwords import hash_password
    from portal.models import Company, SellerAuthorization, User, utcnow
    from portal.shops.services import create_shop
    from tests.conftest import PASSWORD

    app = app_factory(AMAZON_LWA_CLIENT_ID="id", AMAZON_LWA_CLIENT_SECRET="secret",
                      AMAZON_LWA_TOKEN_URL="http://127.0.0.1:9/never-called")
    client = app.test_client()
    with app.app_context():
        company = Company(name="C")
        admin = User(company=company, email="a@example.com", display_name="A", role="admin",
                     password_hash=hash_password(PASSWORD))
        db.session.add(admin)
        db.session.commit()
        shop = create_shop(admin, name="S", region="NA", mode="single", marketplace_ids=["ATVPDKIKX0DER"],
                           seller_id="A123456789012", token="Atzr|statement-count-token-0123456789").shop
        shop.authorization.check_claimed_at = utcnow()  # checked a moment ago: the throttle answers
        db.session.commit()
        shop_id = shop.id
    client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
    token = client.csrf_token()
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.post(f"/shops/{shop_id}/verify", data={"view": "all", "csrf_token": token}, csrf=False,
                               headers={"HX-Request": "true"})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200 and "you can check again at" in response.get_data(as_text=True)
    assert len(statements) <= 8, statements
    assert len(response.get_data()) <= 3072
    with app.app_context():
        assert db.session.get(SellerAuthorization, 1).check_claimed_at is not None
