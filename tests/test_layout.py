"""Layout, security headers, htmx plumbing, error pages and languages."""
import pytest

from portal.extensions import db
from portal.models import User

HX = {"HX-Request": "true"}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


def test_security_headers_on_every_page(admin_client):
    for path in ("/admin/users", "/login", "/does-not-exist"):
        headers = admin_client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
                          "form-action 'self'"):
            assert directive in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["Cache-Control"] == "no-store"
        assert "HX-Request" in headers["Vary"]
        assert "Strict-Transport-Security" not in headers


def test_csp_allows_only_the_exact_htmx_file(app_factory):
    app = app_factory(HTMX_SOURCE="cdn")
    response = app.test_client().get("/setup")
    csp = response.headers["Content-Security-Policy"]
    url = app.config["HTMX_CDN_URL"]
    assert f"script-src 'self' {url};" in csp and url.endswith("/htmx.org@2.0.11/dist/htmx.min.js")
    body = response.get_data(as_text=True)
    assert f'src="/static/js/htmx-loader.js" data-cdn="{url}"' in body
    assert f'data-integrity="{app.config["HTMX_CDN_INTEGRITY"]}"' in body


def test_local_htmx_source_serves_only_the_local_copy(client, app):
    body = client.get("/setup").get_data(as_text=True)
    assert "cdn.jsdelivr" not in body and 'src="/static/vendor/htmx-2.0.11.min.js"' in body
    assert "cdn.jsdelivr" not in client.get("/setup").headers["Content-Security-Policy"]
    with client.get("/static/vendor/htmx-2.0.11.min.js") as response:
        assert response.status_code == 200


def test_vendored_htmx_matches_pinned_integrity(app):
    import base64
    import hashlib
    from pathlib import Path

    data = (Path(app.static_folder) / "vendor" / "htmx-2.0.11.min.js").read_bytes()
    digest = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert digest == app.config["HTMX_CDN_INTEGRITY"]


def test_cdn_loader_falls_back_to_a_served_local_copy(app_factory):
    """The loader's same-origin copy (behaviour in a browser: tests/browser/test_htmx_cdn.py)."""
    client = app_factory(HTMX_SOURCE="cdn").test_client()
    body = client.get("/setup").get_data(as_text=True)
    assert 'data-local="/static/vendor/htmx-2.0.11.min.js"' in body
    with client.get("/static/js/htmx-loader.js") as response:
        assert response.status_code == 200
    with client.get("/static/vendor/htmx-2.0.11.min.js") as response:
        assert response.status_code == 200


def test_htmx_config_and_csrf_header(admin_client):
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert '<meta name="htmx-config"' in body
    for setting in ('"selfRequestsOnly": true', '"allowScriptTags": false', '"allowEval": false',
                    '"historyCacheSize": 0', '"includeIndicatorStyles": false', '"historyRestoreAsHxRequest": false'):
        assert setting in body
    assert "<body hx-headers='{\"X-CSRFToken\": \"" in body


def test_htmx_csrf_header_is_accepted(admin_client, member_a):
    import re

    body = admin_client.get("/admin/users").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)
    response = admin_client.post(f"/admin/users/{member_a.id}/role", data={"role": "admin"}, csrf=False,
                                 headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert db.session.get(User, member_a.id).role == "admin"


def test_post_without_csrf_token_is_refused(admin_client, member_a):
    for headers in ({}, HX):
        response = admin_client.post(f"/admin/users/{member_a.id}/role", data={"role": "admin"}, csrf=False,
                                     headers=headers)
        assert response.status_code == 400
        assert "This form has expired" in response.get_data(as_text=True)
    assert db.session.get(User, member_a.id).role == "member"


def test_htmx_error_fragment_is_retargeted(admin_client):
    response = admin_client.get("/admin/users/999999/password", headers=HX)
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#messages"
    body = response.get_data(as_text=True)
    assert "<html" not in body and "does not exist" in body


def test_error_pages_reveal_nothing_internal(admin_client):
    response = admin_client.get("/no/such/page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "<html" in body and "Traceback" not in body


def test_unexpected_error_is_a_plain_500(app, admin_client, monkeypatch):
    from portal.admin import routes

    def boom(*args, **kwargs):
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(routes, "paginate", boom)
    response = admin_client.get("/admin/users")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and "exploded" not in body and "/secret/path" not in body


def test_untrusted_host_is_refused(app_factory):
    app = app_factory(TRUSTED_HOSTS=["portal.example.com"])
    client = app.test_client()
    assert client.get("/setup", headers={"Host": "evil.example.com"}).status_code == 400
    assert client.get("/setup", headers={"Host": "portal.example.com"}).status_code == 200


def test_oversized_request_is_413_not_500(app_factory):
    app = app_factory(MAX_CONTENT_LENGTH=1000, MAX_FORM_MEMORY_SIZE=1000)
    response = app.test_client().post("/setup", data={"company_name": "x" * 5000}, csrf=False)
    assert response.status_code in (400, 413)
    assert "Traceback" not in response.get_data(as_text=True)


def test_navigation_fits_the_role(client, admin_a, member_a, login, app):
    login(client, admin_a)
    body = client.get("/my-shops").get_data(as_text=True)
    assert 'href="/shops"' in body and 'href="/admin/users"' in body and 'href="/other-stores"' in body
    other = app.test_client()
    login(other, member_a)
    body = other.get("/my-shops").get_data(as_text=True)
    assert 'href="/shops"' not in body and 'href="/admin/users"' not in body
    assert 'href="/my-shops"' in body and 'href="/other-stores"' in body


def test_index_sends_each_role_to_its_start_page(client, admin_a, member_a, login, app):
    login(client, admin_a)
    assert client.get("/").headers["Location"] == "/shops"
    other = app.test_client()
    login(other, member_a)
    assert other.get("/").headers["Location"] == "/my-shops"


def test_language_from_browser_and_switch_sticks(client, admin_a, login):
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese and "登录" in chinese
    english = client.get("/login", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Sign in" in english
    response = client.post("/language", data={"lang": "zh", "next": "/login"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    sticky = client.get("/login", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in sticky


def test_language_switch_ignores_unknown_language_and_foreign_next(client, admin_a):
    response = client.post("/language", data={"lang": "fr", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert "lang=" not in response.headers.get("Set-Cookie", "")


def test_both_languages_render_every_signed_in_page(client, admin_a, member_a, login):
    login(client, admin_a)
    pages = ["/shops", "/my-shops", "/other-stores", "/admin/users", "/admin/users/new",
             f"/admin/users/{member_a.id}/password", "/account/password"]
    for lang in ("zh", "en"):
        client.post("/language", data={"lang": lang})
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, (lang, path)
            body = response.get_data(as_text=True)
            assert ("用户" in body) if lang == "zh" else ("Users" in body), (lang, path)
