"""Forms keep what the user typed, in a real browser: a pasted token survives a form error (the server
never sends it back), old errors clear as soon as the field changes and focus goes to the first error,
a dialog with changes asks before an outside click or Escape drops them, a role change asks and says it
was saved (Cancel puts the old role back), and a user's shops are saved across pages at once."""
import pytest

from .conftest import seed_company, sign_in
from .helpers import SameDocument, dialog, flash

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

TOKEN = "Atzr|IwEBIForms-journey-refresh-token-0001"
SELLER = "A2FORMSSELLER1"
AUTHORIZED = "I have authorized the third-party application in Seller Central"
DISCARD = "Close without saving? Your changes in this form will be lost."


def open_new_shop(page):
    page.get_by_role("button", name="New shop").click()
    box = dialog(page)
    expect(box.get_by_role("heading", name="New Amazon shop")).to_be_visible()
    return box


def answer_dialogs(page, answers):
    """Answer the next window.confirm()s with `answers` (True: OK) in turn; returns the questions asked."""
    asked = []

    def on_dialog(d):
        asked.append(d.message)
        d.accept() if answers.pop(0) else d.dismiss()

    page.on("dialog", on_dialog)
    return asked


def stored_token_last4(live_server, name):
    from portal.extensions import db
    from portal.models import Shop

    with live_server.app.app_context():
        try:
            return db.session.scalars(db.select(Shop).where(Shop.name == name)).one().authorization.token_last4
        finally:
            db.session.remove()


def test_pasted_token_survives_a_form_error_and_is_saved(live_server, page):
    seed_company(live_server)
    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(live_server.url + "/shops")
    box = open_new_shop(page)
    box.get_by_label("Shop name").fill("Token shop")
    box.get_by_role("combobox", name="Country", exact=True).select_option(label="United States (US)")
    seller = box.get_by_label("Seller ID")
    seller.fill("hello")  # not a Seller ID
    token = box.get_by_label("Authorization token (refresh token)")
    token.fill(TOKEN)
    box.get_by_label(AUTHORIZED).check()
    same = SameDocument(page)
    with page.expect_response(lambda r: r.url.endswith("/shops/new") and r.request.method == "POST") as answer:
        box.get_by_role("button", name="Add shop").click()
    assert TOKEN not in answer.value.text()  # the server never sends the token back

    error = box.locator("#seller_id-error")
    expect(error).to_have_text("This does not look like a Seller ID. It is the Merchant Token in Seller Central "
                               "(Settings > Account Info > Merchant Token), e.g. A1B2C3D4E5F6G7.")
    expect(seller).to_have_attribute("aria-invalid", "true")
    expect(seller).to_be_focused()  # the first field with an error
    expect(token).to_have_value(TOKEN)  # kept by the browser
    expect(token).not_to_have_attribute("aria-invalid", "true")
    assert same.holds()

    # Fixing the field takes its error away at once, before any submit.
    seller.fill(SELLER)
    expect(error).to_have_count(0)
    expect(seller).not_to_have_attribute("aria-invalid", "true")

    with page.expect_request(lambda r: r.url.endswith("/shops/new") and r.method == "POST") as sent:
        box.get_by_role("button", name="Add shop").click()
    assert "Atzr%7CIwEBIForms-journey" in (sent.value.post_data or "")
    expect(flash(page)).to_contain_text("Shop “Token shop” added.")
    expect(page.locator("#results")).to_contain_text("Token shop")
    assert stored_token_last4(live_server, "Token shop") == TOKEN[-4:]


def test_an_error_on_the_token_itself_keeps_it_for_fixing(live_server, page):
    seed_company(live_server)
    sign_in(page, live_server, "ada@example.com")
    box = open_new_shop(page)
    box.get_by_label("Shop name").fill("Bad token shop")
    box.get_by_role("combobox", name="Country", exact=True).select_option(label="United States (US)")
    box.get_by_label("Seller ID").fill(SELLER)
    token = box.get_by_label("Authorization token (refresh token)")
    token.fill("Atzr|short")
    box.get_by_role("button", name="Add shop").click()
    expect(box.locator("#token-error")).to_contain_text("does not look like an SP-API refresh token")
    expect(token).to_have_attribute("aria-invalid", "true")
    expect(token).to_have_value("Atzr|short")
    expect(token).to_be_focused()
    # An empty Seller ID now: exactly one message, under the Seller ID.
    box.get_by_label("Seller ID").fill("")
    token.fill(TOKEN)
    expect(box.locator("#token-error")).to_have_count(0)
    box.get_by_role("button", name="Add shop").click()
    expect(box.locator("#seller_id-error")).to_have_text("This field is required.")
    expect(box.locator(".field-error")).to_have_count(2)  # Seller ID + the unticked box
    expect(box.get_by_label("Seller ID")).to_be_focused()
    expect(token).to_have_value(TOKEN)
    expect(token).not_to_have_attribute("aria-invalid", "true")


def test_dialog_with_changes_asks_before_closing(live_server, page):
    seed_company(live_server)
    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(live_server.url + "/shops")
    asked = answer_dialogs(page, [False, False, True, True])
    box = open_new_shop(page)

    # Nothing changed: an outside click closes without a question.
    page.mouse.click(8, 400)
    expect(box).to_be_hidden()
    assert asked == []

    box = open_new_shop(page)
    box.get_by_label("Shop name").fill("Half done")
    page.mouse.click(8, 400)  # outside the form: asked, "Cancel" keeps the dialog
    expect(box).to_be_visible()
    box.get_by_label("Shop name").press("Escape")  # Escape: asked again, "Cancel"
    expect(box).to_be_visible()
    expect(box.get_by_label("Shop name")).to_have_value("Half done")
    box.get_by_label("Shop name").press("Escape")  # "OK": closed
    expect(box).to_be_hidden()
    assert asked == [DISCARD, DISCARD, DISCARD]

    # The next dialog starts empty and unchanged.
    box = open_new_shop(page)
    expect(box.get_by_label("Shop name")).to_have_value("")
    box.get_by_label("Authorization token (refresh token)").fill(TOKEN)
    page.mouse.click(8, 400)  # OK
    expect(box).to_be_hidden()
    assert len(asked) == 4
    box = open_new_shop(page)
    expect(box.get_by_label("Authorization token (refresh token)")).to_have_value("")


