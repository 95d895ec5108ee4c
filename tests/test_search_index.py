"""Full-text search: the index follows every writer (triggers), filters, safe queries."""

from __future__ import annotations

import pytest
from archive_helpers import ZEPH, add_piece, make_school

from scanflow.archive import transcription as T
from scanflow.archive.pieces import assign_pages, discard_pages
from scanflow.archive.search import fts_query, index_problems, rebuild, search
from scanflow.errors import UsageError


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


def texts(archive):
    return dict(archive.db.execute("SELECT piece_id, text FROM piece_texts"))


def test_index_holds_the_final_text_of_every_piece(archive, school):
    stored = texts(archive)
    assert set(stored) == set(school.values())
    for piece_id, text in stored.items():
        assert text == T.current_text(archive, piece_id)
    assert stored[school["ava1"]].endswith("\n\nThe end becaus it was late")  # pages apart


def test_a_saved_version_replaces_the_ocr_text_in_the_index(archive, school):
    piece = school["ava1"]
    assert [h.piece_id for h in search(archive, "becaus")] == [piece]
    lines = T.current_lines(archive, piece)
    lines[-1].text = "The end because it was late"
    T.save_version(archive, piece, lines, based_on=0, author="mrs.k")
    assert search(archive, "becaus") == []
    assert [h.piece_id for h in search(archive, "because")] == [piece]
    T.restore(archive, piece, 0, author="mrs.k")  # back to the OCR text, as version 2
    assert [h.piece_id for h in search(archive, "becaus")] == [piece]
    assert texts(archive)[piece] == T.current_text(archive, piece)
    assert index_problems(archive) == []


def test_assigning_and_discarding_pages_moves_their_text(archive, school):
    add_piece(archive, None, "2026-27-autumn-1", "narrative", [["a purple elephant danced"]],
              file_name="loose.png")
    page = archive.db.execute("SELECT id FROM pages WHERE piece_id IS NULL").fetchone()[0]
    assert search(archive, "elephant") == []  # unassigned pages belong to no piece yet
    piece = assign_pages(archive, [page], "A100000000003")
    assert [h.piece_id for h in search(archive, "elephant")] == [piece]
    assert texts(archive)[piece] == T.current_text(archive, piece)
    add_piece(archive, None, "2026-27-autumn-1", "narrative", [["a green giraffe"]],
              file_name="loose2.png")
    other = archive.db.execute("SELECT id FROM pages WHERE piece_id IS NULL").fetchone()[0]
    discard_pages(archive, [other])
    assert search(archive, "giraffe") == []


def test_search_filters_by_pupil_class_genre_and_half_term(archive, school):
    everyone = {h.piece_id for h in search(archive, "castle")}
    assert everyone == {school["cara1"], school["ava2"], school["ben2"]}
    assert {h.piece_id for h in search(archive, "castle", class_name="3A")} == \
        {school["ava2"], school["ben2"]}
    assert {h.piece_id for h in search(archive, "castle", class_name="4B")} == {school["cara1"]}
    assert {h.piece_id for h in search(archive, "castle", genre="recount")} == {school["ben2"]}
    assert {h.piece_id for h in search(archive, "castle", half_term="2026-27-spring-1")} == \
        {school["ava2"], school["ben2"]}
    assert {h.piece_id for h in search(archive, "castle", pupil_id="A100000000001")} == \
        {school["ava2"]}
    hit = search(archive, "fox")[0]
    assert (hit.pupil_name, hit.class_name, hit.half_term) == ("Ben Jones", "3A",
                                                                "2026-27-autumn-1")
    assert hit.snippet_text() .count("[fox]") == 1
    # Teachers in the app see pupils now in their classes.
    assert {h.piece_id for h in search(archive, "castle", allowed_classes=("4B",))} == \
        {school["cara1"]}


def test_spelling_is_matched_as_written_and_prefixes_work(archive, school):
    assert [h.piece_id for h in search(archive, "frend")] == [school["ben1"]]
    assert search(archive, "friend") == []
    assert {h.piece_id for h in search(archive, "cast*")} == \
        {school["cara1"], school["ava2"], school["ben2"]}
    assert [h.piece_id for h in search(archive, '"lived in a cave"')] == [school["ava1"]]
    assert {h.piece_id for h in search(archive, "fox OR knight")} == \
        {school["ben1"], school["ava2"]}


def test_queries_that_would_be_fts_syntax_errors_are_made_safe():
    assert fts_query('dragon OR "best frend" castl*') == '"dragon" OR "best frend" "castl"*'
    assert fts_query('AND ( NEAR: "') == '"AND" "NEAR"'
    assert fts_query("don't-stop") == "\"don't stop\""


