import pytest
from conftest import write_pdf

from scanflow.archive import transcription as T
from scanflow.archive.pieces import list_pieces
from scanflow.intake.ingest import IngestOptions, ingest


@pytest.fixture
def piece(archive, tmp_path):
    pdf = write_pdf(tmp_path / "A100000000001_s.pdf", [["Once upon a time ther was"], ["the end"]])
    ingest(archive, [pdf], IngestOptions(half_term="2026-27-autumn-1", genre="narrative", jobs=1))
    return list_pieces(archive)[0].id


def test_versions_conflicts_history_restore(archive, piece):
    v0 = T.get_version(archive, piece)
    assert v0.number == 0 and "ther" in v0.text and len(v0.lines) == 2
    ocr_text = v0.text
    lines = [T.TLine(**vars(l)) for l in v0.lines]
    lines[0].text = "Once upon a time ther was a dragon"
    assert T.save_version(archive, piece, lines, based_on=0, author="kim") == 1
    with pytest.raises(T.EditConflict, match="saved by kim .* Your text was not saved"):
        T.save_version(archive, piece, lines, based_on=0, author="lee")
    assert T.current_text(archive, piece).startswith("Once upon a time ther was a dragon")
    assert T.current_text(archive, piece).endswith("\n\nthe end")  # pages apart
    assert any(l.startswith("+Once upon") for l in T.diff(T.get_version(archive, piece, 0),
                                                          T.get_version(archive, piece, 1)))
    assert T.restore(archive, piece, 0, author="kim") == 2
    assert T.current_text(archive, piece) == ocr_text
    assert [v.number for v in T.history(archive, piece)] == [0, 1, 2]
    T.mark_reviewed(archive, piece, reviewer="kim")
    assert list_pieces(archive)[0].status == "reviewed"