def role_select(page, name):
    return page.locator("#results tr", has_text=name).locator("select[name=role]")


def test_role_change_asks_and_says_saved(live_server, page):
    seed_company(live_server, members=[("Mei Member", "mei@example.com")])
    sign_in(page, live_server, "ada@example.com")
    page.goto(live_server.url + "/admin/users")
    select = role_select(page, "Mei Member")
    expect(select).to_have_value("member")

    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/role" in r.url else None)
    asked = answer_dialogs(page, [False, True])
    select.select_option("admin")  # "Cancel": nothing sent, the old role is back
    expect(select).to_have_value("member")
    assert asked == ["Change the role of Mei Member to Admin?"] and posts == []

    select.select_option("admin")  # "OK"
    expect(flash(page)).to_have_text("Saved: Mei Member is now Admin.")
    expect(role_select(page, "Mei Member")).to_have_value("admin")
    assert len(posts) == 1 and len(asked) == 2
    page.reload()
    expect(role_select(page, "Mei Member")).to_have_value("admin")


def test_new_user_button_does_not_touch_the_search_box(live_server, page):
    seed_company(live_server)
    sign_in(page, live_server, "ada@example.com")
    page.goto(live_server.url + "/admin/users")
    button = page.get_by_role("button", name="New user").bounding_box()
    search = page.get_by_role("searchbox").bounding_box()
    assert search["y"] - (button["y"] + button["height"]) >= 8


def seed_shops(live_server, count):
    from portal.extensions import db
    from portal.models import User
    from portal.shops.services import create_shop

    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.role == "admin")).one()
        for n in range(count):
            create_shop(admin, name=f"Shop {n}", region="NA", mode="single", marketplace_ids=["ATVPDKIKX0DER"],
                        seller_id=f"A9PAGESELLER{n:02d}", token=f"Atzr|IwEBIPaged-shop-token-{n:04d}-abcdef")
        db.session.commit()
        member_id = db.session.scalars(db.select(User.id).where(User.role == "member")).one()
        db.session.remove()
        return member_id


def assigned_names(live_server, user_id):
    from portal.extensions import db
    from portal.models import Shop, ShopAssignment

    with live_server.app.app_context():
        try:
            return set(db.session.scalars(db.select(Shop.name).join(ShopAssignment)
                                          .where(ShopAssignment.user_id == user_id)))
        finally:
            db.session.remove()


def test_user_shops_saves_the_ticks_of_every_page(live_server_factory, new_page):
    live_server = live_server_factory(PAGE_SIZE=2)
    seed_company(live_server, members=[("Mei Member", "mei@example.com")])
    member_id = seed_shops(live_server, 3)
    page = new_page()
    sign_in(page, live_server, "ada@example.com")
    page.goto(f"{live_server.url}/admin/users/{member_id}/shops")
    results = page.locator("#results")
    boxes = results.locator("input[type=checkbox][name=selected]")
    expect(boxes).to_have_count(2)
    first_page = [boxes.nth(i).get_attribute("aria-label") for i in range(2)]
    results.get_by_label(first_page[0]).check()

    results.get_by_role("link", name="Next").click()
    expect(boxes).to_have_count(1)
    last = boxes.first.get_attribute("aria-label")
    assert last not in first_page
    boxes.first.check()

    results.get_by_role("link", name="Previous").click()
    expect(boxes).to_have_count(2)
    expect(results.get_by_label(first_page[0])).to_be_checked()  # remembered while paging

    page.get_by_role("button", name="Save changes").click()
    expect(flash(page)).to_contain_text("Shops of Mei Member saved.")
    assert assigned_names(live_server, member_id) == {first_page[0], last}


def test_reauthorize_keeps_the_pasted_token_until_the_box_is_ticked(live_server, page):
    seed_company(live_server)
    from portal.extensions import db
    from portal.models import User
    from portal.shops.services import create_shop

    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.role == "admin")).one()
        shop_id = create_shop(admin, name="Old token shop", region="NA", mode="single",
                              marketplace_ids=["ATVPDKIKX0DER"], seller_id="A9REAUTHSELLER",
                              token="Atzr|IwEBIOld-token-of-the-shop-0000-abcdef").shop.id
        db.session.commit()
        db.session.remove()
    sign_in(page, live_server, "ada@example.com")
    page.goto(f"{live_server.url}/shops/{shop_id}")
    page.get_by_role("button", name="Re-authorize").click()
    box = dialog(page)
    token = box.get_by_label("New authorization token (refresh token)")
    token.fill(TOKEN)
    box.get_by_role("button", name="Save new authorization").click()  # the box is not ticked
    ticked = box.get_by_label("I have re-authorized the application in Seller Central")
    expect(box.locator("#authorized-error")).to_contain_text("Re-authorize in Seller Central first")
    expect(ticked).to_be_focused()
    expect(token).to_have_value(TOKEN)
    ticked.check()
    expect(box.locator("#authorized-error")).to_have_count(0)
    box.get_by_role("button", name="Save new authorization").click()
    expect(box).to_be_hidden()
    assert stored_token_last4(live_server, "Old token shop") == TOKEN[-4:]
