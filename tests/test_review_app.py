"""The review web app through Flask's test client: access rules, security, every screen."""

import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from review_helpers import add_page, add_piece

from scanflow.archive import transcription as T
from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.review import accounts as A
from scanflow.review.app import create_app
from scanflow.review.server import login_required, make_server, url_of

PW = "correct horse battery"
TRUTH = ["Once upon a time ther was", "a dragon caled Spark"]
OCR = ["Once upon a tine ther was", "a dragon caled Spork"]
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@pytest.fixture
def school(archive):
    ids = {
        "ava": add_piece(archive, "A100000000001", TRUTH, OCR, doubtful={"tine"}),
        "ben": add_piece(archive, "A100000000002", ["The cat sat"], ["The cat sal"]),
        "cara": add_piece(archive, "A100000000003", ["I like maths"], ["I like moths"]),
        "loose": add_page(archive, ["I went to the park"], ["I went to tho park"], name="loose"),
    }
    return archive, ids


def csrf(client, url="/queue"):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


def piece_data(html):
    import json

    return json.loads(re.search(r'id="piece-data">(.*?)</script>', html, re.S).group(1))


def login(client, name, password=PW):
    token = csrf(client, "/login")
    return client.post("/login?next=/queue", data={"username": name, "password": password,
                                                   "csrf_token": token})


# --- headers, CSRF, hosts ---------------------------------------------------------------


def test_local_mode_serves_the_queue_with_security_headers(school):
    archive, ids = school
    client = create_app(archive.path).test_client()
    r = client.get("/queue")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "0</strong> of <strong>3</strong> pieces reviewed" in html
    assert html.count('class="piece-link"') == 3
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "no-store"
    assert "<script>" not in html and " style=" not in html  # nothing inline for the CSP
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_local_mode_answers_only_loopback_host_names(school):
    archive, _ = school
    client = create_app(archive.path).test_client()
    r = client.get("/queue", headers={"Host": "evil.example:8000"})
    assert r.status_code == 403
    assert "This scanflow server only answers on this computer." in r.get_data(as_text=True)
    assert client.get("/queue", headers={"Host": "localhost:8000"}).status_code == 200


def test_every_post_needs_the_csrf_token_and_our_origin(school):
    archive, ids = school
    client = create_app(archive.path).test_client()
    r = client.post(f"/piece/{ids['ava']}/reopen")
    assert r.status_code == 400
    assert "This form has expired (or came from another page) and was not saved." in r.get_data(as_text=True)
    r = client.post(f"/api/piece/{ids['ava']}/line", json={"based_on": 0, "rev": 0, "index": 0,
                                                           "text": "x"})
    assert r.status_code == 400 and "expired" in r.get_json()["error"]
    token = csrf(client)
    r = client.post(f"/piece/{ids['ava']}/reopen", data={"csrf_token": token},
                    headers={"Origin": "http://evil.example"})
    assert r.status_code == 400
    assert "came from another website" in r.get_data(as_text=True)
    r = client.post(f"/piece/{ids['ava']}/reopen", data={"csrf_token": token})
    assert r.status_code == 302


# --- login ------------------------------------------------------------------------------


def test_login_required_flow(school):
    archive, ids = school
    A.add_user(archive, "lead1", "lead", PW)
    client = create_app(archive.path, require_login=True).test_client()
    r = client.get("/queue")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login?next=/queue")
    r = client.post(f"/api/piece/{ids['ava']}/line", json={})
    assert r.status_code in (400, 401)  # no session: no CSRF token either
    r = login(client, "lead1", "not the password")
    assert r.status_code == 401
    assert "That name and password do not match an account." in r.get_data(as_text=True)
    r = login(client, "lead1")
    assert r.status_code == 302 and r.headers["Location"] == "/queue"
    assert client.get("/queue").status_code == 200
    token = csrf(client)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/queue").status_code == 302
    assert archive.db.execute("SELECT COUNT(*) FROM review_sessions").fetchone()[0] == 0


