"""The school's own recogniser: corrected lines out of the archive, training, versions.

The whole loop (export lines -> train a few steps -> ONNX -> read a page with it -> gate ->
rollback) runs on a tiny generated set; it needs the training extra (torch, onnx2torch),
which ``bash setup.sh test`` installs, and is skipped with the reason when it is missing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from archive_helpers import add_piece
from scanflow.archive import models
from scanflow.archive.erase import erase_pupils
from scanflow.archive.transcription import current_lines, mark_reviewed, save_version
from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.exports.lines import corrected_lines, export_lines
from scanflow.ocr import finetune
from scanflow.ocr.rapid import model_files

AVA, BEN, CARA = "A100000000001", "A100000000002", "A100000000003"
TRAINING = finetune.training_available()
needs_training = pytest.mark.skipif(TRAINING is not None, reason=f"{TRAINING}")


def reviewed_piece(archive, pupil, lines, fix=None):
    """A piece of ``lines`` (one page), corrected by ``fix(old) -> new`` and reviewed."""
    piece = add_piece(archive, pupil, "2026-27-autumn-1", "narrative", [lines])
    if fix:
        tlines = current_lines(archive, piece)
        for t in tlines:
            t.text = fix(t.text)
        save_version(archive, piece, tlines, based_on=0, author="mrs.k")
    mark_reviewed(archive, piece, reviewer="mrs.k")
    return piece


@pytest.fixture
def school(archive):
    reviewed_piece(archive, AVA, ["the dog ran", "a big cat"], fix=lambda t: t.replace("big", "bigg"))
    reviewed_piece(archive, BEN, ["we went out", "my frend"])
    reviewed_piece(archive, CARA, ["the sea is blue", "I like it"])
    add_piece(archive, CARA, "2026-27-autumn-2", "narrative", [["not reviewed yet"]])
    return archive


def test_export_lines_writes_reviewed_lines_with_the_teachers_text(school, tmp_path):
    report = export_lines(school, tmp_path / "lines")
    assert (report.lines, report.pieces, report.pupils, report.changed) == (6, 3, 3, 1)
    gts = sorted((tmp_path / "lines").glob("*.gt.txt"))
    texts = {p.read_text().strip() for p in gts}
    assert "a bigg cat" in texts and "not reviewed yet" not in texts
    for gt in gts:
        png = gt.with_name(gt.name[:-len(".gt.txt")] + ".png")
        img = finetune.load_line(png)
        assert img.shape[0] < 60 and img.shape[1] > 2 * img.shape[0]  # a line, not the page
    manifest = (tmp_path / "lines" / "lines.tsv").read_text().splitlines()
    assert manifest[0].split("\t") == ["stem", "piece_id", "page_id", "line_no", "engine",
                                       "model", "changed"]
    assert len(manifest) == 7 and AVA not in "".join(manifest)
    # The folder is the layout training and 'scanflow eval' read.
    assert len(finetune.read_line_dir(tmp_path / "lines")) == 6


def test_erased_pupils_lines_are_never_exported(school, tmp_path):
    erase_pupils(school, [AVA])
    lines, _ = corrected_lines(school)
    assert {line.pupil_id for line in lines} == {BEN, CARA}
    report = export_lines(school, tmp_path / "lines")
    assert report.lines == 4 and "bigg" not in "".join(
        p.read_text() for p in (tmp_path / "lines").glob("*.gt.txt"))


def test_export_lines_command(school, tmp_path):
    result = CliRunner().invoke(cli, ["export", "lines", str(tmp_path / "out"),
                                      "--archive", str(school.path)])
    assert result.exit_code == 0, result.output
    assert "6 line(s) from 3 reviewed piece(s) of 3 pupil(s), 1 corrected" in result.output


def test_a_line_is_cut_from_the_image_the_recogniser_read():
    """On a page scanned 2.5 degrees askew, the exported line is the level line the
    recogniser read in the deskewed page, not the upright box around its slope on the
    scan (which holds parts of the lines above and below)."""
    import cv2

    from scanflow.exports.lines import PAD, cut_line
    from scanflow.ocr.model import Box
    from scanflow.ocr.preprocess import PreprocessSettings, prepare, rotate_by

    page = np.full((1400, 1800), 255, np.uint8)
    for y in (400, 520, 640):  # three lines of letter-sized marks, 120 px apart
        for x in range(200, 1600, 36):
            cv2.rectangle(page, (x, y), (x + 22, y + 44), 0, -1)
    scanned, _ = rotate_by(page, 2.5)
    prepared = prepare(cv2.cvtColor(scanned, cv2.COLOR_GRAY2RGB), dpi=300,
                       settings=PreprocessSettings(orient=False, dewarp=False))
    assert abs(prepared.skew) >= 2
    ink = prepared.grey < 128
    rows = np.flatnonzero(ink.any(axis=1))
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    assert len(runs) == 3
    middle = runs[1]
    cols = np.flatnonzero(ink[middle[0]:middle[-1] + 1].any(axis=0))
    read = Box(int(cols[0]), int(middle[0]), int(cols[-1] - cols[0] + 1), len(middle))
    stored = prepared.geometry.to_faithful(read)  # what the archive keeps for the line
    assert stored.h > 2 * read.h
    crop = cut_line(prepared, (stored.x, stored.y, stored.w, stored.h))
    pad = 2 * round(PAD * read.h)  # the margin the crop keeps on either side
    assert abs(crop.shape[0] - read.h - pad) <= 4 and abs(crop.shape[1] - read.w - pad) <= 4
    inked = np.flatnonzero((crop[:, :, 0] < 128).any(axis=1))
    # One run of rows with ink, the line's own: no strip of a neighbour above or below.
    assert len(inked) >= read.h - 4 and inked[-1] - inked[0] + 1 == len(inked)


def test_split_by_group_keeps_each_writer_on_one_side(tmp_path):
    examples = [finetune.LineExample(tmp_path / f"{g}-{i}.png", "x", g)
                for g in "abcdefghij" for i in range(3)]
    train, held = finetune.split_by_group(examples, 0.2)
    assert len({e.group for e in held}) == 2 and len(held) == 6
    assert not {e.group for e in train} & {e.group for e in held}
    assert finetune.split_by_group(examples, 0.2) == (train, held)  # deterministic


def test_batches_of_similar_widths_waste_little_on_padding():
    import random

    rng = np.random.default_rng(3)
    widths = {i: float(w) for i, w in enumerate(rng.uniform(5, 25, 203))}

    def padded(batches):
        return sum(max(widths[i] for i in b) * len(b) for b in batches) / sum(widths.values())

    bucketed = finetune.epoch_batches(widths, 4, True, random.Random(1))
    shuffled = finetune.epoch_batches(widths, 4, False, random.Random(1))
    for batches in (bucketed, shuffled):
        assert sorted(i for b in batches for i in b) == list(range(203))  # each line once
        assert max(len(b) for b in batches) == 4
    assert padded(bucketed) < 1.1 < 1.2 < padded(shuffled)
    # Another epoch meets other neighbours and another batch order; a resumed run the same.
    assert finetune.epoch_batches(widths, 4, True, random.Random(2)) != bucketed
    assert finetune.epoch_batches(widths, 4, True, random.Random(1)) == bucketed


def test_read_lines_reads_a_printed_line_with_the_stock_model(tmp_path):
    import cv2

    img = np.full((48, 360, 3), 255, np.uint8)
    cv2.putText(img, "hello world", (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 2)
    text = finetune.read_lines(model_files()["rec"], [img])[0]
    assert finetune.cer(["hello world"], [text]) < 0.2


def register_copy(archive, tmp_path, status="better", learnt_from=None, base_id=None):
    """A version whose file is a copy of the stock recogniser (a real, readable model)."""
    copy = tmp_path / "copy.onnx"
    shutil.copyfile(model_files()["rec"], copy)
    return models.register_model(archive, copy, engine="rapidocr", base_model="stock",
                                 base_id=base_id, status=status, train_lines=10,
                                 heldout_lines=4, cer_before=0.2, cer_after=0.1,
                                 learnt_from=learnt_from)


def test_erasing_a_pupil_deletes_the_versions_that_learnt_their_handwriting(school, tmp_path):
    from scanflow.archive.erase import erasure_plan

    v1 = register_copy(school, tmp_path, learnt_from=[AVA, BEN])
    v2 = register_copy(school, tmp_path, learnt_from=[CARA], base_id=v1.id)  # on top of v1
    v3 = register_copy(school, tmp_path, learnt_from=[BEN, CARA])
    for version in (v1, v3, v2):  # v2 reads new pages; it replaced v3, which replaced v1
        models.use_model(school, version.id)
    work = school.path / "models" / "work"
    work.mkdir()
    (work / "checkpoint.pt").write_bytes(b"weights of an unfinished run")
    folder = school.path / "models"

    assert erasure_plan(school, AVA).models == ["v1", "v2"]
    report = erase_pupils(school, [AVA])
    assert (report.models_deleted, report.model_now) == (["v1", "v2"], "v3")
    assert models.active_id(school) == v3.id
    assert not (folder / v1.file).exists() and not (folder / v2.file).exists()
    assert (folder / v3.file).is_file() and not work.exists()
    assert {v.name: v.state for v in models.list_models(school)} == {
        "v1": "erased", "v2": "erased", "v3": "better"}
    assert AVA not in {r[0] for r in school.db.execute("SELECT pupil_id FROM model_pupils")}
    with pytest.raises(UsageError, match="pupil who has been erased"):
        models.use_model(school, v1.id)

    result = CliRunner().invoke(cli, ["pupil", "erase", CARA, "--yes",
                                      "--archive", str(school.path)])
    assert result.exit_code == 0, result.output
    assert "v3 deleted" in result.output and "the stock model" in result.output
    assert models.active_model(school) is None
    listing = CliRunner().invoke(cli, ["model", "list", "--archive", str(school.path)])
    assert listing.output.count("erased") == 3


def test_a_version_of_unknown_pupils_goes_with_any_pupil_who_had_a_reviewed_piece(
        archive, tmp_path):
    reviewed_piece(archive, AVA, ["the dog ran"])
    add_piece(archive, BEN, "2026-27-autumn-1", "narrative", [["not reviewed"]])
    older = register_copy(archive, tmp_path)  # trained before pupils were recorded
    models.use_model(archive, older.id)
    assert erase_pupils(archive, [BEN]).models_deleted == []  # never reviewed: never trained on
    assert erase_pupils(archive, [AVA]).models_deleted == ["v1"]
    assert models.active_model(archive) is None


def test_use_and_rollback_switch_the_model_new_pages_are_read_with(archive, tmp_path):
    v1 = register_copy(archive, tmp_path)
    v2 = register_copy(archive, tmp_path)
    assert (v1.file, v2.file) == ("rec-v1.onnx", "rec-v2.onnx")
    assert models.engine_options(archive, "rapidocr") == {}
    models.use_model(archive, 1)
    models.use_model(archive, "v2")
    opts = models.engine_options(archive, "rapidocr")
    assert opts["rec_model"].endswith("rec-v2.onnx")
    assert models.engine_options(archive, "tesseract") == {}
    retired, now_active = models.rollback(archive)
    assert retired.status == "retired" and now_active.id == 1
    retired, now_active = models.rollback(archive)
    assert retired.id == 1 and now_active is None
    with pytest.raises(UsageError, match="nothing to roll back"):
        models.rollback(archive)
    # A predecessor that cannot read any more is passed over for the one before it.
    v3, v4, v5 = (register_copy(archive, tmp_path) for _ in range(3))
    for version in (v3, v4, v5):
        models.use_model(archive, version.id)
    (archive.path / "models" / v4.file).unlink()
    assert models.rollback(archive)[1].id == v3.id
    with pytest.raises(UsageError, match="no model version 7"):
        models.use_model(archive, 7)


def test_pages_record_the_model_that_read_them(archive, tmp_path):
    from scanflow.ocr.engine import get_engine

    v1 = register_copy(archive, tmp_path)
    models.use_model(archive, v1.id)
    engine = get_engine("rapidocr", **models.engine_options(archive, "rapidocr"))
    assert "rec-v1.onnx" in engine.model()
    with pytest.raises(UsageError, match="does not exist"):
        get_engine("rapidocr", rec_model=tmp_path / "missing.onnx")


def test_model_commands_list_use_rollback(archive, tmp_path):
    register_copy(archive, tmp_path, status="not_better")
    run = lambda *args: CliRunner().invoke(cli, [*args, "--archive", str(archive.path)])  # noqa: E731
    listing = run("model", "list")
    assert listing.exit_code == 0 and "v1" in listing.output and "not better" in listing.output
    assert "* stock" in listing.output.replace("*stock", "* stock") or "*" in listing.output
    assert run("model", "use", "1").exit_code == 0
    assert "* v1" in run("model", "list").output.replace("*v1", "* v1")
    result = run("model", "rollback")
    assert result.exit_code == 0 and "stock model" in result.output
    bad = run("model", "use", "banana")
    assert bad.exit_code != 0 and "not a model version" in bad.output


def test_eval_model_option_reads_with_the_chosen_version(archive, tmp_path):
    import cv2

    data = tmp_path / "data"
    data.mkdir()
    img = np.full((60, 400, 3), 255, np.uint8)
    cv2.putText(img, "the red fox", (10, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    cv2.imwrite(str(data / "l1.png"), img)
    (data / "l1.gt.txt").write_text("the red fox\n")
    register_copy(archive, tmp_path)
    result = CliRunner().invoke(cli, ["eval", str(data), "--model", "1", "--json",
                                      "--archive", str(archive.path)])
    assert result.exit_code == 0, result.output
    assert '"model": "PP-OCRv6_det_small.onnx + rec-v1.onnx"' in result.output
    missing = CliRunner().invoke(cli, ["eval", str(data), "--model", "4",
                                       "--archive", str(archive.path)])
    assert missing.exit_code != 0 and "no model version 4" in missing.output


def test_training_without_enough_pupils_says_what_to_do(archive):
    if TRAINING:
        pytest.skip(TRAINING)
    from scanflow.training.school import train_school_model

    reviewed_piece(archive, AVA, ["the dog ran"])
    with pytest.raises(UsageError, match="at least two pupils"):
        train_school_model(archive)


# --------------------------------------------------------------------------- with torch


@needs_training
def test_torch_copy_of_the_recogniser_matches_onnxruntime():
    import onnxruntime
    import torch

    base = model_files()["rec"]
    net = finetune.to_torch(base).eval()
    rng = np.random.default_rng(0)
    x = finetune.batch_array([rng.integers(0, 255, (40, 200, 3), dtype=np.uint8)])
    expected = onnxruntime.InferenceSession(str(base)).run(None, {"x": x})[0]
    with torch.no_grad():
        got = torch.softmax(net(torch.from_numpy(x)), -1).numpy()
    assert np.abs(got - expected).max() < 1e-4
    # Every weight trains, the head and the LayerNorms included.
    assert sum(p.numel() for p in net.parameters()) > 5_000_000
    # The graph trained is the lean one: no tensor copies, biases inside the convolutions.
    graph = finetune._onnx_for_torch(base).graph
    assert not [n for n in graph.node if n.op_type == "Identity"]
    assert sum(len(n.input) == 3 for n in graph.node if n.op_type == "Conv") > 50


@needs_training
def test_whole_loop_export_train_read_gate_rollback(school, tmp_path):
    from scanflow.ocr.engine import get_engine
    from scanflow.ocr.reader import read_page
    from scanflow.training.school import train_school_model, work_dir

    reviewed_piece(school, AVA, ["on the hill", "rain fell"])
    settings = finetune.TrainSettings(epochs=3, batch_size=2, max_steps=2, threads=1,
                                      augment=False)
    report = train_school_model(school, holdout=0.34, settings=settings)
    v = report.version
    assert (v.id, v.file, report.steps) == (1, "rec-v1.onnx", 2)
    assert report.heldout_lines >= 2 and report.train_lines >= 2
    assert v.cer_before == pytest.approx(report.cer_before, abs=1e-4)
    # The gate follows the measurement, whichever way it went.
    assert report.became_default == (report.cer_after < report.cer_before)
    assert v.status == ("better" if report.became_default else "not_better")
    assert (models.active_id(school) == 1) == report.became_default
    # It records whose lines it learnt from: the trained pupils, not the held-back ones.
    learnt = {r[0] for r in school.db.execute("SELECT pupil_id FROM model_pupils")}
    assert len(learnt) == report.pupils - report.heldout_pupils and learnt <= {AVA, BEN, CARA}
    # Nothing of the school's lines is left on disk once training is over.
    assert not (work_dir(school) / "lines").exists()
    assert not (work_dir(school) / "checkpoint.pt").exists()

    # The new file reads a page through the normal pipeline, and says so.
    models.use_model(school, 1)
    engine = get_engine("rapidocr", **models.engine_options(school, "rapidocr"))
    from conftest import page_image

    _, rec = read_page(np.asarray(page_image(["The cat sat on the mat"])), engine)
    assert rec.model.endswith("rec-v1.onnx") and "cat" in rec.text.lower()
    retired, now_active = models.rollback(school)
    assert retired.id == 1 and now_active is None


def word_lines(tmp_path, words):
    """A line folder with one printed word a line, each its own writer."""
    import cv2

    folder = tmp_path / "lines"
    folder.mkdir()
    for i, word in enumerate(words):
        img = np.full((40, 150, 3), 255, np.uint8)
        cv2.putText(img, word, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)
        cv2.imwrite(str(folder / f"w{i}-00.png"), img)
        (folder / f"w{i}-00.gt.txt").write_text(word + "\n")
    return finetune.read_line_dir(folder)


@needs_training
def test_interrupted_training_resumes_from_its_checkpoint(tmp_path):
    examples = word_lines(tmp_path, ["cat", "dog", "sun", "hat", "pen", "box"])
    train, held = examples[:4], examples[4:]
    settings = finetune.TrainSettings(epochs=2, batch_size=2, threads=1, checkpoint_every=1,
                                      augment=False)

    class StopAfter:
        def __init__(self, n):
            self.n = n

        def start(self, total, description):
            self.total = total

        def advance(self, n=1):
            self.n -= n
            if self.n < 0:
                raise KeyboardInterrupt

        def finish(self):
            pass

    base = model_files()["rec"]
    out = tmp_path / "out.onnx"
    with pytest.raises(KeyboardInterrupt):
        finetune.fine_tune(base, train, held, out, tmp_path / "work", settings,
                           progress=StopAfter(2))
    assert (tmp_path / "work" / "checkpoint.pt").is_file() and not out.exists()
    result = finetune.fine_tune(base, train, held, out, tmp_path / "work", settings)
    assert result.resumed_from == 3 and result.steps == 4  # 3 steps were done when stopped
    assert finetune.read_lines(out, [finetune.load_line(held[0].image)])[0] is not None


def test_backup_and_restore_keep_the_model_versions(archive, tmp_path):
    from scanflow.archive.backup import backup, restore
    from scanflow.archive.store import open_archive

    v1 = register_copy(archive, tmp_path)
    models.use_model(archive, v1.id)
    backup(archive, tmp_path / "bk")
    assert (tmp_path / "bk" / "models" / "rec-v1.onnx").is_file()
    restore(tmp_path / "bk", tmp_path / "restored")
    again = open_archive(tmp_path / "restored")
    try:
        assert models.engine_options(again, "rapidocr")["rec_model"].startswith(
            str(tmp_path / "restored"))
    finally:
        again.close()

@needs_training
def test_frozen_convolutions_keep_their_weights(tmp_path):
    examples = word_lines(tmp_path, ["cat", "dog", "sun"])
    settings = finetune.TrainSettings(epochs=1, batch_size=2, threads=1, freeze=1,
                                      learning_rate=1e-3, warmup=0, augment=False)
    base = model_files()["rec"]
    finetune.fine_tune(base, examples[:2], examples[2:], tmp_path / "out.onnx",
                       tmp_path / "work", settings)

    # The checkpoint holds the weights as trained (the exported model is the best one,
    # which may be the untouched base).
    import torch

    trained = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)["model"]
    net = finetune.to_torch(base)
    convs = [name for name, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    first, last = convs[0] + ".weight", convs[-1] + ".weight"
    assert torch.equal(trained[first], net.state_dict()[first])
    assert not torch.allclose(trained[last], net.state_dict()[last])


@needs_training
def test_bfloat16_training_is_asked_for_or_found_and_keeps_float32_weights(tmp_path):
    import torch

    assert finetune.use_bf16(torch, "bf16") and not finetune.use_bf16(torch, "fp32")
    # auto: only where the CPU computes bfloat16 itself (emulated, it is slower).
    assert finetune.use_bf16(torch, "auto") == (
        finetune._cpu_has_bf16() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    with pytest.raises(UsageError):
        finetune.use_bf16(torch, "half")
    examples = word_lines(tmp_path, ["cat", "dog", "sun"])
    settings = finetune.TrainSettings(epochs=1, batch_size=2, threads=1, precision="bf16",
                                      learning_rate=1e-3, warmup=0, augment=False)
    base = model_files()["rec"]
    result = finetune.fine_tune(base, examples[:2], examples[2:], tmp_path / "out.onnx",
                                tmp_path / "work", settings)
    assert result.precision == "bf16"
    trained = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)["model"]
    base_weights = finetune.to_torch(base).state_dict()
    changed = [k for k, v in trained.items()
               if v.is_floating_point() and not torch.equal(v, base_weights[k])]
    assert changed and all(trained[k].dtype == torch.float32 for k in changed)


def test_status_names_the_recogniser_and_says_when_training_is_worth_it(school, tmp_path):
    from scanflow.archive.summary import recogniser_state

    def recogniser_status(archive, train_after):
        return recogniser_state(archive, train_after).lines()

    lines = recogniser_status(school, train_after=3)
    assert lines[0] == "  recogniser: stock (the rapidocr wheel's)"
    assert "3 piece(s) reviewed so far: scanflow model train" in lines[1]
    assert len(recogniser_status(school, train_after=4)) == 1  # not enough yet
    models.use_model(school, register_copy(school, tmp_path, learnt_from=[AVA, BEN]).id)
    lines = recogniser_status(school, train_after=1)
    assert lines[0].startswith("  recogniser: v1, trained 20")
    assert "20.0% CER before, 10.0% after" in lines[0]
    assert len(lines) == 1  # every review came before v1 (or in the same second)
    school.db.execute("UPDATE models SET created_at = '2026-09-01T00:00:00+00:00'")
    assert "3 piece(s) reviewed since v1 was trained" in recogniser_status(school, 1)[1]
