"""End-to-end: the review app in real headless Chromium, driven by Playwright.

The server is the real one (waitress, in a thread, on a free loopback port); the browser
is Debian's /usr/bin/chromium. The piece screen's screenshot is written to
tests/artifacts/review-piece.png.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from review_helpers import add_page, add_piece

from scanflow.archive import transcription as T
from scanflow.review import accounts as A
from scanflow.review.server import make_server, url_of

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None,
                       reason="playwright is not installed (pip install playwright; never "
                              "'playwright install': the tests use Debian's chromium)"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium)"),
]

PW = "correct horse battery"
# What the child wrote, and what the "recogniser" made of it: a wrong word, one written line
# cut in two, two written lines read as one, an invented line, and a missed last line.
TRUTH = ["Once upon a time ther was", "a dragon caled Spark.", "He livd in a cave",
         "and he was sad.", "The end"]
OCR = ["Once upon a tine ther was", ("a dragon caled", (1, 0, 14)), ("Spark.", (1, 15, 21)),
       ("He livd in a cave and he was sad.", (2, 3)), ("~~~", 5)]


@pytest.fixture
def browser():
    # launch() starts Chromium with a fresh temporary profile (its own --user-data-dir),
    # and every new_context() is a separate cookie jar: two people at two computers.
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _serve(archive, require_login=False):
    server = make_server(archive.path, "127.0.0.1", 0, require_login=require_login, threads=4,
                         token=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, url_of(server).rstrip("/")


@pytest.fixture
def school(archive):
    ids = {
        "ava": add_piece(archive, "A100000000001", TRUTH, OCR, doubtful={"tine", "~~~"}),
        "ben": add_piece(archive, "A100000000002", ["The cat sat on the mat"],
                         ["The cat sal on the mat"]),
        "loose": add_page(archive, ["I went to the park"], ["I went to tho park"], name="loose"),
    }
    return archive, ids


@pytest.fixture
def local_server(school):
    archive, ids = school
    server, base = _serve(archive)
    yield archive, ids, base
    server.close()


def _page(browser, errors):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Script errors only: a 401 or 409 answer the test provokes is logged as a failed load.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    return page


def _line(page, i):
    return page.locator("#lines input").nth(i)


def _current_index(page) -> int:
    return page.evaluate("document.activeElement.closest('.line') ? "
                         "Number(document.activeElement.closest('.line').dataset.index) : -1")


def test_keyboard_only_correction_save_reload_review(browser, local_server):
    archive, ids, base = local_server
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(base + "/queue")
    expect(page.locator(".progress-text")).to_contain_text("0 of 2 pieces reviewed")
    page.get_by_role("link", name="Ava Smith").click()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#reminder")).to_have_text(
        "Type exactly what the child wrote — keep their spelling and punctuation.")
    # The first line has focus, its box on the page is highlighted, its doubtful word marked.
    assert _current_index(page) == 0
    expect(page.locator(".box.current")).to_have_count(1)
    # Marked: "tine" (the recogniser doubted it) and "ther" (not in the dictionary: the
    # child's spelling, to keep), each with the reason on its mark over the line picture.
    expect(page.locator(".line").nth(0).locator(".mirror mark")).to_have_text(["tine", "ther"])
    flags = page.locator(".line").nth(0).locator(".crop .wordflag")
    expect(flags).to_have_count(2)
    expect(flags.nth(1)).to_have_attribute("title", re.compile("not in the dictionary"))
    # Every line under its picture: its row of the page's line picture.
    expect(page.locator(".crop:not(.nobox)")).to_have_count(5)
    expect(page.locator(".crop").nth(0)).to_have_attribute(
        "style", re.compile(r'background-image: url\("/page/\d+/lines\.jpg\?'))
    # The picture loads on its own (a display copy is made on first request when the
    # page did not come through an ingest, as here): wait for it, then it must be there.
    page.wait_for_function("() => { const i = document.getElementById('page-img'); "
                           "return i.complete && i.naturalWidth > 0; }", timeout=20000)

    kb = page.keyboard
    # Line 1: fix one word in place: Home, move to "tine", replace the "n" with "m".
    kb.press("Home")
    for _ in range(len("Once upon a ti")):
        kb.press("ArrowRight")
    kb.press("Delete")
    kb.type("m")
    kb.press("Enter")
    assert _current_index(page) == 1
    # Lines 2+3: "Spark." belongs on line 2: go down, Backspace at its start joins them.
    kb.press("ArrowDown")
    kb.press("Home")
    kb.press("Backspace")
    expect(page.locator("#lines input")).to_have_count(4)
    expect(_line(page, 1)).to_have_value("a dragon caled Spark.")
    kb.press("Enter")
    # Line 3 holds two written lines: split after "cave".
    kb.press("Home")
    for _ in range(len("He livd in a cave ")):
        kb.press("ArrowRight")
    kb.press("Shift+Enter")
    expect(page.locator("#lines input")).to_have_count(5)
    expect(_line(page, 2)).to_have_value("He livd in a cave")
    expect(_line(page, 3)).to_have_value("and he was sad.")
    assert _current_index(page) == 3
    kb.press("ArrowUp")
    kb.press("Enter")  # line 3 read against the page: confirmed as it is
    kb.press("Enter")  # line 4 likewise
    # Line 5 was invented: empty it and Backspace removes it.
    kb.press("Control+a")
    kb.press("Delete")
    kb.press("Backspace")
    expect(page.locator("#lines input")).to_have_count(4)
    # The last written line was missed: add a line below and type it.
    kb.press("End")
    kb.press("Control+Enter")
    expect(page.locator("#lines input")).to_have_count(5)
    kb.type("The end")
    kb.press("Enter")
    expect(page.locator("#review-button")).to_be_focused()
    kb.press("Control+s")
    expect(page.locator("#save-state")).to_contain_text("Saved as version 1")
    assert errors == []
    assert T.current_text(archive, ids["ava"]) == "\n".join(TRUTH)
    assert T.get_version(archive, ids["ava"], 1).note == "corrected 5 lines"

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert [_line(page, i).input_value() for i in range(5)] == TRUTH
    expect(page.locator("#version-label")).to_contain_text("Version 1")
    expect(page.locator(".mirror mark")).to_have_count(0)  # every line read by a person
    _line(page, 1).focus()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-piece.png"))

    # Mark reviewed from the keyboard: Enter through the last line lands on the button.
    _line(page, 4).focus()
    kb.press("Enter")
    expect(page.locator("#review-button")).to_be_focused()
    kb.press("Enter")
    page.wait_for_url(f"{base}/piece/{ids['ben']}")
    expect(page.locator(".flashes")).to_contain_text(f"Piece {ids['ava']} marked reviewed.")
    assert archive.db.execute("SELECT status FROM pieces WHERE id = ?",
                              [ids["ava"]]).fetchone()[0] == "reviewed"
    page.goto(base + "/queue?status=all")
    expect(page.locator(".progress-text")).to_contain_text("1 of 2 pieces reviewed")
    assert errors == []


def test_zoom_pan_and_the_image_follows_the_line(browser, archive):
    lines = [f"Line number {n} of a long story" for n in range(15)]
    piece = add_piece(archive, "A100000000001", lines)
    server, base = _serve(archive)
    try:
        errors: list[str] = []
        page = _page(browser, errors)
        page.goto(f"{base}/piece/{piece}")
        page.wait_for_selector("body[data-ready='1']")
        width = page.locator("#stage").evaluate("s => s.offsetWidth")
        for _ in range(4):
            page.get_by_role("button", name="Zoom in").click()
        expect(page.locator("#zoom-level")).to_have_text("244%")
        assert page.locator("#stage").evaluate("s => s.offsetWidth") > 2.3 * width
        # Going down the lines scrolls the zoomed page so the current line's box shows.
        _line(page, 0).focus()
        for _ in range(12):
            page.keyboard.press("ArrowDown")
        viewer = page.locator("#viewer")
        expect(page.locator(".box.current")).to_have_attribute("data-index", "12")
        page.wait_for_timeout(600)  # smooth scrolling
        box = page.locator(".box.current").bounding_box()
        view = viewer.bounding_box()
        assert view["y"] <= box["y"] and box["y"] + box["height"] <= view["y"] + view["height"]
        # Dragging the page pans it.
        top = viewer.evaluate("v => v.scrollTop")
        page.mouse.move(view["x"] + 200, view["y"] + 100)
        page.mouse.down()
        page.mouse.move(view["x"] + 150, view["y"] + 300, steps=5)
        page.mouse.up()
        assert viewer.evaluate("v => v.scrollTop") < top - 150
        assert _current_index(page) == 12  # a drag is not a click on a line's box
        page.get_by_role("button", name="Fit").click()
        expect(page.locator("#zoom-level")).to_have_text("100%")
        assert errors == []
    finally:
        server.close()


def test_assign_an_unassigned_page(browser, local_server):
    archive, ids, base = local_server
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(base + "/unassigned")
    card = page.locator(f"#page-{ids['loose']}")
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("i => i.naturalWidth") > 0
    card.get_by_role("button", name="↻ Turn right").click()
    expect(page.locator(f"#page-{ids['loose']}")).to_contain_text("Turned since it was read")
    page.locator(f"#page-{ids['loose']} input[name='pupil']").fill("Ben Jones")
    page.locator(f"#page-{ids['loose']}").get_by_role("button", name="Assign").click()
    expect(page.locator(".flashes")).to_contain_text(f"Page {ids['loose']} is now in piece {ids['ben']}.")
    expect(page.locator(".empty")).to_have_text("No pages are waiting for a pupil.")
    assert archive.db.execute("SELECT piece_id FROM pages WHERE id = ?",
                              [ids["loose"]]).fetchone()[0] == ids["ben"]
    assert errors == []


def test_login_required_and_a_conflicting_save(browser, school):
    archive, ids = school
    A.add_user(archive, "kim", "lead", PW)
    A.add_user(archive, "lee", "teacher", PW, classes=["3A"])
    server, base = _serve(archive, require_login=True)
    try:
        errors: list[str] = []
        kim, lee = _page(browser, errors), _page(browser, errors)
        for who, page in (("kim", kim), ("lee", lee)):
            page.goto(f"{base}/piece/{ids['ava']}")
            assert "/login" in page.url
            page.fill("input[name=username]", who)
            page.fill("input[name=password]", "wrong password")
            page.get_by_role("button", name="Log in").click()
            expect(page.locator(".alert")).to_contain_text("That name and password do not match")
            page.fill("input[name=password]", PW)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}/piece/{ids['ava']}")
            page.wait_for_selector("body[data-ready='1']")
        # kim corrects line 1 and saves first.
        _line(kim, 0).fill("Once upon a time ther was")
        kim.keyboard.press("Enter")
        kim.keyboard.press("Control+s")
        expect(kim.locator("#save-state")).to_contain_text("Saved as version 1")
        # lee, who opened version 0, corrects another line: the line goes to lee's draft...
        _line(lee, 1).fill("a dragon called Spark")
        lee.keyboard.press("Enter")
        expect(lee.locator("#conflict")).to_be_visible()  # ...with an early warning
        expect(lee.locator("#conflict-message")).to_contain_text("kim saved this piece today")
        expect(lee.locator("#conflict-message")).not_to_contain_text("+00:00")
        lee.keyboard.press("Control+s")  # different lines: combined without asking
        expect(lee.locator(".flashes")).to_contain_text(
            "Saved as version 2: corrected 1 line (combined with version 1 by kim)")
        assert [l.text for l in T.current_lines(archive, ids["ava"])][:2] == \
            ["Once upon a time ther was", "a dragon called Spark"]
        lee.wait_for_selector("body[data-ready='1']")
        # Now both change line 1 differently: kim (still on version 1) saves second.
        _line(lee, 0).fill("Once upon a time, ther was")
        lee.keyboard.press("Enter")
        lee.keyboard.press("Control+s")
        expect(lee.locator("#save-state")).to_contain_text("Saved as version 3")
        _line(kim, 0).fill("Once upon a time ther wos")
        kim.keyboard.press("Enter")
        kim.keyboard.press("Control+s")
        kim.wait_for_selector("#clashes")  # the page shows the clash side by side
        expect(kim.locator("#conflict-message")).to_contain_text("Choose which wording")
        expect(kim.locator(".clash").first).to_contain_text("Once upon a time, ther was")
        expect(kim.locator(".clash").first).to_contain_text("Once upon a time ther wos")
        kim.locator(".clash input[value=theirs]").first.check()
        kim.get_by_role("button", name="Save with these choices").click()
        expect(kim.locator(".flashes")).to_contain_text(
            "Nothing new to save: version 3 already holds the text you chose.")
        expect(_line(kim, 1)).to_have_value("a dragon called Spark")  # lee's, now shown
        assert [l.text for l in T.current_lines(archive, ids["ava"])][:2] == \
            ["Once upon a time, ther was", "a dragon called Spark"]
        assert [v.author for v in T.history(archive, ids["ava"])] == ["ocr", "kim", "lee", "lee"]
        # The teacher cannot see other classes; logging out ends the session.
        lee.goto(f"{base}/unassigned")
        expect(lee.locator("h1")).to_contain_text("reviews pieces but does not assign pages")
        lee.goto(f"{base}/queue")
        lee.get_by_role("button", name="Log out").click()
        lee.goto(f"{base}/queue")
        assert "/login" in lee.url
        assert errors == []
    finally:
        server.close()


def test_scoring_by_keyboard_in_one_form_without_a_reload(browser, local_server):
    from scanflow.scoring.scores import piece_scores

    archive, ids, base = local_server
    T.mark_reviewed(archive, ids["ava"], reviewer="kim")  # Spelling and Punctuation too
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{base}/piece/{ids['ava']}")
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate("window.notReloaded = true")
    page.locator("#scoring-details summary").click()
    page.wait_for_selector("#score-form")
    focused = "document.activeElement.closest('fieldset') && " \
              "document.activeElement.closest('fieldset').dataset.criterion"
    assert page.evaluate(focused) == "audience_ideas"
    page.keyboard.press("2")  # the teacher's judgement for the first criterion
    assert page.evaluate(focused) == "character_setting"
    page.keyboard.press("3")
    assert page.evaluate(focused) == "vocabulary"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "punctuation"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("4")  # vocabulary: level 4, whatever was suggested
    page.screenshot(path="/tmp/wt15_scoring.png")
    page.keyboard.press("Enter")
    expect(page.locator("#score-state")).to_contain_text("Saved ")
    assert page.evaluate("window.notReloaded") is True
    current = piece_scores(archive, ids["ava"]).current
    assert (current["audience_ideas"].level, current["character_setting"].level,
            current["vocabulary"].level) == (2, 3, 4)
    assert len(current) >= 5  # the suggested ones were saved in the same press
    assert errors == []


def test_a_digit_moves_on_to_the_next_criterion_still_waiting_for_a_level(browser, local_server):
    archive, ids, base = local_server
    T.mark_reviewed(archive, ids["ava"], reviewer="kim")
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{base}/piece/{ids['ava']}")
    page.wait_for_selector("body[data-ready='1']")
    page.locator("#scoring-details summary").click()
    page.wait_for_selector("#score-form")
    focused = "document.activeElement.closest('fieldset').dataset.criterion"
    assert page.evaluate(focused) == "audience_ideas"  # no suggestion: the teacher's call
    page.keyboard.press("2")
    assert page.evaluate(focused) == "character_setting"
    # Take punctuation's suggested level away: the next digit skips vocabulary, whose
    # suggestion stands, and lands on punctuation, the next criterion waiting.
    assert page.locator("fieldset[data-criterion=vocabulary] input:checked").count() == 1
    page.evaluate("document.querySelectorAll('fieldset[data-criterion=punctuation] input')"
                  ".forEach(function (r) { r.checked = false; })")
    page.keyboard.press("3")
    assert page.evaluate(focused) == "punctuation"
    assert errors == []


STORY_36 = [f"line {n} of the story and the dragon flew on" for n in range(1, 37)]


def _visible_lines(page) -> int:
    """Line items wholly inside the lines pane, below its sticky reminder."""
    return page.evaluate("""() => {
        const pane = document.querySelector('.lines-pane').getBoundingClientRect();
        const top = document.querySelector('#reminder').getBoundingClientRect().bottom;
        return [...document.querySelectorAll('#lines .line')].filter(li => {
            const r = li.getBoundingClientRect();
            return r.top >= top - 1 && r.bottom <= pane.bottom + 1;
        }).length;
    }""")


def test_a_long_piece_shows_twelve_lines_at_once_and_keeps_the_typed_line_in_view(
        browser, archive):
    for k in range(3):  # 36 lines over three pages, as a long story is written
        add_page(archive, STORY_36[12 * k:12 * k + 12], pupil_id="A100000000001")
    piece = archive.db.execute("SELECT piece_id FROM pages LIMIT 1").fetchone()[0]
    server, base = _serve(archive)
    try:
        errors: list[str] = []
        page = _page(browser, errors)
        page.goto(f"{base}/piece/{piece}")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#lines .line").count() == 36
        page.screenshot(path="/tmp/wt15_dense.png")

        assert _visible_lines(page) >= 12
        # The header's status is one line, not three.
        status = page.locator(".piece-status").bounding_box()
        assert status["height"] < 32
        # One picture for each page's lines (three requests for 36 lines), a row each.
        expect(page.locator(".crop").nth(35)).to_have_attribute("style", re.compile("lines.jpg"))
        urls = page.evaluate("[...new Set([...document.querySelectorAll('.crop')]"
                             ".map(c => c.style.backgroundImage))]")
        assert len(urls) == 3 and all("/lines.jpg?" in u for u in urls)
        loaded = page.evaluate("""urls => Promise.all(urls.map(u => fetch(u.slice(5, -2))
            .then(r => r.blob().then(b => [r.status, b.type, b.size]))))""", urls)
        assert all(status == 200 and kind == "image/jpeg" and size > 1000
                   for status, kind, size in loaded), loaded
        # Row k of a page's picture for its k-th line: 12 rows down each page.
        rows = page.evaluate("[...document.querySelectorAll('.crop')].map(c => "
                             "[parseFloat(c.style.backgroundPosition.split(' ')[1]), "
                             "c.getBoundingClientRect().height])")
        assert [round(-top / height) for top, height in rows] == list(range(12)) * 3
        page.screenshot(path="/tmp/wt15_dense.png")
        _line(page, 0).click()
        for n in range(1, 36):  # quick ↓ presses: the box typed in is always wholly in view
            page.keyboard.press("ArrowDown")
            box = page.evaluate("""() => {
                const li = document.activeElement.closest('.line').getBoundingClientRect();
                const pane = document.querySelector('.lines-pane').getBoundingClientRect();
                const top = document.querySelector('#reminder').getBoundingClientRect().bottom;
                return [li.top >= top - 1, li.bottom <= pane.bottom + 1];
            }""")
            assert _current_index(page) == n and box == [True, True], n
        page.screenshot(path="/tmp/wt15_dense_end.png")
        assert errors == []
    finally:
        server.close()


def test_the_no_login_server_answers_only_with_its_token(browser, archive):
    server = make_server(archive.path, "127.0.0.1", 0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        errors: list[str] = []
        page = _page(browser, errors)
        base = url_of(server).rstrip("/")
        response = page.goto(base + "/queue")
        assert response.status == 403
        expect(page.locator("h1")).to_contain_text("ends in ?token=")
        page.goto(url_of(server, with_token=True))
        page.wait_for_url(f"{base}/queue")  # the token is kept in a cookie, not the address
        expect(page.locator("h1")).to_contain_text("Review queue")
        assert "token" not in page.url
        page.goto(base + "/queue")
        expect(page.locator("h1")).to_contain_text("Review queue")
    finally:
        server.close()