def test_login_does_not_redirect_off_site(school):
    archive, _ = school
    A.add_user(archive, "lead1", "lead", PW)
    client = create_app(archive.path, require_login=True).test_client()
    token = csrf(client, "/login")
    r = client.post("/login?next=//evil.example/x", data={"username": "lead1", "password": PW,
                                                         "csrf_token": token})
    assert r.headers["Location"] == "/"


def test_teachers_see_only_their_classes_and_office_only_pages(school):
    archive, ids = school
    A.add_user(archive, "mrs.k", "teacher", PW, classes=["3A"])
    A.add_user(archive, "office1", "office", PW)
    app = create_app(archive.path, require_login=True)
    teacher = app.test_client()
    login(teacher, "mrs.k")
    html = teacher.get("/queue").get_data(as_text=True)
    assert "Ava Smith" in html and "Ben Jones" in html and "Cara Patel" not in html
    r = teacher.get(f"/piece/{ids['cara']}")
    assert r.status_code == 403
    assert ("is by a pupil in class 4B, which is not one of your classes (3A)."
            in r.get_data(as_text=True))
    cara_page = archive.db.execute("SELECT id FROM pages WHERE piece_id = ?",
                                   [ids["cara"]]).fetchone()[0]
    assert teacher.get(f"/page/{cara_page}/display.webp").status_code == 403
    assert teacher.get("/unassigned").status_code == 403
    assert teacher.get(f"/page/{ids['loose']}/thumb.webp").status_code == 403
    assert teacher.get(f"/piece/{ids['ava']}").status_code == 200
    office = app.test_client()
    login(office, "office1")
    r = office.get(f"/piece/{ids['ava']}")
    assert r.status_code == 403 and "can assign pages but not review pieces" in r.get_data(as_text=True)
    assert office.get("/unassigned").status_code == 200
    assert office.get("/").headers["Location"] == "/unassigned"


def test_pictures_come_only_from_the_archive_image_store(school):
    archive, ids = school
    client = create_app(archive.path).test_client()
    page = archive.db.execute("SELECT id FROM pages WHERE piece_id = ?", [ids["ava"]]).fetchone()[0]
    # A small upright PNG master is sent as it is; the thumbnail is a small WebP copy.
    master = archive.image(archive.db.execute("SELECT image_path FROM pages WHERE id = ?",
                                              [page]).fetchone()[0])
    r = client.get(f"/page/{page}/display.webp")
    assert r.status_code == 200 and r.mimetype == "image/png" and r.data == master.read_bytes()
    r = client.get(f"/page/{page}/thumb.webp")
    assert r.mimetype == "image/webp" and r.data[:4] == b"RIFF" and r.data[8:12] == b"WEBP"
    assert client.get(f"/page/{page}/full").data[:4] == b"\x89PNG"
    for url in (f"/page/{page}/..%2f..%2fscanflow.db", "/static/..%2f..%2fapp.py",
                "/static/../app.py", f"/page/{page}/secret.webp", "/page/9999/full"):
        assert client.get(url).status_code == 404, url
    # Even a tampered row cannot make the app read outside the image store.
    archive.db.execute("UPDATE pages SET image_path = '../scanflow.db' WHERE id = ?", [page])
    r = client.get(f"/page/{page}/full")
    assert r.status_code == 400
    assert "is not inside the archive&#39;s image store" in r.get_data(as_text=True)


# --- the piece screen -------------------------------------------------------------------


