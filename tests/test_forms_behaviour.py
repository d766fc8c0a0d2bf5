"""Forms keep what the user typed: the pasted token is kept by the browser (hx-preserve) and never echoed
by the server; one message per field error; dialogs carry the question asked before dropping changes;
role changes carry their confirmation and report that they were saved; a user's shops save across pages."""
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.forms import FormError, show_error
from portal.models import Shop, ShopAssignment, User
from portal.shops.forms import ShopForm

HX = {"HX-Request": "true"}
US = "ATVPDKIKX0DER"
TOKEN = "Atzr|IwEBIFormsBehaviourSentinelToken-0123456789abcdef"
NEW_SHOP = {"name": "US main", "region": "NA", "mode": "single", "marketplace": US,
            "seller_id": "A1B2C3D4E5F6G7", "token": TOKEN, "authorized": "y"}
ERROR_RE = re.compile(r'<small id="([\w-]+)-error" class="field-error"[^>]*>([^<]*)</small>')


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


def field_errors(body: str) -> dict[str, str]:
    return dict(ERROR_RE.findall(body))


def token_input(body: str) -> str:
    match = re.search(r'<input[^>]*name="token"[^>]*>', body)
    assert match, body
    return match.group(0)


# --- the pasted token ------------------------------------------------------------------------------


