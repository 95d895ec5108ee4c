"""Pupils: importing the school's class lists and looking pupils up.

A roster CSV is what a school MIS exports. Columns are matched by name, not position, so
``UPN``, ``Pupil ID`` or ``upn`` all work; rows that cannot be used are reported with
their line number and reason, and the rest still import. Re-importing updates pupils in
place (by pupil id) and records class or year-group changes in ``pupil_history``.

Pupils who leave are never deleted, nor are their pieces: :func:`mark_left` sets
``left_on`` (by hand, or for everyone missing from a whole-school export with
``import_roster(..., mark_missing_as_left=DATE)``); a pupil who appears in a later import
is back on roll (``left_on`` cleared). Both are logged.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from scanflow.archive.store import Archive, now
from scanflow.errors import InputFileError, UnknownPupil, UsageError

# Accepted header spellings, compared after lower-casing and dropping non-letters.
COLUMNS = {
    "pupil_id": ["upn", "pupilid", "id", "uniquepupilnumber", "pupil", "studentid", "adno",
                 "admissionnumber"],
    "first_name": ["firstname", "forename", "legalforename", "givenname", "first"],
    "preferred_name": ["preferredforename", "preferredname", "knownas", "preferredfirstname"],
    "surname": ["surname", "lastname", "legalsurname", "familyname", "preferredsurname"],
    "class_name": ["class", "classname", "form", "reggroup", "registrationgroup", "tutorgroup",
                   "group"],
    "year_group": ["yeargroup", "year", "ncyear", "ncyearactual", "yr"],
    "date_of_birth": ["dob", "dateofbirth", "birthdate"],
}
REQUIRED = ("pupil_id", "first_name", "surname")
YEAR_WORDS = {"reception": 0, "r": 0, "kindergarten": 0, "k": 0, "yr": 0}


@dataclass
class Pupil:
    pupil_id: str
    first_name: str
    surname: str
    class_name: str | None = None
    year_group: int | None = None
    preferred_name: str | None = None
    date_of_birth: str | None = None
    left_on: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.preferred_name or self.first_name} {self.surname}"


@dataclass
class RosterReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    columns: dict[str, str] = field(default_factory=dict)  # our field -> header used
    left: list[str] = field(default_factory=list)  # pupil ids marked as having left
    returned: list[str] = field(default_factory=list)  # had left, in this file again
    # (line number, what looks wrong): the row is imported all the same
    warnings: list[tuple[int, str]] = field(default_factory=list)


def _key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


def map_columns(headers: list[str]) -> dict[str, str]:
    """Which CSV header feeds each pupil field.

    >>> map_columns(["UPN", "Legal Forename", "Surname", "Reg Group", "Year"])["class_name"]
    'Reg Group'
    """
    by_key = {_key(h): h for h in headers}
    mapping = {}
    for field_name, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in by_key:
                mapping[field_name] = by_key[alias]
                break
    return mapping


def parse_year_group(value: str) -> int | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    if value in YEAR_WORDS:
        return YEAR_WORDS[value]
    m = re.search(r"\d+", value)
    if not m:
        raise ValueError(f"year group '{value}' is not a number (use 0 for Reception)")
    year = int(m.group())
    if not 0 <= year <= 8:
        raise ValueError(f"year group {year} is outside 0-8")
    return year


# What office files that are not CSV start with, as the user would name them.
_SIGNATURES = [(b"PK\x03\x04", "an Excel workbook (.xlsx) or another zipped file"),
               (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
               (b"%PDF", "a PDF"), (b"\x89PNG", "an image"), (b"\xff\xd8\xff", "an image")]


def _binary_kind(path: Path) -> str | None:
    """What a file that cannot be a CSV looks like, or None if it could be one."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    # Text never holds NUL bytes (UTF-16 exports aside, which have a byte-order mark).
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "a binary file, not text"
    return None