def test_piece_screen_lines_save_history_review(school):
    archive, ids = school
    client = create_app(archive.path, local_name="kim").test_client()
    r = client.get(f"/piece/{ids['ava']}")
    html = r.get_data(as_text=True)
    assert "Type exactly what the child wrote — keep their spelling and punctuation." in html
    assert "the child's own spelling: keep it" in html and "not in the dictionary" in html
    data = piece_data(html)
    assert [l["text"] for l in data["lines"]] == OCR
    assert [(f["text"], f["why"]) for f in data["lines"][0]["flags"]] == [
        ("tine", "unsure"), ("ther", "unknown")]
    assert 'spellcheck="false"' in html  # the browser must not "correct" a child's spelling
    head = {"X-CSRF-Token": data["csrf"]}
    r = client.post(data["urls"]["line"], headers=head,
                    json={"based_on": 0, "rev": 0, "index": 0, "text": TRUTH[0]})
    assert r.status_code == 200 and r.get_json()["rev"] == 1
    r = client.post(data["urls"]["line"], headers=head,
                    json={"based_on": 0, "rev": 1, "index": 1, "text": TRUTH[1]})
    assert r.get_json() == {"rev": 2, "saved_at": r.get_json()["saved_at"], "conflict": None}
    r = client.post(data["urls"]["line"], headers=head,
                    json={"based_on": 0, "rev": 1, "index": 1, "text": "stale tab"})
    assert r.status_code == 409 and "changed in another window" in r.get_json()["error"]
    # A reload shows the draft, not the OCR text.
    data = piece_data(client.get(f"/piece/{ids['ava']}").get_data(as_text=True))
    assert [l["text"] for l in data["lines"]] == TRUTH and data["lines"][0]["flags"] == []
    r = client.post(data["urls"]["save"], headers=head, json={})
    assert r.get_json() == {"number": 1, "note": "corrected 2 lines", "based_on": 1,
                            "merged": False}
    assert T.current_text(archive, ids["ava"]) == "\n".join(TRUTH)
    html = client.get(f"/piece/{ids['ava']}/history").get_data(as_text=True)
    assert "corrected 2 lines" in html and "@@" not in html
    changes = re.findall(r'<li><span class="ln">(.*?)</span> (.*?)</li>', html)
    assert changes == [  # word by word, inline, with the teacher's name and a local time
        ("Line 1", "<span>Once upon a </span><del>tine</del><ins>time</ins><span> ther was</span>"),
        ("Line 2", "<span>a dragon caled </span><del>Spork</del><ins>Spark</ins>")]
    assert "today " in html and "+00:00" not in html
    r = client.post(f"/piece/{ids['ava']}/restore/0", data={"csrf_token": data["csrf"]})
    assert r.status_code == 302 and T.current_text(archive, ids["ava"]) == "\n".join(OCR)
    # Mark reviewed goes on to the next waiting piece in queue order.
    client.get("/queue")
    r = client.post(f"/piece/{ids['ava']}/review", data={"csrf_token": data["csrf"]})
    # queue order is class, surname: Jones, Smith (3A), then Patel (4B)
    assert r.status_code == 302 and r.headers["Location"] == f"/piece/{ids['cara']}"
    status, by = archive.db.execute("SELECT status, reviewed_by FROM pieces WHERE id = ?",
                                    [ids["ava"]]).fetchone()
    assert (status, by) == ("reviewed", "kim")
    assert "Reopen" in client.get(f"/piece/{ids['ava']}").get_data(as_text=True)
    client.post(f"/piece/{ids['ava']}/reopen", data={"csrf_token": data["csrf"]})
    assert archive.db.execute("SELECT status FROM pieces WHERE id = ?",
                              [ids["ava"]]).fetchone()[0] == "awaiting_review"