def test_new_shop_error_keeps_token_in_the_browser_not_in_the_answer(admin_client):
    response = admin_client.post("/shops/new", data=dict(NEW_SHOP, seller_id="hello"), headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert TOKEN not in body and "IwEBIFormsBehaviour" not in body
    field = token_input(body)
    # htmx keeps the element already in the page (same id), with what the user pasted.
    assert 'id="token"' in field and "hx-preserve" in field and not re.search(r'value="[^"]', field)
    assert "seller_id" in field_errors(body)
    assert db.session.scalar(select(Shop)) is None


def test_a_fresh_form_does_not_take_over_a_token_typed_before(admin_client):
    body = admin_client.get("/shops/new", headers=HX).get_data(as_text=True)
    assert "hx-preserve" not in token_input(body)


def test_full_page_post_never_echoes_the_token_either(admin_client):
    body = admin_client.post("/shops/new", data=dict(NEW_SHOP, name="")).get_data(as_text=True)
    assert TOKEN not in body and "<html" in body


def test_reauthorize_error_keeps_token_in_the_browser_not_in_the_answer(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a)
    response = admin_client.post(f"/shops/{shop.id}/reauthorize", data={"token": TOKEN, "authorized": ""},
                                 headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and TOKEN not in body
    field = token_input(body)
    assert 'id="token"' in field and "hx-preserve" in field
    assert set(field_errors(body)) == {"authorized"}
    assert "hx-preserve" not in token_input(admin_client.get(f"/shops/{shop.id}/reauthorize", headers=HX)
                                            .get_data(as_text=True))


def test_the_saved_token_is_the_one_pasted_before_the_error(admin_client):
    admin_client.post("/shops/new", data=dict(NEW_SHOP, authorized=""), headers=HX)
    response = admin_client.post("/shops/new", data=NEW_SHOP, headers=HX)
    assert "HX-Redirect" in response.headers
    assert db.session.scalar(select(Shop)).authorization.token_last4 == TOKEN[-4:]


# --- one message per error -------------------------------------------------------------------------


@pytest.mark.parametrize("changes,field,message", [
    ({"seller_id": ""}, "seller_id", "This field is required."),
    ({"seller_id": "   "}, "seller_id", "This field is required."),
    ({"name": "x\u200b" * 5_000}, "name", "Field cannot be longer than 100 characters."),
    ({"token": "Atzr|" + "a b" * 1500}, "token", None),
    ({"authorized_on": "yesterday"}, "authorized_on", "Not a valid date value."),
])
def test_new_shop_field_shows_exactly_one_message(admin_client, changes, field, message):
    body = admin_client.post("/shops/new", data=dict(NEW_SHOP, **changes), headers=HX).get_data(as_text=True)
    errors = field_errors(body)
    assert field in errors, body
    assert body.count(f'id="{field}-error"') == 1
    text = errors[field].strip()
    if message:
        assert text == message
    # Two messages would be two sentences run together.
    assert text.count(".") <= 1 or text.endswith("Authorize again and paste the new token.")


def test_add_user_field_shows_exactly_one_message(admin_client):
    data = {"display_name": "Zhang\u200b" * 40, "email": "x" * 300, "role": "member",
            "password": "temporary passphrase"}
    body = admin_client.post("/admin/users/new", data=data, headers=HX).get_data(as_text=True)
    errors = field_errors(body)
    assert errors["display_name"].strip() == "Field cannot be longer than 100 characters."
    assert errors["email"].strip().startswith("Field cannot be longer than")


def test_show_error_keeps_the_first_message(app):
    with app.test_request_context("/shops/new", method="POST", data={"seller_id": ""},
                                  headers={"Accept-Language": "en"}):
        app.config["WTF_CSRF_ENABLED"] = False
        form = ShopForm()
        form.bind_region("NA")
        form.validate()
        assert [str(e) for e in form.seller_id.errors] == ["This field is required."]
        show_error(form, FormError("Another message", field="seller_id"), "name")
        assert [str(e) for e in form.seller_id.errors] == ["This field is required."]
        form.name.errors = []
        show_error(form, FormError("Name taken", field="name"), "name")
        assert form.name.errors == ["Name taken"]


def test_error_texts_are_escaped(admin_client):
    body = admin_client.post("/shops/new", data=dict(NEW_SHOP, marketplace=""), headers=HX).get_data(as_text=True)
    assert field_errors(body)["marketplace"] == "Pick the shop&#39;s country."


# --- words on the form -----------------------------------------------------------------------------


def test_mode_legend_differs_from_the_country_label(admin_client):
    body = admin_client.get("/shops/new", headers=HX).get_data(as_text=True)
    legends = re.findall(r"<legend>([^<]*)</legend>", body)
    assert "Sells in" in legends
    assert re.search(r'<label for="marketplace">Country\b', body)


def test_dialogs_carry_the_discard_question(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a)
    for url in ("/shops/new", f"/shops/{shop.id}/reauthorize", f"/shops/{shop.id}/edit", "/admin/users/new"):
        body = admin_client.get(url, headers=HX).get_data(as_text=True)
        assert 'data-discard-confirm="Close without saving? Your changes in this form will be lost."' in body, url


# --- role changes ----------------------------------------------------------------------------------


def test_role_select_carries_a_question_naming_user_and_role(admin_client, member_a):
    body = admin_client.get("/admin/users").get_data(as_text=True)
    row = re.search(rf'<tr id="user-{member_a.id}">.*?</tr>', body, re.S).group(0)
    assert "data-role-form" in row
    assert 'data-confirm="Change the role of Member A to Admin?"' in row
    assert 'data-confirm="Change the role of Member A to Member?"' in row


def test_role_change_says_it_was_saved(admin_client, member_a):
    response = admin_client.post(f"/admin/users/{member_a.id}/role", data={"role": "admin"}, headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="user-{member_a.id}"')
    oob = re.search(r'<div hx-swap-oob="innerHTML:#messages">(.*?)</div>', body, re.S)
    assert oob and "Saved: Member A is now Admin." in oob.group(1)
    assert body.index("</tr>") < body.index("hx-swap-oob")  # after the row, so the table parses
    assert db.session.get(User, member_a.id).role == "admin"


def test_role_change_without_htmx_flashes_the_message(admin_client, member_a):
    response = admin_client.post(f"/admin/users/{member_a.id}/role", data={"role": "admin"})
    assert response.status_code == 303
    assert "Saved: Member A is now Admin." in admin_client.get("/admin/users").get_data(as_text=True)


def test_refused_role_change_says_no_saved(admin_client, admin_a):
    body = admin_client.post(f"/admin/users/{admin_a.id}/role", data={"role": "member"},
                             headers=HX).get_data(as_text=True)
    assert "last active admin" in body and "Saved:" not in body and "hx-swap-oob" not in body


# --- a user's shops over several pages --------------------------------------------------------------


def test_user_shops_saves_ticks_of_several_pages_at_once(app, admin_client, admin_a, member_a, make_shop):
    app.config["PAGE_SIZE"] = 2
    ids = [make_shop(admin_a, name=f"Shop {i}").id for i in range(5)]
    page = admin_client.get(f"/admin/users/{member_a.id}/shops").get_data(as_text=True)
    assert f'data-keep-ticks="user-shops-{member_a.id}"' in page
    assert "Save changes" in page and "Save this page" not in page and "saved together" in page
    # What forms.js sends: the boxes of this page plus the changes remembered from other pages.
    response = admin_client.post(f"/admin/users/{member_a.id}/shops",
                                 data={"shown": ids, "selected": [ids[0], ids[3], ids[4]]})
    assert response.status_code == 303
    assigned = set(db.session.scalars(select(ShopAssignment.shop_id).where(ShopAssignment.user_id == member_a.id)))
    assert assigned == {ids[0], ids[3], ids[4]}