# The DfE's check-letter alphabet: a remainder (0-22) is the letter at that place; I, O and
# S are left out so they are not mistaken for 1, 0 and 5.
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(r"^[A-Z][0-9]{11}[0-9A-Z]$")


def check_upn(pupil_id: str) -> str | None:
    """What is wrong with ``pupil_id`` as a Unique Pupil Number, or None if it is one.

    A UPN is 13 characters: a check letter, 11 digits, and a digit (or, for a temporary
    UPN, a letter). The check letter is the DfE's: characters 2-13 weighted 2-13, summed,
    modulo 23. Schools also use their own ids, so callers warn and never refuse.

    >>> check_upn("H801200001001") is None
    True
    >>> check_upn("A801200001001")
    "check letter should be 'H', not 'A' (mistyped?)"
    >>> check_upn("not-an-upn")
    'not a UPN (a letter, 11 digits and a digit or letter); fine if the school uses its own ids'
    """
    upn = pupil_id.strip().upper()
    if not _UPN_SHAPE.match(upn):
        return ("not a UPN (a letter, 11 digits and a digit or letter); fine if the school "
                "uses its own ids")
    total = 0
    for weight, ch in enumerate(upn[1:], start=2):
        if ch.isdigit():
            total += weight * int(ch)
        elif ch in _UPN_LETTERS:
            total += weight * _UPN_LETTERS.index(ch)
        else:
            return f"'{ch}' cannot end a UPN (I, O and S are not used)"
    expected = _UPN_LETTERS[total % 23]
    if upn[0] != expected:
        return f"check letter should be '{expected}', not '{upn[0]}' (mistyped?)"
    return None


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")


def parse_birth_date(text: str, today: dt.date | None = None) -> str:
    """A date of birth as YYYY-MM-DD, from the forms MIS exports use (UK day-first).

    Raises ValueError saying what is wrong: not a date (31/31/2017), or not a plausible
    birth date for a pupil (in the future, or more than 25 years ago).

    >>> parse_birth_date("05/09/2017")
    '2017-09-05'
    >>> parse_birth_date("31/31/2017")
    Traceback (most recent call last):
    ValueError: date of birth '31/31/2017' is not a date (day/month/year, e.g. 05/09/2017)
    """
    value = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            born = dt.datetime.strptime(value, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"date of birth '{value}' is not a date (day/month/year, "
                         "e.g. 05/09/2017)")
    today = today or dt.date.today()
    if born > today or born.year < today.year - 25:
        raise ValueError(f"date of birth '{value}' cannot be a pupil's")
    return born.isoformat()


def _delimiter(header: str) -> str:
    r"""The separator of a class list's header row: a comma, or the semicolon of a CSV saved
    by Excel set to a European locale, or the tab of Excel's "Unicode text" and of MIS
    "tab delimited" exports, whichever splits it into the most columns.

    >>> _delimiter("UPN;Forename;Surname"), _delimiter("upn\tfirst name"), _delimiter("a,b")
    (';', '\t', ',')
    """
    return max(",;\t", key=lambda d: len(next(csv.reader([header], delimiter=d), [])))