def test_line_structure_calls_return_the_new_lines(school):
    archive, ids = school
    client = create_app(archive.path).test_client()
    data = piece_data(client.get(f"/piece/{ids['ava']}").get_data(as_text=True))
    head = {"X-CSRF-Token": data["csrf"]}
    r = client.post(data["urls"]["split"], headers=head, json={
        "based_on": 0, "rev": 0, "index": 1, "at": 8, "text": "a dragon caled Spork",
        "want_lines": True}).get_json()
    assert [l["text"] for l in r["lines"]] == [OCR[0], "a dragon", "caled Spork"]
    r = client.post(data["urls"]["merge"], headers=head, json={
        "based_on": 0, "rev": 1, "index": 1, "want_lines": True}).get_json()
    assert [l["text"] for l in r["lines"]] == OCR
    r = client.post(data["urls"]["insert"], headers=head, json={
        "based_on": 0, "rev": 2, "index": 2, "want_lines": True}).get_json()
    assert [l["text"] for l in r["lines"]] == OCR + [""]
    r = client.post(data["urls"]["delete"], headers=head, json={
        "based_on": 0, "rev": 3, "index": 2, "want_lines": True}).get_json()
    assert len(r["lines"]) == 2 and r["rev"] == 4
    r = client.post(data["urls"]["delete"], headers=head, json={"based_on": 0, "rev": "x",
                                                                "index": 0})
    assert r.status_code == 400
    assert r.get_json()["error"] == ("The browser sent a request without a valid 'rev'. "
                                     "Reload the page and try again.")


def test_conflicting_form_saves_combine_and_clashing_lines_are_chosen(school):
    archive, ids = school
    kim = create_app(archive.path, local_name="kim").test_client()
    lee = create_app(archive.path, local_name="lee").test_client()
    url = f"/piece/{ids['ava']}"
    token_k, token_l = csrf(kim, url), csrf(lee, url)  # both open version 0
    r = kim.post(url + "/save", data={"csrf_token": token_k, "based_on": 0, "rev": 0,
                                      "line": TRUTH})
    assert r.status_code == 302
    # lee changed line 1 differently from kim and left line 2 as recognised.
    lees = ["Once upon a time there was", OCR[1]]
    r = lee.post(url + "/save", data={"csrf_token": token_l, "based_on": 0, "rev": 0,
                                      "line": lees})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "kim saved this piece today" in html and "+00:00" not in html
    assert "Choose which wording to keep" in html
    assert 'name="choice-0" value="mine"' in html and TRUTH[0] in html
    assert [l["text"] for l in piece_data(html)["lines"]] == lees  # still on lee's screen
    assert T.current_lines(archive, ids["ava"])[0].text == TRUTH[0]  # kim's version stands
    # Reloading later still shows the choice; lee keeps their line 1, kim's line 2 stays.
    html = lee.get(url).get_data(as_text=True)
    assert [l["text"] for l in piece_data(html)["lines"]] == lees
    assert 'id="clashes"' in html
    r = lee.post(url + "/save", data={"csrf_token": token_l, "based_on": 0,
                                      "rev": piece_data(html)["rev"], "line": lees,
                                      "theirs": "1", "choice-0": "mine"})
    assert r.status_code == 302
    assert [l.text for l in T.current_lines(archive, ids["ava"])] == [lees[0], TRUTH[1]]
    assert [v.author for v in T.history(archive, ids["ava"])] == ["ocr", "kim", "lee"]


def test_queue_filters_counts_and_pages(archive):
    genres = ["narrative", "recount", "diary", "letter", "poetry", "report", "persuasion",
              "information", "instructions", "explanation", "discussion"]
    for i, genre in enumerate(genres):
        add_piece(archive, "A100000000001", [f"line {i}"], half_term="2026-27-spring-1",
                  genre=genre)
    client = create_app(archive.path).test_client()
    html = client.get("/queue?genre=recount").get_data(as_text=True)
    assert html.count('class="piece-link"') == 1
    from scanflow.review.queue import QueueFilter, queue_page

    for i in range(60):
        archive.db["pieces"].insert({"pupil_id": "A100000000002", "half_term": "2025-26-summer-2",
                                     "genre": "narrative", "version": i + 1,
                                     "status": "reviewed" if i < 15 else "awaiting_review",
                                     "created_at": "x", "updated_at": "x"})
    q = queue_page(archive, QueueFilter(class_name="3A", half_term="2025-26-summer-2"))
    assert (q.awaiting, q.reviewed, q.total, q.pages, len(q.rows), q.progress) == \
        (45, 15, 45, 1, 45, 25)
    html = client.get("/queue?class=3A&status=all").get_data(as_text=True)
    assert "Page 1 of 2 (71 pieces)" in html
    assert "15</strong> of <strong>71</strong> pieces reviewed" in html


