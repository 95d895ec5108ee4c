from click.testing import CliRunner
from conftest import write_pdf

from scanflow.archive import transcription as T
from scanflow.archive.pieces import list_pieces
from scanflow.cli import cli
from scanflow.evaluation.accuracy import archive_accuracy
from scanflow.intake.ingest import IngestOptions, ingest


def test_accuracy_compares_ocr_with_corrections_per_engine_and_class(archive, tmp_path):
    opts = dict(half_term="2026-27-autumn-1", genre="narrative", jobs=1)
    ingest(archive, [write_pdf(tmp_path / "A100000000001_a.pdf", [["the cat sat"]])],
           IngestOptions(**opts, engine="tesseract"))
    ingest(archive, [write_pdf(tmp_path / "A100000000003_b.pdf", [["a big dog"]])],
           IngestOptions(**opts))
    pieces = {p.pupil_id: p.id for p in list_pieces(archive)}
    report = archive_accuracy(archive)
    assert report.corrected_pieces == 0 and report.uncorrected_pieces == 2
    # The teacher corrects piece 1 to something else: 'the cat sat' -> 'the bat sat' is
    # 1 edit in 11 characters against whatever OCR read.
    lines = T.current_lines(archive, pieces["A100000000001"])
    ocr = lines[0].text
    lines[0].text = "the bat sat"
    T.save_version(archive, pieces["A100000000001"], lines, based_on=0, author="t")
    lines = T.current_lines(archive, pieces["A100000000003"])
    T.save_version(archive, pieces["A100000000003"], lines, based_on=0, author="t")
    report = archive_accuracy(archive)
    assert report.corrected_pieces == 2
    by = {(g.engine, g.class_name): g for g in report.groups}
    tess = by[("tesseract", "3A")]
    assert tess.pages == 1 and tess.ref_chars == 11
    assert tess.char_edits >= 1 and (ocr != "the cat sat" or tess.char_edits == 1)
    assert by[("rapidocr", "4B")].char_edits == 0  # accepted as read
    assert [g.engine for g in report.engines] == ["rapidocr", "tesseract"]
    out = CliRunner().invoke(cli, ["accuracy", "--archive", str(archive.path)])
    assert out.exit_code == 0, out.output
    assert "2 corrected piece(s) compared" in out.output
    assert "tesseract  3A" in out.output