def read_roster(path: str | Path) -> tuple[list[Pupil], RosterReport]:
    """Parse a roster CSV without touching an archive."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError("roster file not found.", path=str(path),
                             hint="Check the path; export the class list from your MIS as CSV.")
    report = RosterReport()
    not_csv = _binary_kind(path)
    if not_csv:
        raise InputFileError(
            f"is not a CSV file (it looks like {not_csv}).", path=str(path),
            hint="Export the class list from your MIS as CSV, or open it in Excel and use "
                 "Save As > CSV (comma delimited), then import that file.")
    try:
        # Excel's "Unicode text" export is UTF-16 with a byte-order mark.
        utf16 = path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
        text = path.read_text(encoding="utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252")
    lines = text.splitlines()
    rows = list(csv.reader(lines, delimiter=_delimiter(lines[0] if lines else "")))
    if not rows:
        raise InputFileError("the roster file is empty.", path=str(path),
                             hint="Export the class list from your MIS as CSV with a header row.")
    headers = rows[0]
    mapping = map_columns(headers)
    report.columns = mapping
    missing = [f for f in REQUIRED if f not in mapping]
    if missing:
        wanted = ", ".join(f"{f} (e.g. {COLUMNS[f][0]})" for f in missing)
        raise InputFileError(
            f"the roster has no column for {wanted}.", path=str(path),
            hint=f"Its header row is: {', '.join(headers)}. Rename the columns and import again.",
        )
    index = {f: headers.index(h) for f, h in mapping.items()}
    pupils = []
    seen: set[str] = set()
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {f: (row[i].strip() if i < len(row) else "") for f, i in index.items()}
        if not values["pupil_id"]:
            report.rejected.append((line_no, "no pupil id"))
            continue
        if not values["first_name"] or not values["surname"]:
            report.rejected.append((line_no, f"pupil {values['pupil_id']} has no name"))
            continue
        if values["pupil_id"] in seen:
            report.rejected.append((line_no, f"pupil {values['pupil_id']} appears twice"))
            continue
        try:
            year = parse_year_group(values.get("year_group", ""))
        except ValueError as exc:
            report.rejected.append((line_no, str(exc)))
            continue
        seen.add(values["pupil_id"])
        upn_problem = check_upn(values["pupil_id"])
        if upn_problem:
            report.warnings.append((line_no, f"pupil id {values['pupil_id']}: {upn_problem}"))
        born = values.get("date_of_birth") or None
        if born:
            try:
                born = parse_birth_date(born)
            except ValueError as exc:
                report.warnings.append((line_no, f"pupil {values['pupil_id']}: {exc}; "
                                                 "imported without a date of birth"))
                born = None
        pupils.append(Pupil(
            pupil_id=values["pupil_id"], first_name=values["first_name"],
            surname=values["surname"], class_name=values.get("class_name") or None,
            year_group=year, preferred_name=values.get("preferred_name") or None,
            date_of_birth=born,
        ))
    return pupils, report


def import_roster(archive: Archive, path: str | Path,
                  mark_missing_as_left: str | None = None) -> RosterReport:
    """Load or update pupils from a CSV. Re-importing never duplicates a pupil.

    With ``mark_missing_as_left`` (a date, YYYY-MM-DD), pupils on roll in the archive but
    not in the file are marked as having left on that date: only for a whole-school export.

    >>> report = import_roster(archive, "scans_sample/roster.csv")   # doctest: +SKIP
    >>> report.added, report.rejected                                 # doctest: +SKIP
    (4, [])
    """
    pupils, report = read_roster(path)
    stamp = now()
    leavers = []
    if mark_missing_as_left:
        left_on = _check_date(mark_missing_as_left)
        leavers = missing_from(archive, pupils)
        on_roll = archive.db.execute("SELECT COUNT(*) FROM pupils WHERE left_on IS NULL"
                                     ).fetchone()[0]
        if leavers and len(leavers) > on_roll / 2:
            raise InputFileError(
                f"{len(leavers)} of the {on_roll} pupils on roll are not in this file; "
                "marking them all as left looks like a mistake.", path=str(path),
                hint="Use a whole-school export, or mark leavers one by one with: "
                     "scanflow roster leave ID --date YYYY-MM-DD")
    with archive.transaction() as db:
        for pupil in pupils:
            row = {k: v for k, v in pupil.__dict__.items() if k != "left_on"}
            existing = get_pupil(archive, pupil.pupil_id, required=False)
            if existing is None:
                db["pupils"].insert({**row, "created_at": stamp, "updated_at": stamp})
                report.added += 1
                _record_placement(db, pupil, stamp)
                continue
            if existing.left_on:  # on roll again
                db["pupils"].update(pupil.pupil_id, {"left_on": None, "updated_at": stamp})
                report.returned.append(pupil.pupil_id)
                archive.log_event("pupil.returned", pupil.pupil_id, left_on=existing.left_on)
            changed = {k: v for k, v in row.items() if getattr(existing, k) != v}
            if not changed:
                report.unchanged += 1
                continue
            db["pupils"].update(pupil.pupil_id, {**changed, "updated_at": stamp})
            report.updated += 1
            if "class_name" in changed or "year_group" in changed:
                _record_placement(db, pupil, stamp)
        for pupil_id in leavers:
            _set_left(archive, pupil_id, left_on, stamp)
            report.left.append(pupil_id)
        archive.log_event("roster.import", str(Path(path).name), added=report.added,
                          updated=report.updated, rejected=len(report.rejected),
                          left=len(report.left), returned=len(report.returned))
    return report


def missing_from(archive: Archive, pupils: list[Pupil]) -> list[str]:
    """Ids of pupils on roll in the archive who are not in ``pupils``."""
    listed = {p.pupil_id for p in pupils}
    return [row[0] for row in archive.db.execute(
        "SELECT pupil_id FROM pupils WHERE left_on IS NULL ORDER BY class_name, surname")
        if row[0] not in listed]


def mark_left(archive: Archive, pupil_id: str, left_on: str) -> Pupil:
    """Record that a pupil left the school on ``left_on`` (YYYY-MM-DD).

    The pupil and every piece of their writing stay in the archive; they are no longer
    printed for with their class (``scanflow sheets --class``) or expected in a batch.
    """
    pupil = get_pupil(archive, pupil_id)
    left_on = _check_date(left_on)
    with archive.transaction():
        _set_left(archive, pupil_id, left_on, now())
    pupil.left_on = left_on
    return pupil


def mark_returned(archive: Archive, pupil_id: str) -> Pupil:
    """Undo :func:`mark_left`: the pupil is on roll again."""
    pupil = get_pupil(archive, pupil_id)
    if not pupil.left_on:
        raise UsageError(f"Pupil {pupil_id} is on roll (not marked as left).",
                         hint="Nothing to undo.")
    with archive.transaction() as db:
        db["pupils"].update(pupil_id, {"left_on": None, "updated_at": now()})
        archive.log_event("pupil.returned", pupil_id, left_on=pupil.left_on)
    pupil.left_on = None
    return pupil


def _set_left(archive: Archive, pupil_id: str, left_on: str, stamp: str) -> None:
    archive.db["pupils"].update(pupil_id, {"left_on": left_on, "updated_at": stamp})
    archive.log_event("pupil.left", pupil_id, left_on=left_on)


def _check_date(text: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(text).strip()).isoformat()
    except ValueError:
        raise UsageError(f"'{text}' is not a date.",
                         hint="Write it as YYYY-MM-DD, e.g. 2026-07-22.") from None


def _record_placement(db, pupil: Pupil, stamp: str) -> None:
    db["pupil_history"].insert({"pupil_id": pupil.pupil_id, "class_name": pupil.class_name,
                                "year_group": pupil.year_group, "changed_at": stamp})


def get_pupil(archive: Archive, pupil_id: str, required: bool = True) -> Pupil | None:
    row = archive.db.execute(
        "SELECT pupil_id, first_name, surname, class_name, year_group, preferred_name, "
        "date_of_birth, left_on FROM pupils WHERE pupil_id = ?", [pupil_id]).fetchone()
    if row is None:
        if required:
            raise UnknownPupil(
                f"No pupil with id '{pupil_id}' in the archive.",
                hint="Check the id, or import the class list first: scanflow roster import FILE.csv",
            )
        return None
    return Pupil(*row)


def list_pupils(archive: Archive, class_name: str | None = None) -> list[Pupil]:
    sql = ("SELECT pupil_id, first_name, surname, class_name, year_group, preferred_name, "
           "date_of_birth, left_on FROM pupils")
    params: list = []
    if class_name:
        sql += " WHERE class_name = ?"
        params.append(class_name)
    sql += " ORDER BY class_name, surname, first_name"
    return [Pupil(*row) for row in archive.db.execute(sql, params)]