# --- unassigned pages ---------------------------------------------------------------------


def test_assign_discard_and_the_messages(school):
    archive, ids = school
    client = create_app(archive.path).test_client()
    html = client.get("/unassigned").get_data(as_text=True)
    assert "loose.png · page 1" in html and 'list="pupils"' in html
    token = csrf(client, "/unassigned")
    r = client.post(f"/unassigned/{ids['loose']}/assign", data={"csrf_token": token,
                                                                "pupil": "Nobody Here"})
    assert r.status_code == 400
    assert "No pupil matches &#39;Nobody Here&#39;." in r.get_data(as_text=True)
    r = client.post(f"/unassigned/{ids['loose']}/assign", data={"csrf_token": token,
                                                                "pupil": "cara patel"})
    assert r.status_code == 302
    piece = archive.db.execute("SELECT piece_id FROM pages WHERE id = ?", [ids["loose"]]).fetchone()[0]
    assert piece == ids["cara"]  # same pupil, half term and genre: the same piece
    other = add_page(archive, ["blank insert"], name="other")
    client.post(f"/unassigned/{other}/discard", data={"csrf_token": token})
    assert archive.db.execute("SELECT status FROM pages WHERE id = ?", [other]).fetchone()[0] == "discarded"
    assert "No pages are waiting for a pupil." in client.get("/unassigned").get_data(as_text=True)


def test_rotate_turns_image_and_boxes_and_marks_the_text_stale(school):
    archive, ids = school
    page = ids["loose"]
    client = create_app(archive.path).test_client()
    token = csrf(client, "/unassigned")
    before = archive.db.execute("SELECT x, y, w, h FROM lines WHERE page_id = ?", [page]).fetchone()
    w0, h0 = archive.db.execute("SELECT width, height FROM pages WHERE id = ?", [page]).fetchone()
    thumb0 = client.get(f"/page/{page}/thumb.webp").data
    master0 = archive.image(archive.db.execute("SELECT image_path FROM pages WHERE id = ?",
                                               [page]).fetchone()[0]).read_bytes()
    r = client.post(f"/unassigned/{page}/rotate", data={"csrf_token": token, "direction": "right"})
    assert r.status_code == 302
    rel, w1, h1, rotation, stale = archive.db.execute(
        "SELECT image_path, width, height, rotation, ocr_stale FROM pages WHERE id = ?",
        [page]).fetchone()
    assert (w1, h1, rotation, stale) == (h0, w0, 90, 1)
    # The master is not re-encoded: the turn is data, applied to what is shown.
    assert archive.image(rel).read_bytes() == master0
    assert archive.db.execute("SELECT image_turn FROM pages WHERE id = ?", [page]).fetchone()[0] == 90
    full = cv2.imdecode(np.frombuffer(client.get(f"/page/{page}/full").data, np.uint8),
                        cv2.IMREAD_COLOR)
    assert full.shape[:2] == (w0, h0)
    x, y, w, h = archive.db.execute("SELECT x, y, w, h FROM lines WHERE page_id = ?", [page]).fetchone()
    assert (x, y, w, h) == (h0 - (before[1] + before[3]), before[0], before[3], before[2])
    assert client.get(f"/page/{page}/thumb.webp").data != thumb0  # a new display copy
    html = client.get("/unassigned").get_data(as_text=True)
    assert "Turned since it was read" in html
    client.post(f"/unassigned/{page}/rotate", data={"csrf_token": token, "direction": "left"})
    assert archive.db.execute("SELECT x, y, w, h FROM lines WHERE page_id = ?", [page]).fetchone() == before
    r = client.post(f"/unassigned/{page}/rotate", data={"csrf_token": token})
    piece_page = archive.db.execute("SELECT id FROM pages WHERE piece_id = ?", [ids["ben"]]).fetchone()[0]
    r = client.post(f"/unassigned/{piece_page}/rotate", data={"csrf_token": token})
    assert r.status_code == 400
    assert f"Page {piece_page} belongs to piece {ids['ben']}; only pages on the unassigned list can be turned." in r.get_data(as_text=True)


