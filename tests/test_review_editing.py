"""Line-by-line drafts and saving them as versions (scanflow.review.editing)."""

import pytest
from review_helpers import add_piece

from scanflow.archive import transcription as T
from scanflow.review import editing as E

TRUTH = ["Once upon a time ther was", "a dragon caled Spark", "he was sad"]
OCR = ["Once upon a tine ther was", "a dragon caled", "Spark", "he was sad", "~~~"]


@pytest.fixture
def piece(archive):
    return add_piece(archive, "A100000000001", TRUTH, OCR, doubtful={"tine", "~~~"})


def test_line_saves_go_to_a_draft_and_one_save_makes_one_version(archive, piece):
    d = E.save_line(archive, piece, "kim", based_on=0, rev=0, index=0,
                    text="Once upon a time ther was")
    assert d.rev == 1 and d.based_on == 0
    d = E.merge_lines(archive, piece, "kim", based_on=0, rev=1, index=1)
    assert [l.text for l in d.lines] == ["Once upon a time ther was", "a dragon caled Spark",
                                         "he was sad", "~~~"]
    d = E.delete_line(archive, piece, "kim", based_on=0, rev=2, index=3)
    d = E.save_line(archive, piece, "kim", based_on=0, rev=3, index=2, text="he was sad")
    assert T.latest_number(archive, piece) == 0  # nothing is a version until saved
    result = E.commit_draft(archive, piece, "kim")
    assert result.number == 1
    assert result.note == "corrected 2 lines, deleted 2, checked 1"
    assert T.current_text(archive, piece) == "\n".join(TRUTH)
    assert E.get_draft(archive, piece, "kim") is None
    v = T.get_version(archive, piece, 1)
    assert v.author == "kim" and v.based_on == 0
    assert all(l.confidence is None for l in v.lines)


def test_merged_box_covers_both_lines_and_split_cuts_a_tall_box(archive, piece):
    ocr = T.get_version(archive, piece, 0).lines
    d = E.merge_lines(archive, piece, "kim", based_on=0, rev=0, index=1)
    joined = d.lines[1]
    assert joined.y == min(ocr[1].y, ocr[2].y)
    assert joined.y + joined.h == max(ocr[1].y + ocr[1].h, ocr[2].y + ocr[2].h)
    d = E.split_line(archive, piece, "kim", based_on=0, rev=1, index=1, at=8)
    assert [l.text for l in d.lines[1:3]] == ["a dragon", "caled Spark"]
    assert d.lines[1].h + d.lines[2].h == joined.h and d.lines[2].y > d.lines[1].y


