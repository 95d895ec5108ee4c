"""Levels belong to the text they were judged on; suggestions on unreviewed text say so."""

from __future__ import annotations

import csv

from archive_helpers import STORY, add_piece, score

from scanflow.archive import transcription as T
from scanflow.exports.levels_csv import export_levels_csv, spreadsheet_safe
from scanflow.exports.portfolio import format_portfolio, pupil_portfolio
from scanflow.scoring import scores as S
from scanflow.scoring.levels import current_levels
from scanflow.scoring.suggest import NO_SUGGESTION

AVA = "A100000000001"


def _piece(archive):
    return add_piece(archive, AVA, "2026-27-autumn-1", "narrative", [STORY])


def test_a_page_added_after_scoring_makes_the_levels_stale_everywhere(archive, tmp_path):
    piece = _piece(archive)
    score(archive, piece, {"text_structure": 3, "spelling": 2})
    assert not any(s.stale for s in S.piece_scores(archive, piece).current.values())
    words_then = S.piece_scores(archive, piece).current["spelling"].words
    # The office scans a second page of the same piece (same file, page 2).
    add_piece(archive, AVA, "2026-27-autumn-1", "narrative",
              [["and then the dragon flew away over the hills"]], first_page=2)
    current = S.piece_scores(archive, piece).current
    assert current["spelling"].stale and current["text_structure"].stale
    assert all(lv.stale for lv in current_levels(archive, [piece])[piece].values())
    report = S.format_score_report(S.score_piece(archive, piece))
    assert f"STALE: this level was given on an earlier text of {words_then} words" in report
    out = tmp_path / "levels.csv"
    export_levels_csv(archive, out)
    row = next(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert row["stale"] == "yes" and int(row["words"]) > words_then
    shown = format_portfolio(pupil_portfolio(archive, AVA))
    assert "3*" in shown and "* stale" in shown
    # Scoring again on the new text clears it, for that criterion only.
    score(archive, piece, {"spelling": 2})
    current = S.piece_scores(archive, piece).current
    assert not current["spelling"].stale and current["text_structure"].stale


def test_a_correction_after_scoring_makes_levels_stale_and_restoring_it_does_not(archive):
    piece = _piece(archive)
    T.mark_reviewed(archive, piece, reviewer="mrs.k")
    score(archive, piece, {"vocabulary": 3})
    lines = T.current_lines(archive, piece)
    original = [T.TLine(**vars(line)) for line in lines]
    lines[0].text = "Once upon a time there was a red dragon called Fizz"
    T.save_version(archive, piece, lines, based_on=0, author="mrs.k")
    assert S.piece_scores(archive, piece).current["vocabulary"].stale
    T.save_version(archive, piece, original, based_on=1, author="mrs.k")  # same text again
    assert not S.piece_scores(archive, piece).current["vocabulary"].stale


def test_unreviewed_text_holds_back_spelling_and_punctuation(archive):
    piece = _piece(archive)
    result = S.suggest_for_piece(archive, piece)
    assert not result.reviewed
    for cid in ("spelling", "punctuation"):
        s = result.get(cid)
        assert (s.level, s.confidence, s.evidence) == (None, NO_SUGGESTION, [])
        assert "waits for the reviewed text" in s.reason
    assert result.get("vocabulary").level is not None
    assert "NO TEACHER HAS REVIEWED" in S.format_score_report(S.score_piece(archive, piece))
    T.mark_reviewed(archive, piece, reviewer="mrs.k")
    result = S.suggest_for_piece(archive, piece)
    assert result.reviewed and result.get("spelling").level is not None


def test_csv_cells_that_could_run_as_formulas_are_quoted(archive, tmp_path):
    assert [spreadsheet_safe(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)",
                                          "\tx", "Smith", 3, "")] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "Smith", 3, ""]
    archive.db.execute("UPDATE pupils SET surname = '=HYPERLINK(\"http://x\",\"y\")' "
                       "WHERE pupil_id = ?", [AVA])
    piece = _piece(archive)
    score(archive, piece, {"vocabulary": 3})
    out = tmp_path / "levels.csv"
    export_levels_csv(archive, out)
    row = next(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert row["surname"] == "'=HYPERLINK(\"http://x\",\"y\")"
