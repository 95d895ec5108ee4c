"""Line pictures: every line of a page cut to its own writing, the neighbours' ink painted out.

The pages are generated here: lines written so tightly that each line's box takes in the
tails and tops of the lines above and below, every line in its own ink colour, so what
a line's picture shows of the others can be counted.
"""

import cv2
import numpy as np
import pytest
from review_helpers import add_piece

from scanflow.errors import UsageError
from scanflow.review import accounts as A
from scanflow.review.app import create_app
from scanflow.review.linepictures import ROW, band, cut_lines, padding, parse_boxes

INKS = [(190, 40, 0), (0, 30, 190), (0, 130, 0)]  # BGR: blue, red, green, line after line
PITCH = 38  # baseline to baseline: each line's tops reach down past the tails above


def _inked(pixels: np.ndarray, colour) -> np.ndarray:
    """Where the strongest channel is clearly ``colour``'s (its ink, or a blurred edge)."""
    c = int(np.argmax(colour))
    others = np.delete(pixels.astype(int), c, axis=-1).max(axis=-1)
    return (pixels[..., c].astype(int) - others) > 60


def _ink(pixels: np.ndarray, colour) -> int:
    return int(_inked(pixels, colour).sum())


def tight_page(lines=6, touching: int | None = None):
    """A page and its lines' boxes (each its own ink's bounding box, as a recogniser
    gives). ``touching``: line k's last tail is drawn on down into line k+1's letters."""
    size = (PITCH * lines + 100, 760, 3)
    img, boxes = np.full(size, 250, np.uint8), []
    for k in range(lines):  # each line on its own sheet first, to find its box
        own = np.full(size, 250, np.uint8)
        base = 60 + k * PITCH
        cv2.putText(own, "hyggly bdq fold gypsy", (30, base), cv2.FONT_HERSHEY_SIMPLEX, 1.5,
                    INKS[k % 3], 3, cv2.LINE_AA)
        if k == touching:  # a letter whose tail runs on down into the next line's letter
            cv2.circle(own, (600, base - 10), 9, INKS[k % 3], 3, cv2.LINE_AA)
            cv2.line(own, (609, base - 12), (609, base + PITCH - 8), INKS[k % 3], 3)
        if touching is not None and k == touching + 1:
            cv2.circle(own, (612, base - 10), 9, INKS[k % 3], 3, cv2.LINE_AA)
        ys, xs = np.nonzero(_inked(own, INKS[k % 3]))
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                      int(ys.max() - ys.min() + 1)))
        img = np.minimum(img, own)
    return img, boxes


def _rectangle(img, box):
    """What a plain rectangular cut of the line's padded band shows."""
    b = band(box, 0.0)
    pad_y, pad_x = padding(b)
    y0, y1 = int(b.cy - b.h / 2 - pad_y), int(b.cy + b.h / 2 + pad_y)
    return img[max(0, y0):y1, int(b.cx - b.w / 2 - pad_x):int(b.cx + b.w / 2 + pad_x)]


def test_each_line_shows_its_own_writing_and_none_of_its_neighbours():
    img, boxes = tight_page()
    ink = (cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) < 200).astype(np.uint8)
    n, labels = cv2.connectedComponents(ink)
    inks = [_inked(img, colour) for colour in INKS]
    assert all(sum((one & (labels == blob)).any() for one in inks) == 1
               for blob in range(1, n))  # close, but no two lines' strokes touch
    sheet = cut_lines(img, 1.0, boxes)
    assert sheet.shape[0] == ROW * len(boxes)
    for k in range(1, len(boxes) - 1):
        above, mine, below = INKS[(k - 1) % 3], INKS[k % 3], INKS[(k + 1) % 3]
        plain = _rectangle(img, boxes[k])
        # The page is tight: a rectangle around the line shows both neighbours' ink.
        assert _ink(plain, above) > 50 and _ink(plain, below) > 50
        row = sheet[k * ROW:(k + 1) * ROW]
        assert _ink(row, above) == 0 and _ink(row, below) == 0, k
        # ... and all of its own writing, at about the scale it is cut at.
        scale = ROW / plain.shape[0]
        assert _ink(row, mine) > 0.8 * _ink(plain, mine) * scale * scale


