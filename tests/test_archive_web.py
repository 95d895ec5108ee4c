"""The archive in the review app: pupil pages, grids, search, downloads, and who sees what."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from archive_helpers import ZEPH, make_school

from scanflow.review import accounts as A
from scanflow.review.app import create_app

PW = "correct horse battery"
LOCAL = {"Host": "127.0.0.1:8000"}


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


@pytest.fixture
def lead(archive, school):
    return create_app(archive.path, testing=True).test_client()


def get(client, url, status=200):
    r = client.get(url, headers=LOCAL)
    assert r.status_code == status, r.get_data(as_text=True)[:2000]
    return r


def test_pupil_page_shows_pieces_chart_levels_and_pictures(lead, school):
    r = get(lead, "/pupil/A100000000001")
    html = r.get_data(as_text=True)
    assert "<h1>Ava Smith</h1>" in html
    assert html.index("Spring 1 2026-27 · Narrative") < html.index("Autumn 1 2026-27 · Narrative")
    assert "dragon called Fizz" in html and "The end becaus it was late" in html
    chart = re.search(r'<div class="chart" id="growth-chart">(<svg.*?</svg>)</div>', html, re.S)
    assert chart and "style=" not in chart.group(1)
    assert re.findall(r'<td class="level l(\d)">', html) == ["2", "2", "2", "3"]
    assert html.count("/thumb.webp?v=") == 3  # every page of both pieces
    assert f'href="/piece/{school["ava1"]}/searchable.pdf"' in html
    assert "no-store" in r.headers["Cache-Control"]
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    nav = get(lead, "/queue").get_data(as_text=True)
    assert '<a href="/classes" >Classes</a>' in nav and '<a href="/search" >Search</a>' in nav


def test_class_and_year_grids(lead, school):
    html = get(lead, "/classes?class=3A&half_term=2026-27-spring-1").get_data(as_text=True)
    assert "Class 3A, 2026-27-spring-1: 3 pupils" in html
    assert "change since 2026-27-autumn-1" in html
    assert '<td class="level l3">3<span class="change up">+1</span></td>' in html
    assert "Below the minimum length (60 words):" in html
    html = get(lead, "/year?year=3&half_term=2026-27-autumn-1").get_data(as_text=True)
    assert 'id="by-class"' in html and ">3A</a>" in html
    # Unasked, the page opens on the youngest year group with pupils, and offers only those.
    html = get(lead, "/year?half_term=2026-27-autumn-1").get_data(as_text=True)
    offered = re.findall(r'<option value="(\d)" (selected)?>Year', html)
    assert offered == [("3", "selected"), ("4", "")] and "No pupils were in" not in html
    html = get(lead, "/classes?class=9Z&half_term=2026-27-autumn-1").get_data(as_text=True)
    assert "No pupils were in class &#39;9Z&#39; in Autumn 1 2026-27." in html


def test_search_page_links_to_the_piece(lead, school):
    html = get(lead, "/search?q=castle&class=3A").get_data(as_text=True)
    hits = re.findall(r'<a href="/pupil/(\w+)#piece-(\d+)">', html)
    assert sorted(hits) == sorted([("A100000000001", str(school["ava2"])),
                                   ("A100000000002", str(school["ben2"]))])
    assert "<mark>castle</mark>" in html
    html = get(lead, '/search?q=%22').get_data(as_text=True)
    assert "has no words to search for." in html


def test_search_picks_the_pupil_by_name_not_id(lead, school):
    html = get(lead, "/search?q=castle").get_data(as_text=True)
    assert "Pupil id" not in html
    assert '<option value="Ava Smith · 3A · A100000000001">' in html  # the list to pick from
    for typed in ("Ava Smith", "ava", "Ava Smith · 3A · A100000000001", "A100000000001"):
        html = get(lead, "/search?q=castle&pupil=" + typed).get_data(as_text=True)
        hits = re.findall(r'<a href="/pupil/(\w+)#piece-(\d+)">', html)
        assert hits == [("A100000000001", str(school["ava2"]))], typed
    html = get(lead, "/search?q=castle&pupil=Nobody").get_data(as_text=True)
    assert "No pupil matches &#39;Nobody&#39;." in html


def test_downloads(lead, school):
    r = get(lead, "/export/levels.csv?half_term=2026-27-autumn-1")
    assert r.mimetype == "text/csv"
    assert "attachment; filename=levels-2026-27-autumn-1.csv" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert [row["upn"] for row in rows] == ["A100000000002", ZEPH, "A100000000001"]
    r = get(lead, "/pupil/A100000000001/portfolio.pdf")
    assert r.data.startswith(b"%PDF") and "portfolio-ava-smith.pdf" in \
        r.headers["Content-Disposition"]
    r = get(lead, f"/piece/{school['ava1']}/searchable.pdf")
    assert r.data.startswith(b"%PDF")
    r = get(lead, f"/piece/{school['ava1']}/alto.zip")
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert names == ["piece1_p1.alto.xml", "piece1_p1.png", "piece1_p2.alto.xml",
                     "piece1_p2.png"]
    get(lead, "/pupil/NOBODY", status=404)


def test_teachers_see_their_classes_only(archive, school):
    A.add_user(archive, "mr.b", "teacher", PW, classes=["4B"])
    A.add_user(archive, "office1", "office", PW)
    app = create_app(archive.path, require_login=True)

    def login(name):
        client = app.test_client()
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
        client.post("/login", data={"username": name, "password": PW, "csrf_token": token})
        return client

    teacher = login("mr.b")
    assert teacher.get("/pupil/A100000000003").status_code == 200
    assert 'id="train-hint"' not in teacher.get("/queue").get_data(as_text=True)
    r = teacher.get("/pupil/A100000000001")
    assert r.status_code == 403
    assert ("Ava Smith is in class 3A, which is not one of your classes (4B)."
            in r.get_data(as_text=True))
    assert teacher.get(f"/piece/{school['ava1']}/searchable.pdf").status_code == 403
    assert teacher.get("/classes?class=3A&half_term=2026-27-autumn-1").status_code == 403
    assert teacher.get("/classes?class=4B&half_term=2026-27-autumn-1").status_code == 200
    assert teacher.get("/year?year=3").status_code == 403
    assert teacher.get("/export/levels.csv").status_code == 403
    html = teacher.get("/search?q=castle").get_data(as_text=True)
    assert re.findall(r'<a href="/pupil/(\w+)#', html) == ["A100000000003"]
    office = login("office1")
    r = office.get("/search?q=castle")
    assert r.status_code == 403 and "does not show pupils&#39; writing" in r.get_data(as_text=True)


def test_the_lead_is_told_when_corrections_are_worth_training_on(lead, archive, school,
                                                                  monkeypatch):
    from scanflow.archive import summary
    from scanflow.archive.transcription import mark_reviewed

    assert 'id="train-hint"' not in get(lead, "/queue").get_data(as_text=True)
    monkeypatch.setattr(summary, "TRAIN_AFTER_PIECES", 2)
    mark_reviewed(archive, school["ava1"], reviewer="mrs.k")
    mark_reviewed(archive, school["ben1"], reviewer="mrs.k")
    html = get(lead, "/queue").get_data(as_text=True)
    assert 'id="train-hint">2 pieces have been reviewed so far' in html
    assert "<code>scanflow model train</code>" in html