def test_inserted_line_sits_under_the_line_above(archive, piece):
    d = E.insert_line(archive, piece, "kim", based_on=0, rev=0, index=1)
    above, new = d.lines[0], d.lines[1]
    assert new.text == "" and new.page_id == above.page_id
    pitch = sorted(b.y - a.y for a, b in zip(d.lines[2:], d.lines[3:]))  # 100 px rules
    assert new.y == above.y + pitch[len(pitch) // 2] and new.h > 0 and new.x == above.x


def test_an_old_revision_is_refused_and_nothing_changes(archive, piece):
    E.save_line(archive, piece, "kim", based_on=0, rev=0, index=0, text="a")
    with pytest.raises(E.DraftChanged, match="changed in another window or tab"):
        E.save_line(archive, piece, "kim", based_on=0, rev=0, index=0, text="b")
    assert E.get_draft(archive, piece, "kim").lines[0].text == "a"
    with pytest.raises(Exception, match="has no line 99"):
        E.save_line(archive, piece, "kim", based_on=0, rev=1, index=98, text="x")


def test_changes_to_different_lines_are_combined_without_asking(archive, piece):
    # kim corrects line 1, lee (who opened the same version) line 4: both corrections stand.
    E.save_line(archive, piece, "kim", based_on=0, rev=0, index=0, text="Once upon a time ther was")
    E.save_line(archive, piece, "lee", based_on=0, rev=0, index=3, text="he was sad!")
    assert E.commit_draft(archive, piece, "kim").number == 1
    assert "saved this piece today" in E.conflict_message(archive, piece, 0)
    result = E.commit_draft(archive, piece, "lee")
    assert result.number == 2 and result.note.endswith("(combined with version 1 by kim)")
    assert [l.text for l in T.current_lines(archive, piece)] == [
        "Once upon a time ther was", "a dragon caled", "Spark", "he was sad!", "~~~"]
    assert T.get_version(archive, piece, 2).based_on == 1
    assert E.get_draft(archive, piece, "lee") is None


def test_a_line_both_changed_differently_waits_for_a_choice(archive, piece):
    E.save_line(archive, piece, "kim", based_on=0, rev=0, index=0, text="kim's text")
    E.save_line(archive, piece, "lee", based_on=0, rev=0, index=0, text="lee's text")
    E.save_line(archive, piece, "lee", based_on=0, rev=1, index=4, text="")
    assert E.commit_draft(archive, piece, "kim").number == 1
    with pytest.raises(E.MergeNeeded) as err:
        E.commit_draft(archive, piece, "lee")
    assert "1 of the lines you changed were changed differently" in err.value.message
    clash = err.value.merged.clashes[0]
    assert ([l.text for l in clash.mine], [l.text for l in clash.theirs]) == \
        (["lee's text"], ["kim's text"])
    assert E.get_draft(archive, piece, "lee").lines[0].text == "lee's text"  # kept
    assert T.current_lines(archive, piece)[0].text == "kim's text"
    # Choices made against an older version than the latest are asked again.
    with pytest.raises(E.MergeNeeded):
        E.commit_draft(archive, piece, "lee", choices={0: "mine"}, theirs=0)
    result = E.commit_draft(archive, piece, "lee", choices={0: "mine"}, theirs=1)
    assert result.number == 2
    assert [l.text for l in T.current_lines(archive, piece)] == [
        "lee's text", "a dragon caled", "Spark", "he was sad", ""]
    assert T.get_version(archive, piece, 1).lines[0].text == "kim's text"


def test_saving_without_changes_makes_no_version(archive, piece):
    assert E.save_lines(archive, piece, "kim", based_on=0, rev=0, texts=OCR) is None
    assert E.commit_draft(archive, piece, "kim").number is None
    assert T.latest_number(archive, piece) == 0


def test_words_to_check_are_the_unknown_and_the_doubted_per_ocr_line(archive, piece):
    flags = E.words_to_check(archive, piece, threshold=50)
    why = {w["text"]: w["why"] for ws in flags.values() for w in ws}
    # "ther" and "caled" are not English words (the child's spellings, to keep); the
    # recogniser doubted "tine" (a word) and "~~~" (no letters).
    assert why == {"ther": "unknown", "caled": "unknown", "tine": "unsure", "~~~": "unsure"}
    assert len(flags) == 3  # lines 1, 2 and 5


def test_line_breaks_and_control_characters_are_dropped_but_spacing_kept(archive, piece):
    d = E.save_line(archive, piece, "kim", based_on=0, rev=0, index=0,
                    text="two  spaces\nand\x07 a bell ")
    assert d.lines[0].text == "two  spaces and a bell "


def test_the_schools_pupils_names_are_not_marked_as_unknown_words(archive, tmp_path):
    from scanflow.archive.roster import import_roster

    roster = tmp_path / "new.csv"
    roster.write_text("UPN,Forename,Surname,Class,Year\nH801200001001,Zainab,Okonkwo-Reid,3A,3\n")
    import_roster(archive, roster)
    text = ["my frend Zainab and Zainab's dog Okonkwo", "Zainob came too"]
    piece = add_piece(archive, "A100000000001", text, text)
    marked = [w["text"] for ws in E.words_to_check(archive, piece).values() for w in ws]
    # A classmate's name is known; the child's "frend" and a misreading of the name are not.
    assert marked == ["frend", "Zainob"]