def test_read_again_after_turning_reads_the_upright_page(archive, tmp_path):
    from conftest import write_png

    from scanflow.intake.ingest import IngestOptions, ingest

    png = write_png(tmp_path / "sideways.png", ["The cat sat on the mat"])
    # Scanned sideways, and orientation detection off: stored as it came.
    cv2.imwrite(str(png), cv2.rotate(cv2.imread(str(png)), cv2.ROTATE_90_COUNTERCLOCKWISE))
    from scanflow.ocr.preprocess import PreprocessSettings

    ingest(archive, [png], IngestOptions(half_term="2026-27-autumn-1", genre="narrative", jobs=1,
                                         preprocess=PreprocessSettings(orient=False)))
    page = archive.db.execute("SELECT id FROM pages").fetchone()[0]
    client = create_app(archive.path).test_client()
    token = csrf(client, "/unassigned")
    client.post(f"/unassigned/{page}/rotate", data={"csrf_token": token, "direction": "right"})
    r = client.post(f"/unassigned/{page}/read-again", data={"csrf_token": token})
    assert r.status_code == 302
    text, stale = archive.db.execute("SELECT ocr_text, ocr_stale FROM pages WHERE id = ?",
                                     [page]).fetchone()
    assert "cat sat on the mat" in text and stale == 0


# --- serving ------------------------------------------------------------------------------


def test_serving_beyond_this_computer_needs_an_account(archive):
    with pytest.raises(UsageError) as err:
        login_required(archive.path, "0.0.0.0", False)
    assert str(err.value) == ("Serving on 0.0.0.0 lets other computers connect, so everyone "
                              "must log in, but the archive has no accounts yet. Create one "
                              "first: scanflow user add NAME --role lead")
    r = CliRunner().invoke(cli, ["serve", "--host", "192.168.1.20", "--archive", str(archive.path)])
    assert r.exit_code == 2 and "scanflow user add NAME --role lead" in r.output
    with pytest.raises(UsageError, match="--require-login was given but the archive has no"):
        login_required(archive.path, "127.0.0.1", True)
    assert login_required(archive.path, "127.0.0.1", False) is False
    A.add_user(archive, "lead1", "lead", PW)
    assert login_required(archive.path, "0.0.0.0", False) is True
    assert login_required(archive.path, "::1", True) is True


def test_make_server_binds_loopback_and_reports_its_url(archive):
    server = make_server(archive.path, "127.0.0.1", 0)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url_of(server))
        assert server.scanflow_login is False
    finally:
        server.close()


# --- scoring panel (issue 6) ----------------------------------------------------------------


