"""Which word a child meant by a misspelling: attributed only when unambiguous.

Measured on tests/data/child_misspellings.tsv (357 made-up but true-to-pattern child
misspellings; the file cites the patterns' sources). Precision is what matters: the
evidence a teacher reads ("statutory words misspelt: early") must not be wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanflow.scoring.features import analyse
from scanflow.scoring.wordlists import intended_word, load_dictionary

DATA = Path(__file__).parent / "data" / "child_misspellings.tsv"


def _rows() -> list[tuple[str, str, str]]:
    return [tuple(line.split("\t")) for line in DATA.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]


def attribution_scores(rows, dictionary) -> dict[str, float]:
    """Precision (right among attributed) and recall (right among all) of intended_word."""
    attributed = right = 0
    for wrong, meant, _pattern in rows:
        guess = intended_word(wrong, dictionary)
        attributed += guess is not None
        right += guess == meant
    return {"items": len(rows), "attributed": attributed, "right": right,
            "precision": right / attributed, "recall": right / len(rows)}


@pytest.fixture(scope="module")
def dictionary():
    try:
        return load_dictionary()
    except Exception as exc:  # MissingDependency: no wbritish on this machine
        pytest.skip(str(exc))


def test_the_test_set_is_big_enough_and_every_item_is_really_misspelt(dictionary):
    rows = _rows()
    assert len(rows) >= 200
    assert not [w for w, _m, _p in rows if dictionary.known(w)]
    assert not [m for _w, m, _p in rows if not dictionary.known(m)]


def test_precision_of_the_intended_word_is_at_least_95_percent(dictionary):
    scores = attribution_scores(_rows(), dictionary)
    print(scores)
    assert scores["precision"] >= 0.95
    assert scores["recall"] >= 0.65  # measured: 0.69 (247 of 357), precision 0.957


def test_reported_cases_from_the_issue(dictionary):
    assert intended_word("realy", dictionary) == "really"
    assert intended_word("lonley", dictionary) == "lonely"
    assert intended_word("wer", dictionary) is None  # were? where? wear? no guess
    assert intended_word("evry", dictionary) is None  # every? very? too short to tell
    assert not dictionary.american_only("nite") and not dictionary.known("nite")
    assert dictionary.american_only("color") and dictionary.known("color")
    f = analyse("It was realy lonley at nite.", year_group=4)
    assert f.statutory_targets == []  # not "early", not "money"
    assert "nite" in f.misspelt.words and "nite" not in f.american.words
