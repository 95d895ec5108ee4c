"""A page scanned sideways, in real headless Chromium: the app sends the scanner's JPEG
with an EXIF orientation tag instead of a turned copy, so the browser must show it
upright both as an <img> (the page view) and as a CSS background (the line pictures)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from review_helpers import add_page
from test_review_browser import _serve, browser, pytestmark  # noqa: F401 (fixture, marks)

RED, BLUE = (220, 30, 30), (30, 30, 220)


def sideways_jpeg_page(archive) -> int:
    """An unassigned page whose master is a JPEG stored a quarter turn anticlockwise of
    upright (``image_turn`` 90): upright it is 300 x 400, red at the top left, blue at
    the bottom right."""
    upright = np.full((400, 300, 3), 250, np.uint8)
    upright[:80, :80] = RED
    upright[-80:, -80:] = BLUE
    page_id = add_page(archive, ["a page fed in sideways"], name="sideways")
    rel = archive.db.execute("SELECT image_path FROM pages WHERE id = ?", [page_id]).fetchone()[0]
    master_rel = rel.replace(".png", ".jpg")
    buf = io.BytesIO()
    Image.fromarray(np.rot90(upright)).save(buf, "JPEG", quality=95)  # as scanned: sideways
    archive.image(master_rel).write_bytes(buf.getvalue())
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_path = ?, image_turn = 90, width = 300, height = 400 "
                   "WHERE id = ?", [master_rel, page_id])
    return page_id


def near(pixel, colour) -> bool:
    return all(abs(int(a) - b) < 40 for a, b in zip(pixel[:3], colour))


def test_a_turned_jpeg_is_shown_upright_as_image_and_as_background(browser, archive):
    page_id = sideways_jpeg_page(archive)
    server, base = _serve(archive)
    try:
        page = browser.new_page()
        url = f"{base}/page/{page_id}/display.webp"
        response = page.request.get(url)
        assert response.headers["content-type"] == "image/jpeg"
        # A test page of the app's own origin (its pictures are same-origin only), without
        # the app's CSP (which forbids the inline styles used here).
        html = f"""<body style="margin:0">
            <img id="img" src="{url}" style="display:block">
            <div id="bg" style="width:300px;height:400px;background:url('{url}') 0 0/300px 400px
                 no-repeat"></div></body>"""
        page.route(f"{base}/test-page", lambda route: route.fulfill(
            content_type="text/html", body=html))
        page.goto(f"{base}/test-page")
        page.wait_for_function("document.getElementById('img').complete")
        size = page.evaluate("[document.getElementById('img').naturalWidth, "
                             "document.getElementById('img').naturalHeight]")
        assert size == [300, 400]  # portrait: the tag was applied
        for element in ("#img", "#bg"):
            shot = np.asarray(Image.open(io.BytesIO(page.locator(element).screenshot())))
            assert shot.shape[:2] == (400, 300), element
            assert near(shot[20, 20], RED) and near(shot[-20, -20], BLUE), element
    finally:
        server.close()
