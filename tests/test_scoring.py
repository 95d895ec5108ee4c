"""Rubric suggestions with evidence, stored scores and their provenance, the score CLI.

Features are checked on small hand-written texts whose answers are known; pieces are
made directly in the archive (typed lines, no OCR) so the tests stay fast.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanflow.archive.pieces import piece_for
from scanflow.archive.store import now
from scanflow.archive.transcription import TLine, get_version, save_version
from scanflow.cli import cli
from scanflow.errors import MissingDependency, UsageError
from scanflow.scoring import scores as scores_mod
from scanflow.scoring import suggest as suggestions
from scanflow.scoring.features import analyse
from scanflow.scoring.rubric import band_for_year
from scanflow.scoring.rubric_file import (
    default_rubric_dir,
    load_rubric,
    load_rubric_for_genre,
)
from scanflow.scoring.wordlists import BRITISH, load_dictionary, statutory_words

ROOT = Path(__file__).resolve().parent.parent
needs_dictionary = pytest.mark.skipif(
    not BRITISH.is_file(), reason="needs Debian's wbritish word list (apt-get install wbritish)")

STORY_Y3 = ("The Dragon\n"
            "one day i went to the park with my dog Max. we seen a dragon\n"
            "it was big and scary and we ran home and then we had tea.\n"
            "\n"
            "\"Help!\" shouted Mum. I was so scared, I hid under my bed becaus the dragon "
            "was coming.")


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(ROOT / "rubrics" / "narrative.yaml")


def make_piece(archive, pupil_id: str, pages: list[list[str]], *,
               half_term: str = "2026-27-autumn-1", author: str = "mrs.k") -> int:
    """A piece whose teacher-typed transcription is ``pages`` (lines per page)."""
    db = archive.db
    batch = db["batches"].insert({"started_at": now(), "half_term": half_term,
                                  "genre": "narrative", "engine": "typed",
                                  "status": "done"}).last_pk
    sha = f"{pupil_id}-{batch}"
    db["files"].insert({"sha256": sha, "batch_id": batch, "path": "x.pdf", "name": "x.pdf",
                        "size": 1, "kind": "pdf", "status": "done", "added_at": now()})
    piece = piece_for(archive, pupil_id, half_term, "narrative")
    lines = []
    for n, page in enumerate(pages, 1):
        page_id = db["pages"].insert({
            "file_sha256": sha, "page_number": n, "batch_id": batch, "piece_id": piece,
            "position": n, "half_term": half_term, "genre": "narrative", "status": "ok",
            "created_at": now()}).last_pk
        lines += [TLine(page_id=page_id, text=t) for t in page]
    save_version(archive, piece, lines, based_on=0, author=author)
    return piece


# -- features ------------------------------------------------------------------------------


@needs_dictionary
def test_sentence_punctuation_capitals_end_marks_and_lowercase_i():
    f = analyse("the dog ran home. It was late\n\nWe ate tea and i was happy.")
    assert f.sentences == 3
    assert f.no_capital.words == ["the"]
    assert f.no_end_mark.count == 1
    text = f.text
    start, end = f.no_end_mark.spans[0]
    assert text[start:end] == "It was late"
    assert f.lowercase_i.words == ["i"]
    assert f.paragraphs == 2


@needs_dictionary
def test_run_ons_found_by_clause_analysis_not_conjunction_counts():
    f = analyse("I was bored there was nothing on. I was tired, I went to bed. "
                "I went to the park and then we played and then we went home and then we "
                "had tea. When I got home, I ate. I went home and ate my dinner.")
    assert f.run_on_kinds == {"fused": 1, "comma splice": 1, "chain": 1}
    assert f.kinds["complex"] == 1  # "When I got home, I ate."
    assert f.kinds["simple"] == 1  # one subject, two verbs: still one clause
    assert [f.text[s:e][:12] for s, e in f.run_ons.spans] == [
        "I was bored ", "I was tired,", "I went to th"]
    assert f.fronted_subordinate.count == 1


@needs_dictionary
def test_speech_marks_punctuated_unpunctuated_and_unclosed():
    f = analyse('"Come here," said Mum. "No" I said. Then she shouted "Stop it.')
    assert f.speech == 3
    assert f.speech_ok.words == ['"Come here,"']
    assert f.speech_unpunctuated.words == ['"No"']
    assert f.speech_unclosed.count == 1
    assert f.sentences == 3  # the comma inside speech does not end "said Mum"


@needs_dictionary
def test_misspellings_found_names_and_placeholders_ignored():
    f = analyse("Zarah and Kwame went to the shop becaus they wanted sweets. @CAPS1 dont "
                "like the color red. Kwame said the frend was nice.", year_group=2)
    assert f.misspelt.words == ["becaus", "frend"]
    assert f.statutory_targets == ["because", "friend"]
    assert {"Zarah", "Kwame"} <= set(f.names.words)
    assert f.apostrophes_missing.words == ["dont"]
    assert f.american.words == ["color"]
    assert "@CAPS1" not in f.misspelt.words


def test_statutory_lists_are_cumulative_by_year():
    assert "because" not in statutory_words(1) and "because" in statutory_words(2)
    assert "accommodate" not in statutory_words(4) and "accommodate" in statutory_words(5)
    assert statutory_words(4)["february"] == "February"
    assert statutory_words(0) == {}
    assert len([w for w in statutory_words(6) if w in statutory_words(5)]) == len(
        statutory_words(5))


def test_missing_word_list_is_a_clear_error(tmp_path):
    with pytest.raises(MissingDependency) as err:
        load_dictionary(tmp_path / "british-english", tmp_path / "american-english")
    assert str(err.value) == (
        f"No English word list at {tmp_path / 'british-english'}, so spelling cannot be "
        "checked. Install it with: sudo apt-get install wbritish (and wamerican for US "
        "spellings), then score again.")


@needs_dictionary
def test_title_line_is_not_a_sentence():
    f = analyse("The Dragon\none day we saw it.")
    assert f.title == (0, 10)
    assert f.sentences == 1
    assert f.no_capital.words == ["one"]


@needs_dictionary
def test_date_and_title_lines_are_headings_not_story():
    # The usual top of a page in an English book: the date, then the title.
    text = ("Wensday 22nd June\n"
            "The Lost Puppy\n"
            "Last week I found a little puppy in the park. He was wet and\n"
            "muddy. On Friday my dad sed we should take him to the vets.")
    f = analyse(text, year_group=3)
    assert f.title == (18, 32)
    assert f.sentences == 3 and f.no_capital.count == 0
    assert f.words == 27  # the piece's words; the date and title are not counted
    # Title case is not a name: no "Lost", "Puppy" or "Last" among the characters, and the
    # child's spelling of the weekday in the date is checked like any other word.
    assert f.characters.words == ["puppy", "dad"]
    assert "Wensday" in f.misspelt.words and "sed" in f.misspelt.words
    assert "Friday" in f.setting.words and "Friday" not in f.characters.words
    # The date and title are not the child's choice of vocabulary.
    assert not {"June", "Lost", "Puppy"} & set(f.less_common.words), f.less_common.words
    assert "muddy" in f.less_common.words
    dated = analyse("Thursday 15th November\nThe Storm\nIt was a dark night and the wind "
                    "howled. Everything outside was soaked.", year_group=3)
    assert dated.challenging.words == ["Everything"]


@needs_dictionary
def test_names_are_listed_once_each(rubric):
    text = ("Spark was a dragon. Spark met Mia in the wood. Spark and Mia flew home. "
            "Then Spark slept.")
    out = {s.criterion_id: s for s in suggestions.suggest(text, band_for_year(rubric, 3), rubric,
                                                     year_group=3)}
    names = [e.sentence for e in out["spelling"].evidence if "not spell-checked" in e.sentence]
    assert names == ['2 names not spell-checked: "Spark", "Mia"']


def test_a_wrapped_first_line_is_not_a_title():
    from scanflow.scoring.tokens import heading_spans

    assert heading_spans("Once upon a time there was a\nlittle dragon called Zog.") == []
    assert heading_spans("Once upon a time\nthere was a dragon.") == []
    assert heading_spans("The Dragon\none day we saw it.") == [("title", (0, 10))]
    assert [k for k, _ in heading_spans("22.6.26\nLO: to write a story\nThe Storm\n"
                                        "It was dark.")] == ["date", "objective", "title"]
    assert heading_spans("The end") == []  # a line with nothing after it heads nothing
    # A title above a story whose first word lost its capital: short beside the story's lines.
    page = ("wednesday 28th March\nMy Trip to the Seaside\n"
            "on Saturday my family went to the seaside in our\n"
            "car. The sea was really beautiful and it sparkled in\nthe sun.")
    assert [k for k, _ in heading_spans(page)] == ["date", "title"]
    wrapped = ("The dragon flew over the tall dark mountains\nand landed in a field "
               "near the river.\nIt was tired and hungry after the long flight.")
    assert heading_spans(wrapped) == []


def _page(rows, page_id=1, skew=0.0, pitch=100):
    """TLines laid out like handwriting on a ruled page: (text, x, right end) per line,
    ``pitch`` px apart; ``skew`` moves each line sideways by that many px per px down."""
    out = []
    for k, (text, x, right) in enumerate(rows):
        y = 300 + pitch * k
        shift = int(skew * y)
        out.append(TLine(page_id, text, x + shift, y, right - x, 60))
    return out


def _paragraph_lines(lines):
    text = "\n".join(line.text for line in lines)
    return [text[s:].split("\n")[0] for s in scores_mod.paragraph_starts(lines)]


def test_paragraphs_are_read_from_where_lines_sit_on_the_page():
    full = 2300
    story = [("Last week I found a little puppy in the park and", 300, full),
             ("he was wet. He did not have a collar so we did", 305, full - 40),
             ("not know his name at all.", 300, 1400),          # a paragraph ends short
             ("My dad said we should take him to the vets. The", 298, full),
             ("vet found a chip and phoned the lady who owned", 302, full - 60),
             ("him. She was so happy she gave me a box of", 300, full - 120),
             ("chocolates and a big hug.", 300, 1500)]
    assert _paragraph_lines(_page(story)) == ["My dad said we should take him to the vets. The"]
    # The same lines on a page scanned 2 degrees askew: no new paragraph from the lean.
    assert _paragraph_lines(_page(story, skew=0.05, pitch=420)) == [
        "My dad said we should take him to the vets. The"]
    # A line that stops short of the edge only because the next word would not fit there.
    wrapped = [("Once upon a time there was a dragon called Spark.", 300, 2200),
               ("Extraordinarily he lived in a cave on a hill and", 300, full),
               ("he was sad because he had no friend to play with.", 300, full - 30)]
    assert _paragraph_lines(_page(wrapped)) == []
    # An indent, and a skipped line, start paragraphs too.
    indented = [("It was a cold and dark night in the old town and", 300, full),
                ("the wind howled through the trees all night long", 300, full),
                ("Then the door creaked open and in came a tall man", 420, full),
                ("with a long coat and a hat pulled down low over", 300, full)]
    assert _paragraph_lines(_page(indented)) == ["Then the door creaked open and in came a tall man"]
    gap = _page(indented[:2] + [("Then the door creaked open and in came a tall man", 300,
                                 full), indented[3]])
    for line in gap[2:]:
        line.y += 100  # a ruled line left empty
    assert _paragraph_lines(gap) == ["Then the door creaked open and in came a tall man"]
    # Typed lines (no box) give no signal.
    assert scores_mod.paragraph_starts([TLine(1, t) for t, _x, _r in story]) == ()


@needs_dictionary
def test_a_single_paragraph_stays_below_the_levels_that_ask_for_paragraphs(rubric):
    band = band_for_year(rubric, 3)  # Year 3 level 4: "Paragraphs are evident..."
    story = ("Once upon a time there was a dragon called Spark who lived in a dark cave. "
             "One day a girl called Mia climbed the mountain. Suddenly it started to rain "
             "so they ran into the cave. Spark made a fire to keep them warm. The next "
             "morning Mia came back with her brother Tom. They flew over the forest and "
             "the river. In the end the village had a party for Spark and they all lived "
             "happily ever after. ") * 2
    one = {s.criterion_id: s for s in suggestions.suggest(story, band, rubric, year_group=3)}
    two = {s.criterion_id: s for s in suggestions.suggest(story.replace("The next ", "\n\nThe next ", 1),
                                                      band, rubric, year_group=3)}
    unknown = {s.criterion_id: s for s in suggestions.suggest(story, band, rubric, year_group=3,
                                                          paragraphs_known=False)}
    assert two["text_structure"].level >= 4 and unknown["text_structure"].level >= 4
    assert one["text_structure"].level == 3
    assert ("Level 4 and above ask for paragraphs and this piece has one, so the suggestion "
            "stays at level 3.") in [e.sentence for e in one["text_structure"].evidence]
    assert "Paragraph breaks are not known for this text." in [
        e.sentence for e in unknown["text_structure"].evidence]


# -- suggestions ---------------------------------------------------------------------------


@needs_dictionary
def test_suggestions_for_year3_gaps_judgement_and_evidence(rubric):
    band = band_for_year(rubric, 3)
    out = {s.criterion_id: s for s in suggestions.suggest(STORY_Y3, band, rubric, year_group=3)}
    assert list(out) == list(rubric.criteria)
    for missing in ("sentence_structure", "cohesion"):
        s = out[missing]
        assert (s.level, s.confidence) == (None, suggestions.NO_SUGGESTION)
        assert "marked missing" in s.reason and "Year 3" in s.reason
    for judged in ("audience_ideas", "character_setting"):
        assert out[judged].confidence == suggestions.JUDGEMENT and out[judged].level in range(1, 6)
    for cid in ("vocabulary", "punctuation", "spelling", "text_structure"):
        s = out[cid]
        assert s.confidence == suggestions.SUGGESTED
        assert s.descriptor == band.criterion(cid).levels[s.level]
    sentences = [e.sentence for e in out["punctuation"].evidence]
    assert '2 of 4 sentences start without a capital: "one", "we"' in sentences
    capitals = next(e for e in out["punctuation"].evidence if "capital" in e.sentence)
    assert [STORY_Y3[a:b] for a, b in capitals.spans] == ["one", "we"]
    spelling = [e.sentence for e in out["spelling"].evidence]
    assert '1 of 46 words checked is not in the dictionary: "becaus"' in spelling
    assert ('1 word from the Years 1-3 statutory spelling words looks misspelt: "because"'
            in spelling)
    length = out["text_structure"].evidence[0].sentence
    assert length == ("46 words. The rubric gives no minimum length for Year 3; compared "
                      "with Year 2's (60+ words), the nearest younger band that has one, it "
                      "is below that.")


@needs_dictionary
def test_levels_follow_the_evidence_within_a_band(rubric):
    band = band_for_year(rubric, 6)
    weak = "me and my frend went to the park it was fun we playd and then we went home"
    strong = (
        "Last summer, my family and I travelled to a quiet village beside the sea. The sky "
        "was grey and a bitter wind howled across the empty beach. When we arrived, my "
        "little brother, who was only four, sprinted straight into the freezing water. "
        "\"Come back!\" Dad shouted anxiously. Eventually, he returned, shivering and "
        "laughing; we wrapped him in an enormous towel. ") * 4
    low = {s.criterion_id: s.level for s in suggestions.suggest(weak, band, rubric)}
    high = {s.criterion_id: s.level for s in suggestions.suggest(strong, band, rubric)}
    for cid in rubric.criteria:
        assert high[cid] >= low[cid], cid
    assert sum(high.values()) - sum(low.values()) >= 8
    assert low["spelling"] <= 2 and high["spelling"] >= 3


@needs_dictionary
def test_same_writing_reads_higher_in_a_younger_band(rubric):
    text = ("My dog is called Max. He likes to run in the park. We play with a ball and "
            "then we go home. I love my dog because he is funny.")
    year1 = {s.criterion_id: s for s in suggestions.suggest(text, band_for_year(rubric, 1), rubric)}
    year6 = {s.criterion_id: s for s in suggestions.suggest(text, band_for_year(rubric, 6), rubric)}
    for cid in ("vocabulary", "punctuation", "spelling", "sentence_structure"):
        assert year1[cid].level >= year6[cid].level, cid
    assert year1["sentence_structure"].level - year6["sentence_structure"].level >= 2
    assert year6["sentence_structure"].descriptor.startswith(
        "Correct sentences are predominantly simple")


def test_band_shift_anchors_match_the_rubric(rubric):
    """The shifts rest on descriptors the rubric repeats across bands; check the anchors."""
    def text(band_id, cid, level):
        return band_for_year(rubric, {"kindergarten": 0, "year1": 1, "year3": 3, "year4": 4,
                                      "year6plus": 6}[band_id]).criterion(cid).levels[level]

    assert text("kindergarten", "sentence_structure", 5) == text("year6plus",
                                                                 "sentence_structure", 1)
    assert text("year1", "sentence_structure", 4) == text("year6plus", "sentence_structure", 1)
    assert text("kindergarten", "audience_ideas", 4) == text("year6plus", "audience_ideas", 2)
    assert text("year1", "audience_ideas", 3) == text("year6plus", "audience_ideas", 2)
    assert text("year4", "cohesion", 3) == text("year6plus", "cohesion", 2)
    assert text("year3", "text_structure", 5) == text("year6plus", "text_structure", 3)
    assert suggestions.BAND_SHIFT["kindergarten"]["sentence_structure"] == 4
    assert suggestions.BAND_SHIFT["year1"]["sentence_structure"] == 3
    assert suggestions.BAND_SHIFT["year4"]["cohesion"] == 1
    assert set(suggestions.BAND_SHIFT) == {b.id for b in rubric.bands}


@needs_dictionary
def test_error_free_spelling_is_at_least_level_3(rubric):
    band = band_for_year(rubric, 6)
    text = "We walked to the shops and bought some bread and milk for our tea. " * 3
    s = next(s for s in suggestions.suggest(text, band, rubric) if s.criterion_id == "spelling")
    assert s.level >= 3


# -- pieces, confirmation, history, provenance ------------------------------------------


@needs_dictionary
def test_confirm_keeps_history_and_provenance(archive):
    piece = make_piece(archive, "A100000000001", [STORY_Y3.split("\n")[:3],
                                                  STORY_Y3.split("\n")[4:]])
    result = scores_mod.suggest_for_piece(archive, piece)
    assert (result.year_group, result.band_id, result.transcription_version) == (3, "year3", 1)
    suggested = result.get("punctuation").level
    first = scores_mod.confirm_level(archive, piece, "punctuation", 3, scorer="mrs.k")
    assert (first.level, first.scorer, first.suggested_level) == (3, "mrs.k", suggested)
    assert first.suggestion_confidence == suggestions.SUGGESTED
    assert first.suggestion["evidence"] and first.suggestion["level"] == suggested
    assert (first.rubric_id, first.rubric_version, first.band_id) == ("narrative", "1", "year3")
    assert first.rubric_hash == result.rubric_hash and len(first.rubric_hash) == 64
    assert first.level_descriptor == band_for_year(
        load_rubric_for_genre(default_rubric_dir(), "narrative"), 3).criterion(
        "punctuation").levels[3]
    # A new transcription version, then a changed mind: a new row, the old one kept.
    version = get_version(archive, piece)
    save_version(archive, piece, version.lines, based_on=1, author="mrs.k", note="typo")
    second = scores_mod.confirm_level(archive, piece, "punctuation", 4, scorer="mr.b",
                                   note="second marker")
    assert (second.supersedes, second.transcription_version, second.note) == (
        first.id, 2, "second marker")
    scores = scores_mod.piece_scores(archive, piece)
    assert scores.current["punctuation"].id == second.id
    assert [(s.level, s.scorer) for s in scores.history] == [(3, "mrs.k"), (4, "mr.b")]
    event = archive.db.execute("SELECT actor, action, detail FROM events WHERE action = "
                               "'score.confirm' ORDER BY id DESC LIMIT 1").fetchone()
    assert event[:2] == ("mr.b", "score.confirm")
    assert json.loads(event[2])["level"] == 4


@needs_dictionary
def test_refuses_missing_criterion_bad_level_and_unknown_criterion(archive):
    piece = make_piece(archive, "A100000000001", [["We went to the zoo. It was fun."]])
    with pytest.raises(UsageError) as err:
        scores_mod.confirm_level(archive, piece, "sentence_structure", 3, scorer="mrs.k")
    assert str(err.value) == (
        "Sentence Structure cannot be scored for Year 3: the rubric has no descriptors for "
        "it (marked missing). Add the school's wording to the rubric file (see "
        "rubrics/README.md) and bump its version, then score again.")
    with pytest.raises(UsageError, match="Punctuation: the level must be a whole number "
                                         "from 1 to 5, not 6."):
        scores_mod.confirm_level(archive, piece, "punctuation", 6, scorer="mrs.k")
    with pytest.raises(UsageError, match="'grammar' is not a criterion of this rubric."):
        scores_mod.confirm_level(archive, piece, "grammar", 2, scorer="mrs.k")
    assert scores_mod.piece_scores(archive, piece).history == []


@needs_dictionary
def test_editing_the_rubric_later_changes_no_past_score(archive, tmp_path):
    rubrics = tmp_path / "rubrics"
    shutil.copytree(ROOT / "rubrics", rubrics)
    piece = make_piece(archive, "A100000000003", [["We went to the zoo. It was fun and "
                                                   "we saw a lion."]])
    before = scores_mod.confirm_level(archive, piece, "spelling", 2, scorer="mrs.k",
                                   rubric_dir=rubrics)
    path = rubrics / "narrative.yaml"
    text = path.read_text(encoding="utf-8")
    old = "Attempts most high frequency words and grade appropriate words with invented"
    assert old in text
    path.write_text(text.replace(old, "Tries most common words with invented", 1)
                    .replace("version: 1", "version: 2", 1), encoding="utf-8")
    report = scores_mod.score_piece(archive, piece, rubric_dir=rubrics)
    stored = report.scores.current["spelling"]
    assert stored.level_descriptor == before.level_descriptor
    assert (stored.rubric_version, stored.rubric_hash) == ("1", before.rubric_hash)
    assert report.suggestions.rubric_version == "2"
    assert report.suggestions.rubric_hash != before.rubric_hash
    assert "given against rubric version 1, whose wording has changed since" in \
        scores_mod.format_score_report(report)


@needs_dictionary
def test_accept_suggestions_never_takes_teacher_judgement(archive):
    piece = make_piece(archive, "A100000000003", [[
        "Last summer we went to the beach. The wind was cold, so we built a sandcastle. "
        "When the tide came in, it washed away. We laughed and went home for tea."]])
    report = scores_mod.score_piece(archive, piece, accept=True, scorer="mrs.k")
    recorded = {s.criterion_id for s in report.recorded}
    assert recorded == {"vocabulary", "punctuation", "spelling", "text_structure", "cohesion"}
    assert all(s.note == "accepted suggestion" for s in report.recorded)
    assert "audience_ideas" not in report.scores.current


@needs_dictionary
def test_year_group_follows_the_piece_academic_year(archive):
    today = dt.date.today()
    start = today.year if today.month >= 9 else today.year - 1
    old_term = f"{start - 2}-{(start - 1) % 100:02d}-autumn-1"
    piece = make_piece(archive, "A100000000001", [["I like cats. They are soft."]],
                       half_term=old_term)
    assert scores_mod.year_group_for_piece(archive, piece) == ("A100000000001", 1)
    assert scores_mod.suggest_for_piece(archive, piece).band_id == "year1"


# -- CLI -----------------------------------------------------------------------------------


@needs_dictionary
def test_cli_score_shows_suggestions_and_records_levels(archive, monkeypatch):
    monkeypatch.chdir(ROOT)
    piece = make_piece(archive, "A100000000001", [STORY_Y3.split("\n")])
    runner = CliRunner()
    base = ["score", str(piece), "--archive", str(archive.path)]
    shown = runner.invoke(cli, base, obj={})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == ("Piece 1: Ava Smith (A100000000001), year group 3: rubric band Year 3 "
                        "(narrative version 1)")
    assert lines[1].startswith("Scored text: transcription version 1 (teacher's "
                               "corrections); 46 words; the rubric gives no minimum length")
    assert "Sentence Structure: no suggestion." in lines
    assert any(line.startswith("Audience and Ideas: the teacher's judgement (the evidence "
                               "points to level") for line in lines)
    assert "  Not scored yet." in lines
    recorded = runner.invoke(cli, base + ["--set", "punctuation=3", "--set", "spelling=2",
                                          "--scorer", "mrs.k"], obj={})
    assert recorded.exit_code == 0, recorded.output
    assert recorded.output.splitlines()[1:3] == ["Recorded: Punctuation level 3 by mrs.k.",
                                                 "Recorded: Spelling level 2 by mrs.k."]
    assert any(line.startswith("  Scored: level 3 by mrs.k on ")
               for line in recorded.output.splitlines())
    refused = runner.invoke(cli, base + ["--set", "cohesion=2", "--scorer", "mrs.k"], obj={})
    assert refused.exit_code == 2
    assert refused.output.strip() == (
        "Error: Cohesion cannot be scored for Year 3: the rubric has no descriptors for it "
        "(marked missing). Add the school's wording to the rubric file (see "
        "rubrics/README.md) and bump its version, then score again.")
    bad = runner.invoke(cli, base + ["--set", "punctuation"], obj={})
    assert bad.exit_code == 2
    assert bad.output.strip() == ("Error: 'punctuation' is not CRITERION=LEVEL. For example: "
                                  "--set punctuation=3")
    as_json = json.loads(runner.invoke(cli, base + ["--json"], obj={}).output)
    assert as_json["current"]["spelling"]["level"] == 2
    assert as_json["suggestions"]["band_id"] == "year3"


@pytest.mark.slow
def test_paragraph_benchmark_reads_generated_pages():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paragraphs.py"),
                           "--pages", "2", "--photos", "0", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    geometry, text_only = summary["with_geometry/all"], summary["text_only/all"]
    assert geometry["pages"] == 2 and text_only["starts_found"] == 0
    assert geometry["starts_right"] <= geometry["starts_found"]