def test_a_tail_that_runs_into_the_next_line_is_shared_out_between_them():
    img, boxes = tight_page(touching=2)
    ink = (cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) < 160).astype(np.uint8)
    _n, labels = cv2.connectedComponents(ink)
    assert labels[60 + 2 * PITCH - 10, 591] == labels[60 + 3 * PITCH - 10, 621]  # one blob
    sheet = cut_lines(img, 1.0, boxes)
    row = sheet[2 * ROW:3 * ROW]
    assert _ink(row, INKS[3 % 3]) == 0  # nothing of line 4's letters on line 3
    assert _ink(sheet[3 * ROW:4 * ROW], INKS[3 % 3]) > 100  # which keep them


def test_a_sloping_page_gives_level_lines():
    img, boxes = tight_page(lines=3)
    h, w = img.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), -3, 1.0)  # sloping down to the right
    tilted = cv2.warpAffine(img, turn, (w, h), borderValue=(250, 250, 250))
    corners = []
    for x, y, bw, bh in boxes:
        pts = np.array([[x, y, 1], [x + bw, y, 1], [x, y + bh, 1], [x + bw, y + bh, 1]]) @ turn.T
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        corners.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    sheet = cut_lines(tilted, 1.0, corners, skew=3.0)
    row = sheet[ROW:2 * ROW]
    ys = np.nonzero(_inked(row, INKS[1]))[0]
    # Levelled: the line's writing fills its row's middle, not a slanting band across it.
    assert ys.min() >= 2 and ys.max() <= ROW - 3


def test_the_boxes_in_the_address_are_checked():
    assert parse_boxes("1,2,3,4;5,6,7,8") == [(1, 2, 3, 4), (5, 6, 7, 8)]
    for bad in ("", "1,2,3", "1,2,3,4;", "a,b,c,d", "1,2,0,4", "-1,2,3,4",
                ";".join(["1,2,3,4"] * 501)):
        with pytest.raises(UsageError):
            parse_boxes(bad)


def test_the_app_serves_a_page_s_line_picture_to_those_who_may_see_it(archive):
    ava = add_piece(archive, "A100000000001", ["Once upon a time", "there was a dragon"])
    cara = add_piece(archive, "A100000000003", ["I like maths"])
    page, boxes = archive.db.execute(
        "SELECT pages.id, group_concat(x || ',' || y || ',' || w || ',' || h, ';') FROM pages "
        "JOIN lines ON lines.page_id = pages.id WHERE piece_id = ?", [ava]).fetchone()
    client = create_app(archive.path).test_client()
    r = client.get(f"/page/{page}/lines.jpg?b={boxes}&v=1")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(r.data, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[0] == 2 * ROW
    assert "max-age" in r.headers["Cache-Control"]
    again = client.get(f"/page/{page}/lines.jpg?b={boxes}&v=1")
    assert again.data == r.data
    assert client.get(f"/page/{page}/lines.jpg?b=1,2,3").status_code == 400
    # Kept in the app's memory, never in the archive: nothing to erase with the page.
    assert not list(archive.path.glob("images/**/*lines*"))
    A.add_user(archive, "mrs.k", "teacher", "correct horse battery", classes=["3A"])
    teacher = create_app(archive.path, require_login=True).test_client()
    from test_review_app import login

    login(teacher, "mrs.k")
    other = archive.db.execute("SELECT id FROM pages WHERE piece_id = ?", [cara]).fetchone()[0]
    assert teacher.get(f"/page/{other}/lines.jpg?b=1,2,3,4").status_code == 403
