"""Which way up: line shape and how Latin the recogniser finds the lines, never a guess."""

from types import SimpleNamespace

import numpy as np
import pytest

from scanflow.ocr import orientation as O
from scanflow.ocr.preprocess import rotate_right_angle, to_grey


def wide(x, y, w=300, h=30):
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)


class FakeReader:
    """Boxes as given; every line reads with the foreign-script share and score chosen
    for the image as it is (``ahead``) and turned round (``back``)."""

    def __init__(self, quads, ahead=(0.001, 0.8), back=(0.001, 0.8)):
        self.quads, self.ahead, self.back, self.calls = quads, ahead, back, 0

    def find_lines(self, img):
        return list(self.quads)

    def read_lines(self, img, quads):
        self.calls += 1
        foreign, score = self.ahead if self.calls == 1 else self.back
        return [SimpleNamespace(foreign=foreign, score=score) for _ in quads]


def test_turning_a_box_with_the_page_keeps_its_corners_in_reading_order():
    quad = wide(10, 20)
    for degrees in (90, 180, 270):
        turned = O._turn_quad(quad, (400, 600), degrees)
        back = O._turn_quad(turned, (400, 600) if degrees == 180 else (600, 400),
                            (360 - degrees) % 360)
        assert np.allclose(back, quad)
    # Turned a quarter clockwise, a wide box is tall and its first corner still top-left.
    tall = O._turn_quad(quad, (400, 600), 90)
    w, h = O._sides(tall)
    assert h > w and tall[0][0] == tall[:, 0].min() and tall[0][1] == tall[:, 1].min()


def test_an_upright_page_stays_when_both_readings_look_alike():
    reader = FakeReader([wide(0, 40 * i) for i in range(6)])
    found = O.decide_orientation(np.zeros((400, 400), np.uint8), reader)
    assert found.rotate == 0 and found.sideways_share == 0.0
    assert set(found.foreign) == {0, 180}


def test_a_page_reading_as_pure_latin_is_not_read_turned_round():
    # Under 1e-4 foreign as it is, no turned reading could make the ratio reach 2.
    quads = [wide(0, 40 * i) for i in range(6)]
    reader = FakeReader(quads, (0.00005, 0.9), (0.0, 1.0))
    found = O.decide_orientation(np.zeros((400, 400), np.uint8), reader)
    assert found.rotate == 0 and reader.calls == 1 and set(found.foreign) == {0}
    # Just above it the turned reading is still taken and decides: its first two lines
    # read pure Latin, so the other three are read too (a third call).
    reader = FakeReader(quads, (0.0003, 0.5), (0.0, 1.0))
    found = O.decide_orientation(np.zeros((400, 400), np.uint8), reader)
    assert found.rotate == 180 and reader.calls == 3 and found.turned_lines == O.LINES


def test_an_upright_page_whose_first_lines_read_foreign_turned_is_not_read_further():
    quads = [wide(0, 40 * i) for i in range(6)]
    grey = np.zeros((400, 400), np.uint8)
    # Turned round the lines read as garbage: after two, no reading of the other three
    # could make the page as it is twice as foreign as turned.
    reader = FakeReader(quads, (0.0002, 0.9), (0.008, 0.5))
    found = O.decide_orientation(grey, reader)
    assert found.rotate == 0 and reader.calls == 2 and found.turned_lines == O.FIRST_TURNED
    assert found.to_dict()["turned_lines"] == 2
    # A page less Latin as it is: two lines turned cannot rule turning out, all five
    # are read before deciding (and it stays, its letters no surer turned).
    reader = FakeReader(quads, (0.002, 0.9), (0.0006, 0.5))
    found = O.decide_orientation(grey, reader)
    assert found.rotate == 0 and reader.calls == 3 and found.turned_lines == O.LINES


def test_upside_down_needs_more_foreign_script_and_surer_letters_turned():
    quads = [wide(0, 40 * i) for i in range(6)]
    grey = np.zeros((400, 400), np.uint8)
    turned = O.decide_orientation(grey, FakeReader(quads, (0.02, 0.5), (0.002, 0.7)))
    assert turned.rotate == 180 and "upside down" in turned.reason
    # Foreign-looking as it is but no surer turned round: not clear, so left alone.
    unsure = O.decide_orientation(grey, FakeReader(quads, (0.02, 0.7), (0.002, 0.6)))
    assert unsure.rotate == 0
    # Surer turned round but hardly less foreign: left alone too.
    close = O.decide_orientation(grey, FakeReader(quads, (0.003, 0.5), (0.002, 0.7)))
    assert close.rotate == 0


def test_tall_boxes_make_a_page_sideways_and_the_more_latin_turn_wins():
    tall = [O._turn_quad(wide(0, 40 * i), (400, 400), 90) for i in range(6)]
    grey = np.zeros((400, 400), np.uint8)
    found = O.decide_orientation(grey, FakeReader(tall, (0.01, 0.5), (0.002, 0.6)))
    assert found.sideways_share == 1.0 and found.rotate == 270
    found = O.decide_orientation(grey, FakeReader(tall, (0.002, 0.6), (0.01, 0.5)))
    assert found.rotate == 90


def test_too_few_lines_leave_the_page_as_it_is():
    found = O.decide_orientation(np.zeros((50, 50), np.uint8), FakeReader([wide(0, 0)]))
    assert found.rotate == 0 and "too few" in found.reason


@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
    from scanflow.ocr.engine import get_engine

    return get_engine("rapidocr")


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_generated_handwriting_comes_back_upright(engine, turn):
    from scanflow.evaluation.synth import render_page

    grey = to_grey(np.asarray(render_page(None, seed=41, dpi=150, ink="blue").image))
    found = O.decide_orientation(rotate_right_angle(grey, turn), engine)
    assert (turn + found.rotate) % 360 == 0, found


def test_the_decision_and_its_evidence_are_recorded_with_the_page(engine):
    from scanflow.ocr.reader import read_page
    from scanflow.evaluation.synth import render_page

    page = np.asarray(render_page(None, seed=43, dpi=150, ink="pencil").image)
    prepared, rec = read_page(rotate_right_angle(page, 180), engine, dpi=150)
    orient = [s for s in prepared.steps if s.name == "orient"]
    assert len(orient) == 1 and orient[0].result["rotate"] == 180
    assert orient[0].settings["method"].startswith("line shape")
    assert {"foreign", "score", "sideways_share", "reason"} <= set(orient[0].result)
    assert prepared.rotation == 180 and prepared.faithful.shape == page.shape
