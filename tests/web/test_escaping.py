"""No page renders program or event text as markup: `<script>` in an affiliate's name, a link
destination, a promotion code, the portal's name, a click's UTM source and referer, a customer's email
and a risk flag's detail all come out as text (Jinja2 autoescape, on for every template)."""

from __future__ import annotations

from typing import Any

from tests.support.web import HOSTILE, HOSTILE_EMAIL, Web

ADMIN_PAGES = (
    "/admin/conversions",
    "/admin/conversions?affiliate=jane",
    "/admin/unattributed",
    "/admin/review?show=all",
    "/admin/affiliates",
    "/admin/statements",
    "/admin/health",
)
PORTAL_PAGES = ("/portal", "/portal/conversions", "/portal/clicks")
MARKUP = ("<script>alert", "<img src=x", "onerror=alert(1)>")


def assert_text_only(html: str, where: str) -> None:
    for markup in MARKUP:
        assert markup not in html, f"{where} renders {markup!r} as markup"


def pages_text(client: Any, paths: tuple[str, ...]) -> str:
    """Every page in `paths`, each answered 200 with no hostile markup, as one text."""
    seen = ""
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert_text_only(answer.text, path)
        seen += answer.text
    return seen


def test_admin_pages_show_hostile_text_as_text(web: Web) -> None:
    seen = pages_text(web.admin(), ADMIN_PAGES)
    assert "&lt;script&gt;alert(&#39;attro&#39;)&lt;/script&gt;" in seen  # the affiliate's name, as text
    assert "&lt;img src=x onerror=alert(1)&gt;@customer.example" in seen  # the customer's email


def test_portal_pages_show_hostile_text_as_text(web: Web) -> None:
    jane = web.portal("jane")
    seen = pages_text(jane, PORTAL_PAGES)
    escaped = HOSTILE.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    assert f"Partners {escaped}" in seen  # the portal's name, in the title and the header
    assert f"pricing?x={escaped}" in seen  # the link's destination
    assert escaped in jane.get("/portal/clicks").text  # the click's UTM source and referer
    assert HOSTILE_EMAIL not in seen


def test_the_portal_colour_comes_from_a_validated_stylesheet(web: Web) -> None:
    css = web.client().get("/portal/brand.css")
    assert css.status_code == 200
    assert css.text.strip() == ":root { --primary: #0a7d5a; --primary-ink: #0a7d5a; --on-primary: #ffffff; }"


def test_a_signed_out_page_escapes_the_portal_name(web: Web) -> None:
    answer = web.client().get("/portal")
    assert answer.status_code == 401
    assert_text_only(answer.text, "/portal signed out")
