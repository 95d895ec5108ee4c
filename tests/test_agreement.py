"""Agreement statistics and the agreement benchmark's command line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scanflow.scoring.agreement import (
    adjacent_agreement,
    exact_agreement,
    fit_monotone_map,
    quadratic_weighted_kappa,
    standardised_mean_difference,
)
from scanflow.scoring.wordlists import BRITISH

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval" / "scoring"


def test_qwk_matches_a_hand_computation():
    # Observed: (1,1) (2,2) (3,2) (3,3). Disagreement sum(w*O) = 1 (the 3-vs-2 pair).
    # Expected counts r_i*c_j/4 with rows (1,1,2) and columns (1,2,1), weighted by
    # (i-j)^2: 0.5 + 1 + 0.25 + 0.25 + 2 + 1 = 5. QWK = 1 - 1/5.
    assert quadratic_weighted_kappa([1, 2, 3, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    assert quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == pytest.approx(1.0)
    assert quadratic_weighted_kappa([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(-1.0)
    # A fixed scale changes nothing when unused categories are empty.
    assert quadratic_weighted_kappa([1, 2, 3, 3], [1, 2, 2, 3], 0, 5) == pytest.approx(0.8)
    assert quadratic_weighted_kappa([2, 2, 2], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        quadratic_weighted_kappa([1, 2], [1])


def test_exact_adjacent_and_standardised_mean_difference():
    assert exact_agreement([1, 2, 3, 4], [1, 2, 2, 2]) == 0.5
    assert adjacent_agreement([1, 2, 3, 4], [1, 2, 2, 2]) == 0.75
    # Means 3 and 2, both variances 2/3: (3 - 2) / sqrt(2/3) = 1.2247.
    assert standardised_mean_difference([2, 3, 4], [1, 2, 3]) == pytest.approx(1.2247, 1e-4)
    assert standardised_mean_difference([1, 2, 3], [1, 2, 3]) == 0.0


def test_monotone_map_is_non_decreasing_and_recovers_a_shifted_scale():
    inputs = [2, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 10]
    rater = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    m = fit_monotone_map(inputs, [rater, rater], [0, 1, 2, 3])
    mapped = [m(x) for x in inputs]
    assert mapped == rater
    assert all(m(a) <= m(b) for a, b in zip(range(0, 12), range(1, 13)))
    # Many distinct inputs are grouped first; the map stays monotone.
    many = [i / 10 for i in range(100)]
    m = fit_monotone_map(many, [[i // 25 for i in range(100)]], [0, 1, 2, 3])
    assert [m(x) for x in many] == sorted(m(x) for x in many)
    assert quadratic_weighted_kappa([m(x) for x in many], [i // 25 for i in range(100)]) > 0.9


def _write_tsv(path: Path, rows: list[dict]) -> Path:
    columns = ["essay_id", "essay_set", "essay"] + [f"rater{r}_trait{t}" for r in (1, 2, 3)
                                                    for t in range(1, 7)]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def _mini_essays(path: Path) -> Path:
    """40 short stories whose raters reward length, with a grammar slip in every third."""
    sentences = ["One day I waited for the bus with my mum.", "It was raining and cold.",
                 "When it finally came, we climbed aboard and sat at the back.",
                 "I felt relieved, because the driver smiled at us.",
                 "Patience is hard, but it was worth it in the end."]
    rows = []
    for i in range(40):
        n = 1 + i % 5
        text = " ".join(sentences[:n]) + (" we was late" if i % 3 == 0 else "")
        score = min(3, n - 1 if n > 1 else 0)
        row = {"essay_id": str(1000 + i), "essay_set": "7", "essay": text}
        for t in range(1, 5):
            row[f"rater1_trait{t}"] = score
            row[f"rater2_trait{t}"] = max(0, score - (i % 2))
        rows.append(row)
    return _write_tsv(path, rows)


@pytest.mark.skipif(not BRITISH.is_file(), reason="needs Debian's wbritish word list")
def test_benchmark_runs_on_any_file_in_the_tsv_format(tmp_path):
    path = _mini_essays(tmp_path / "mini.tsv")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "agreement.py"), str(path),
                           "--json", "--folds", "4"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    traits = report["sets"][0]["traits"]
    assert [t["name"] for t in traits] == ["Ideas", "Organization", "Style", "Conventions"]
    for t in traits:
        assert set(t["qwk"]) == {"rater1", "rater2", "rater1_vs_rater2"}
        assert -1 <= t["qwk"]["rater1"] <= 1 and t["scale"] == [0, 3]
        assert set(t["smd"]) == {"rater1", "rater2", "rater1_vs_rater2"}
    assert report["essays"] == 40 and report["band"] == "year6plus"
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "agreement.py"),
                          str(tmp_path / "missing.tsv")], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip() == f"{tmp_path / 'missing.tsv'}: no such file."


@pytest.mark.skipif(not BRITISH.is_file(), reason="needs Debian's wbritish word list")
def test_fitting_the_suggester_keeps_the_rubric_directions_and_reports_held_out(tmp_path):
    from scanflow.scoring.criteria import LOWERING
    from scanflow.scoring.suggest import MODEL

    path = _mini_essays(tmp_path / "mini.tsv")
    script = str(ROOT / "benchmarks" / "fit_suggester.py")
    done = subprocess.run([sys.executable, script, str(path), "--json", "--folds", "4",
                           "--words"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["model"]) == set(MODEL)
    for criterion, weights in report["model"].items():
        assert "intercept" in weights
        for name, weight in weights.items():
            if name in LOWERING:
                assert weight <= 0, (criterion, name, weight)
            elif name != "intercept":
                assert weight >= 0, (criterion, name, weight)
    traits = report["sets"][0]["traits"]
    assert [t["name"] for t in traits] == ["Ideas", "Organization", "Style", "Conventions"]
    for t in traits:
        for column in ("current", "refit", "ceiling", "ceiling_words"):
            assert len(t[column]) == 2 and all(-1 <= v <= 1 for v in t[column]), (t, column)
    # These raters reward length alone, which every criterion's evidence sees: a suggester
    # refitted without the essays it is judged on still ranks them well.
    organization = traits[1]
    assert min(organization["refit"]) > 0.5, organization
    as_python = subprocess.run([sys.executable, script, str(path), "--folds", "4",
                                "--print-model"], capture_output=True, text=True, timeout=300)
    assert as_python.returncode == 0, as_python.stderr
    assert as_python.stdout.startswith("MODEL: dict[str, dict[str, float]] = {")
    missing = subprocess.run([sys.executable, script, str(tmp_path / "none.tsv")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr.strip().endswith("none.tsv: no such file.")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "asap_prompt7_dev.tsv").is_file(), reason="needs ../shared")
def test_benchmark_on_the_asap_dev_split_reports_every_trait():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "agreement.py"),
                           str(SHARED / "asap_prompt7_dev.tsv"), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    traits = json.loads(done.stdout)["sets"][0]["traits"]
    assert len(traits) == 4
    for t in traits:  # a floor well below the target, to catch a broken suggester
        assert min(t["qwk"]["rater1"], t["qwk"]["rater2"]) > 0.4, t
        assert abs(t["smd"]["rater1"]) < 0.3
