"""The three-way merge of two people's corrections (scanflow.review.merge)."""

from scanflow.archive.transcription import TLine
from scanflow.review.merge import merge, resolve


def lines(*texts, confidence=None):
    return [TLine(1, t, confidence=confidence) for t in texts]


def texts(ls):
    return [l.text for l in ls]


BASE = ["ther was", "a dragun", "caled Spark", "he was sad", "the end"]


def test_edits_on_different_lines_inserts_and_deletes_all_combine():
    mine = ["there was", "a dragun", "caled Spark", "he was sad", "the end", "by Ava"]
    theirs = ["ther was", "a dragon", "he was sad", "the end"]  # also deleted line 3
    m = merge(lines(*BASE), lines(*mine), lines(*theirs))
    assert not m.clashes
    assert texts(m.lines) == ["there was", "a dragon", "he was sad", "the end", "by Ava"]


def test_the_same_change_on_both_sides_is_taken_once():
    both = ["there was", *BASE[1:]]
    m = merge(lines(*BASE), lines(*both), lines(*both))
    assert not m.clashes and texts(m.lines) == both


def test_different_changes_to_one_line_clash_and_keep_both_unless_chosen():
    mine, theirs = ["there was", *BASE[1:]], ["ther wos", *BASE[1:4], "THE END"]
    m = merge(lines(*BASE), lines(*mine), lines(*theirs))
    assert len(m.clashes) == 1
    c = m.clashes[0]
    assert (texts(c.base), texts(c.mine), texts(c.theirs)) == (["ther was"], ["there was"],
                                                             ["ther wos"])
    assert texts(m.lines) == BASE[1:4] + ["THE END"]  # the clash is not placed yet
    assert texts(resolve(m, {0: "theirs"}))[0] == "ther wos"
    assert texts(resolve(m, {0: "mine"}))[0] == "there was"
    assert texts(resolve(m, {}))[:2] == ["there was", "ther wos"]  # nothing dropped


def test_a_line_read_against_the_page_by_either_person_stays_read():
    base = lines(*BASE, confidence=50.0)
    mine = lines(*BASE, confidence=50.0)
    mine[2].confidence = None
    m = merge(base, mine, lines(*BASE, confidence=50.0))
    assert [l.confidence for l in m.lines] == [50.0, 50.0, None, 50.0, 50.0]