def test_a_query_without_words_says_what_to_type(archive, school):
    with pytest.raises(UsageError) as err:
        search(archive, '"" ***')
    assert str(err.value) == ("'\"\" ***' has no words to search for. Type one or more words, "
                              'e.g. dragon, or "best friend".')


def test_rebuild_recomputes_a_damaged_index(archive, school):
    with archive.transaction() as db:
        db.execute("DELETE FROM piece_texts WHERE piece_id = ?", [school["ava1"]])
        db.execute("UPDATE piece_texts SET text = 'nonsense' WHERE piece_id = ?",
                   [school["ben1"]])
    assert index_problems(archive) == ["1 piece(s) have no entry in the search index",
                                       "1 piece(s) have an out-of-date text in the search index"]
    assert rebuild(archive) == len(school)
    assert index_problems(archive) == []
    assert [h.piece_id for h in search(archive, "fox")] == [school["ben1"]]


def test_cli_search_and_rebuild(archive, school):
    from click.testing import CliRunner

    from scanflow.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["search", "--archive", str(archive.path), "dragon",
                                 "--class", "4B"])
    assert result.exit_code == 0, result.output
    assert "Cara Patel" in result.output and "[dragon]" in result.output
    assert result.output.strip().endswith("1 piece(s). Read one with: scanflow show PIECE")
    result = runner.invoke(cli, ["search", "--archive", str(archive.path), "--rebuild"])
    assert result.output.strip() == f"Search index rebuilt: {len(school)} piece(s)."
    result = runner.invoke(cli, ["search", "--archive", str(archive.path), "zzz", "--half-term",
                                 "2026-autumn-1"])
    assert result.exit_code == 2
    assert "is not a half term" in result.output
    assert ZEPH not in result.output


def test_unfiltered_search_ranks_like_the_whole_index_and_skips_discarded(archive):
    # Pieces that mention "dragon" more or less often, so the ranking is not a tie.
    terms = ("2026-27-autumn-1", "2026-27-autumn-2", "2026-27-spring-1")
    ids = [add_piece(archive, f"A10000000000{1 + i % 3}", terms[i // 3], "narrative",
                     [[("dragon " * (1 + i)) + "the end"]], file_name=f"f{i}.pdf")
           for i in range(8)]
    full = [r[0] for r in archive.db.execute(
        "SELECT rowid FROM piece_texts_fts WHERE piece_texts_fts MATCH 'dragon' "
        "ORDER BY rank")]
    assert sorted(full) == sorted(ids)
    assert [h.piece_id for h in search(archive, "dragon", limit=3)] == full[:3]
    # The best matches discarded: the next ones fill the page, still in rank order.
    archive.db.execute("UPDATE pieces SET status = 'discarded' WHERE id IN (?, ?)",
                       full[:2])
    assert [h.piece_id for h in search(archive, "dragon", limit=3)] == full[2:5]
    assert [h.piece_id for h in search(archive, "dragon", limit=50)] == full[2:]


def test_a_word_in_very_many_pieces_is_ranked_over_the_newest(archive, monkeypatch):
    from scanflow.archive import search as search_mod

    terms = ("2026-27-autumn-1", "2026-27-autumn-2")
    ids = [add_piece(archive, f"A10000000000{1 + i % 3}", terms[i // 3], "narrative",
                     [[("dragon " * (6 - i)) + "the end"]], file_name=f"f{i}.pdf")
           for i in range(6)]
    monkeypatch.setattr(search_mod, "RANK_AT_MOST", 3)
    # The oldest pieces say "dragon" most often, but only the newest three are ranked.
    assert [h.piece_id for h in search(archive, "dragon", limit=2)] == [ids[3], ids[4]]
    # A page the newest cannot fill is filled from all of them.
    assert len(search(archive, "dragon", limit=5)) == 5
    # A filter ranks everything it keeps.
    assert {h.piece_id for h in search(archive, "dragon", genre="narrative")} == set(ids)


def test_a_filtered_search_ranks_every_piece_that_passes_in_rank_order(archive, school):
    # A piece of an earlier half term added late (a book scanned after the half term)
    # lies outside the range of ids the rest of its half term has: it must still be found.
    late = add_piece(archive, "A100000000002", "2026-27-autumn-1", "narrative",
                     [["the castle the castle the castle"]], file_name="late.png")
    hits = search(archive, "castle", half_term="2026-27-autumn-1")
    assert {h.piece_id for h in hits} == {school["cara1"], late}
    assert hits[0].piece_id == late  # three times in a short text: the best match
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)
    unfiltered = [h.piece_id for h in search(archive, "castle")]
    by_term = {pid for pid, in archive.db.execute(
        "SELECT id FROM pieces WHERE half_term = '2026-27-autumn-1'")}
    assert [p for p in unfiltered if p in by_term] == [h.piece_id for h in hits]
    assert search(archive, "castle", half_term="2019-20-autumn-1") == []  # no pieces at all