def test_scoring_form_records_every_changed_level_at_once_and_says_when_stale(school):
    from scanflow.scoring.scores import piece_scores

    archive, ids = school
    client = create_app(archive.path, local_name="kim").test_client()
    html = client.get(f"/piece/{ids['ava']}").get_data(as_text=True)
    assert 'id="scoring-details"' in html and "Narrative" in html  # the rubric, read-only
    r = client.get(f"/piece/{ids['ava']}/scoring?fragment=1")
    assert r.status_code == 200
    fragment = r.get_data(as_text=True)
    assert "<html" not in fragment and "Punctuation" in fragment
    assert fragment.count('<form') == 1 and fragment.count('type="submit"') == 1
    assert 'id="unreviewed"' in fragment  # nobody has reviewed the recognised text
    token = csrf(client, f"/piece/{ids['ava']}")
    r = client.post(f"/piece/{ids['ava']}/scoring", data={
        "csrf_token": token, "level-punctuation": "3", "level-vocabulary": "2"})
    assert r.status_code == 302
    current = piece_scores(archive, ids["ava"]).current
    assert (current["punctuation"].level, current["vocabulary"].level) == (3, 2)
    # The script's call: unchanged levels are not recorded twice; the panel comes back.
    r = client.post(f"/api/piece/{ids['ava']}/scoring", headers={"X-CSRF-Token": token},
                    data={"level-punctuation": "3", "level-vocabulary": "4"})
    assert r.get_json()["message"] == "Saved 1 level: Vocabulary 4."
    assert "recorded level 4 by kim" in r.get_json()["html"]
    assert len(piece_scores(archive, ids["ava"]).history) == 3
    # A correction after scoring: the panel says the levels are stale.
    lines = T.current_lines(archive, ids["ava"])
    lines[0].text = "Once upon a time there was"
    T.save_version(archive, ids["ava"], lines, based_on=0, author="kim")
    fragment = client.get(f"/piece/{ids['ava']}/scoring?fragment=1").get_data(as_text=True)
    assert 'id="stale"' in fragment and "stale: recorded level 3 by kim" in fragment
    assert 'id="unreviewed"' not in fragment


def test_a_bug_gives_a_plain_message_not_a_traceback(school):
    archive, ids = school
    app = create_app(archive.path)

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("internal detail")

    r = app.test_client().get("/api/boom")
    assert r.status_code == 500
    assert r.get_json()["error"].startswith("Something went wrong inside scanflow (a bug)")
    assert "internal detail" not in r.get_data(as_text=True)


# --- access: the no-login token, slowed guessing ---------------------------------------


def test_without_accounts_every_page_needs_the_printed_token(school):
    archive, ids = school
    client = create_app(archive.path, token="s3cret-token").test_client()
    for url in ("/", "/queue", f"/piece/{ids['ava']}", "/export/levels.csv",
                f"/api/piece/{ids['ava']}/save", "/page/1/display.jpg"):
        r = client.get(url)
        assert r.status_code == 403, url
    assert "ends in ?token=" in client.get("/queue").get_data(as_text=True)
    assert client.get("/queue?token=wrong").status_code == 403
    assert client.get("/static/review.css").status_code == 200
    r = client.get("/queue?token=s3cret-token&class=3A")
    assert r.status_code == 302 and r.headers["Location"] == "/queue?class=3A"  # token dropped
    assert client.get("/queue").status_code == 200  # kept in the cookie from now on
    other = create_app(archive.path, token="s3cret-token").test_client()  # another browser
    assert other.get(f"/piece/{ids['ava']}").status_code == 403


def test_repeated_wrong_passwords_slow_down_with_one_answer_for_every_name(school):
    archive, ids = school
    A.add_user(archive, "kim", "lead", PW)
    client = create_app(archive.path, require_login=True).test_client()
    for _ in range(5):
        assert login(client, "kim", "wrong password!").status_code == 401
    slowed = login(client, "kim", PW)  # even the right password waits its turn
    assert slowed.status_code == 429
    unknown = create_app(archive.path, require_login=True).test_client()
    for _ in range(5):
        login(unknown, "nobody", "wrong password!")
    r = login(unknown, "nobody", PW)
    assert r.status_code == 429
    strip = lambda html: re.sub(r"Wait \d+ seconds", "", re.search(
        r'role="alert">([^<]*)<', html).group(1))
    assert strip(r.get_data(as_text=True)) == strip(slowed.get_data(as_text=True))
    assert "kim" not in strip(slowed.get_data(as_text=True))
    # From another computer kim logs in at once: nobody can keep a teacher out.
    elsewhere = create_app(archive.path, require_login=True).test_client()
    r = elsewhere.post("/login?next=/queue", environ_base={"REMOTE_ADDR": "10.0.0.12"},
                       data={"username": "kim", "password": PW,
                             "csrf_token": csrf(elsewhere, "/login")})
    assert r.status_code == 302
