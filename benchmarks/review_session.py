"""What correcting a page costs a teacher: a scripted browser session on the sample batch.

    .venv/bin/python benchmarks/review_session.py [--json] [--screenshots DIR]

1. Ingests scans_sample/ (roster, manifest; Tesseract, the default engine) into a fresh
   archive (cached under benchmarks/out/ after the first run, about a minute) and serves
   it with the real server.
2. In headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), assigns the
   unassigned page from the Unassigned pages screen, then opens every piece from the
   queue and corrects it, with the keyboard only, from the OCR text to the ground truth
   in scans_sample/truth/<file-stem>.p<N>.gt.txt; saves (Ctrl+S) and marks it reviewed.
3. Checks the saved text equals the ground truth, and reports per page: lines, OCR
   character error rate, keystrokes used, keystrokes to type the page from scratch (the
   reference: every character plus Enter per line), the script's wall-clock seconds, and
   an estimate of a person's time (see ``human_seconds``).

How the script edits, as a careful teacher would with this screen: OCR lines are aligned
to the true lines (dynamic programming over keep / join two / split one / delete / add);
then, top to bottom: a wrong line is fixed in place (caret moved with arrows, Home, End;
wrong characters deleted, right ones typed; the caret moved by arrows, Home, End or
Ctrl+Left/Right word jumps, whichever takes fewest presses, and checked in the page) or
retyped (Ctrl+A, type) when that takes fewer keys; a line cut in two is joined (Backspace at the start of the second); two
lines read as one are split (Shift+Enter); an invented line is emptied and removed
(Ctrl+A, Delete, Backspace); a missed line is added (Ctrl+Enter) and typed; every line
is confirmed with Enter. A key press is one keystroke; Shift+Enter or Ctrl+A is one.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

SAMPLE = ROOT / "scans_sample"
OUT = ROOT / "benchmarks" / "out"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
HALF_TERM = "2026-27-autumn-1"
UNASSIGNED_TO = ("A100000000003", "recount")  # the office's choice for the loose page

# A person's time, modelled (stated, not measured): typing at 3 keys a second (a teacher
# correcting carefully, not a typist), plus 2.5 s per line to read the crop against the
# text, plus 2 s per change of line structure (deciding to join, split, add or delete).
KEYS_PER_SECOND = 3.0
READ_SECONDS_PER_LINE = 2.5
DECIDE_SECONDS = 2.0


def human_seconds(keys: int, lines: int, structural: int) -> float:
    return keys / KEYS_PER_SECOND + lines * READ_SECONDS_PER_LINE + structural * DECIDE_SECONDS


# --- planning: align OCR lines to the truth -------------------------------------------


@dataclass
class Step:
    op: str  # keep, join, split, delete, add
    ocr: list[int]  # OCR line indices (within the page) used
    truth: list[int]  # truth line indices produced


def align(ocr: list[str], truth: list[str]) -> list[Step]:
    """Cheapest sequence of keep / join / split / delete / add turning ``ocr`` into ``truth``."""
    n, m = len(ocr), len(truth)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[Step | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            c = cost[i][j]
            if c == inf:
                continue
            moves = []
            if i < n and j < m:
                moves.append((1, 1, "keep", Levenshtein.distance(ocr[i], truth[j])))
            if i + 1 < n and j < m:
                moves.append((2, 1, "join", 3 + Levenshtein.distance(
                    ocr[i] + " " + ocr[i + 1], truth[j])))
            if i < n and j + 1 < m:
                moves.append((1, 2, "split", 3 + Levenshtein.distance(
                    ocr[i], truth[j] + " " + truth[j + 1])))
            if i < n:
                moves.append((1, 0, "delete", 3))
            if j < m:
                moves.append((0, 1, "add", 2 + len(truth[j])))
            for di, dj, op, extra in moves:
                if c + extra < cost[i + di][j + dj]:
                    cost[i + di][j + dj] = c + extra
                    back[i + di][j + dj] = Step(op, list(range(i, i + di)),
                                                list(range(j, j + dj)))
    steps, i, j = [], n, m
    while i or j:
        step = back[i][j]
        steps.append(step)
        i -= len(step.ocr)
        j -= len(step.truth)
    return steps[::-1]


_WORD = re.compile(r"[\w']+|[^\w\s]")  # Chromium's word stops, near enough (checked live)


def move_caret(pos: int, to: int, text: str) -> list[tuple[str, str]]:
    """The fewest key presses taking the caret from ``pos`` to ``to`` in ``text``.

    Arrows, Home, End, and Ctrl+Left / Ctrl+Right, which in Chromium stop at the start and
    the end of each word respectively (a punctuation mark is a word of its own).
    """
    length = len(text)
    starts = [m.start() for m in _WORD.finditer(text)] + [0]
    ends = [m.end() for m in _WORD.finditer(text)] + [length]
    options = [[("press", "ArrowRight" if to > pos else "ArrowLeft")] * abs(to - pos),
               [("press", "Home")] + [("press", "ArrowRight")] * to,
               [("press", "End")] + [("press", "ArrowLeft")] * (length - to)]
    for landing in sorted(set(ends + starts)):
        if landing > pos:
            jumps = sum(1 for e in sorted(set(ends)) if pos < e <= landing)
            if landing in ends and jumps:
                options.append([("press", "Control+ArrowRight")] * jumps
                               + _arrows(landing, to))
        if landing < pos:
            jumps = sum(1 for b in sorted(set(starts)) if landing <= b < pos)
            if landing in starts and jumps:
                options.append([("press", "Control+ArrowLeft")] * jumps
                               + _arrows(landing, to))
    return min(options, key=len)


def _arrows(pos: int, to: int) -> list[tuple[str, str]]:
    return [("press", "ArrowRight" if to > pos else "ArrowLeft")] * abs(to - pos)


def edit_keys(text: str, target: str, caret: int) -> tuple[list[tuple], int]:
    """Key actions turning ``text`` into ``target`` in a text box, caret at ``caret``.

    Returns ``([("move", position, moves) | ("press", key) | ("type", chars)], caret
    after)``: the cheaper of fixing in place (move, delete the wrong characters, type the
    right ones, left to right) and retyping the line.
    """
    import difflib

    actions: list[tuple] = []
    pos, shift, current = caret, 0, text
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=text, b=target,
                                                      autojunk=False).get_opcodes():
        if op == "equal":
            continue
        start = i1 + shift  # where this change begins in the text as edited so far
        if start != pos:
            actions.append(("move", start, move_caret(pos, start, current)))
        actions += [("press", "Delete")] * (i2 - i1)
        if j2 > j1:
            actions.append(("type", target[j1:j2]))
        current = current[:start] + target[j1:j2] + current[start + (i2 - i1):]
        pos = start + (j2 - j1)
        shift += (j2 - j1) - (i2 - i1)
    retype = [("press", "Control+a"), ("type", target)] if target else \
        [("press", "Control+a"), ("press", "Delete")]
    if count(retype) < count(actions):
        return retype, len(target)
    return actions, pos


def count(actions: list[tuple]) -> int:
    return sum(len(a[2]) if a[0] == "move" else 1 if a[0] == "press" else len(a[1])
               for a in actions)


# --- the session --------------------------------------------------------------------------


@dataclass
class PageResult:
    name: str
    lines: int
    ocr_cer: float
    keys: int = 0
    scratch_keys: int = 0
    structural: int = 0
    clicks: int = 0
    seconds: float = 0.0
    exact: bool = False
    ops: dict = field(default_factory=dict)


class Keys:
    """Playwright keyboard, counting keystrokes."""

    def __init__(self, page):
        self.page, self.kb, self.n, self.clicks = page, page.keyboard, 0, 0

    def press(self, key: str) -> None:
        self.kb.press(key)
        self.n += 1

    def type(self, text: str) -> None:
        self.kb.type(text)
        self.n += len(text)

    def click(self, locator) -> None:
        locator.click()
        self.clicks += 1

    def caret(self) -> int:
        return self.page.evaluate("document.activeElement.selectionStart")

    def move(self, to: int, planned) -> None:
        """Move the caret as planned, then check where it is and fix it with arrows."""
        for _, key in planned:
            self.press(key)
        where = self.caret()
        while where != to:
            self.press("ArrowRight" if to > where else "ArrowLeft")
            where = self.caret()

    def run(self, actions) -> None:
        for action in actions:
            if action[0] == "move":
                self.move(action[1], action[2])
            elif action[0] == "press":
                self.press(action[1])
            else:
                self.type(action[1])


def prepare_archive(work: Path) -> Path:
    base = OUT / "review-session-base"
    if not (base / "scanflow.db").exists():
        from scanflow.archive.roster import import_roster
        from scanflow.archive.store import init_archive
        from scanflow.intake.ingest import IngestOptions, ingest

        tmp = base.with_name(base.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        archive = init_archive(tmp)
        import_roster(archive, SAMPLE / "roster.csv")
        ingest(archive, [SAMPLE], IngestOptions(half_term=HALF_TERM, genre="narrative",
                                                manifest=str(SAMPLE / "manifest.csv")))
        archive.close()
        tmp.rename(base)
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    return work


def truth_for(file_name: str, page_number: int) -> list[str]:
    stem = file_name.rsplit(".", 1)[0]
    text = (SAMPLE / "truth" / f"{stem}.p{page_number}.gt.txt").read_text(encoding="utf-8")
    return [" ".join(line.split()) for line in text.splitlines()]


def correct_page(keys: Keys, page, start: int, ocr: list[str], truth: list[str]) -> tuple[int, dict]:
    """Correct one page's lines, from editor line ``start`` (which has the focus).

    Returns the editor index after the page and the count of each kind of step.
    """
    ops: dict[str, int] = {}
    k = start  # editor index of the next line to work on; it has the focus

    def value(i):
        return page.locator("#lines input").nth(i).input_value()

    def lines():
        return page.locator("#lines input").count()

    def settle(n_lines):
        expect(page.locator("#lines input")).to_have_count(n_lines)

    for step in align(ocr, truth):
        ops[step.op] = ops.get(step.op, 0) + 1
        n = lines()
        if step.op == "delete":
            keys.press("Control+a")
            keys.press("Delete")
            keys.press("Backspace")  # on an empty line: removes it
            settle(n - 1)
            if k > 0:
                keys.press("ArrowDown")  # back to the line after the removed one
        elif step.op == "add":
            if k < n:
                keys.press("ArrowUp")
            else:
                keys.click(page.locator("#lines input").nth(k - 1))  # past the last line
            keys.press("End")
            keys.press("Control+Enter")
            settle(n + 1)
            keys.type(truth[step.truth[0]])
            keys.press("Enter")
            k += 1
        elif step.op == "join":
            keys.press("ArrowDown")
            keys.press("Home")
            keys.press("Backspace")  # at the start: joins to the line above
            settle(n - 1)
            caret = page.evaluate("document.activeElement.selectionStart")
            actions, _ = edit_keys(value(k), truth[step.truth[0]], caret)
            keys.run(actions)
            keys.press("Enter")
            k += 1
        elif step.op == "split":
            first, second = truth[step.truth[0]], truth[step.truth[1]]
            joined = first + " " + second
            text = value(k)
            actions, pos = edit_keys(text, joined, len(text))
            keys.run(actions)
            # Either side of the space will do: both halves are trimmed.
            here = min((len(first), len(first) + 1),
                       key=lambda to: len(move_caret(pos, to, joined)))
            keys.move(here, move_caret(pos, here, joined))
            keys.press("Shift+Enter")  # both halves count as read: on to the second's end
            settle(n + 1)
            keys.press("Enter")
            k += 2
        else:
            text = value(k)
            actions, _ = edit_keys(text, truth[step.truth[0]], len(text))
            keys.run(actions)
            keys.press("Enter")
            k += 1
    return k, ops


def session(work: Path, screenshots: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    from scanflow.archive.store import open_archive
    from scanflow.archive.transcription import get_version
    from scanflow.review.server import make_server, url_of

    archive_path = prepare_archive(work)
    server = make_server(archive_path, "127.0.0.1", 0, threads=4, token=False)
    threading.Thread(target=server.run, daemon=True).start()
    base = url_of(server).rstrip("/")
    results: list[PageResult] = []
    assign = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # The office assigns the loose page (keyboard for the text, two clicks).
            started = time.perf_counter()
            page.goto(base + "/unassigned")
            card = page.locator(".page-card").first
            keys = Keys(page)
            card.locator("input[name=pupil]").click()
            keys.type(UNASSIGNED_TO[0])
            card.locator("summary").click()
            card.locator("select[name=genre]").select_option(UNASSIGNED_TO[1])
            card.locator("input[name=pupil]").focus()
            keys.press("Enter")
            page.wait_for_selector(".flashes")
            assign = {"keys": keys.n, "clicks": 2, "selects": 1,
                      "seconds": round(time.perf_counter() - started, 2)}

            archive = open_archive(archive_path)
            pieces = [r[0] for r in archive.db.execute(
                "SELECT id FROM pieces ORDER BY id")]
            for piece_id in pieces:
                pages = archive.db.execute(
                    "SELECT pages.id, files.name, pages.page_number FROM pages JOIN files ON "
                    "files.sha256 = pages.file_sha256 WHERE piece_id = ? ORDER BY position",
                    [piece_id]).fetchall()
                page.goto(f"{base}/piece/{piece_id}")
                page.wait_for_selector("body[data-ready='1']")
                data = json.loads(page.locator("#piece-data").text_content())
                keys = Keys(page)
                page.locator("#lines input").first.focus()
                k = 0
                for page_id, file_name, number in pages:
                    started = time.perf_counter()
                    before, clicks = keys.n, keys.clicks
                    ocr = [l["text"] for l in data["lines"] if l["page_id"] == page_id]
                    truth = truth_for(file_name, number)
                    k, ops = correct_page(keys, page, k, ocr, truth)
                    cer = Levenshtein.distance("\n".join(ocr), "\n".join(truth)) / max(
                        1, len("\n".join(truth)))
                    results.append(PageResult(
                        name=f"{file_name} p{number}", lines=len(truth), ocr_cer=round(cer, 3),
                        keys=keys.n - before, clicks=keys.clicks - clicks,
                        scratch_keys=sum(len(t) + 1 for t in truth),
                        structural=sum(v for o, v in ops.items() if o != "keep"),
                        seconds=time.perf_counter() - started, ops=ops))
                started = time.perf_counter()
                before = keys.n
                keys.press("Control+s")
                expect(page.locator("#save-state")).to_contain_text("Saved as version")
                if screenshots:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshots / f"piece-{piece_id}.png"))
                page.locator("#review-button").focus()
                with page.expect_navigation():
                    keys.press("Enter")
                # Saving and marking reviewed: shared by the piece's pages.
                share = len(pages)
                for r in results[-share:]:
                    r.keys += round((keys.n - before) / share)
                    r.seconds += (time.perf_counter() - started) / share
                text = get_version(archive, piece_id).lines
                for r, (page_id, file_name, number) in zip(results[-share:], pages):
                    saved = [" ".join(l.text.split()) for l in text if l.page_id == page_id]
                    r.exact = saved == truth_for(file_name, number)
            reviewed = archive.db.execute(
                "SELECT COUNT(*) FROM pieces WHERE status = 'reviewed'").fetchone()[0]
            archive.close()
            browser.close()
    finally:
        server.close()

    total = {k: sum(getattr(r, k) for r in results) for k in ("lines", "keys", "scratch_keys",
                                                              "structural")}
    total["seconds"] = round(sum(r.seconds for r in results), 2)
    total["human_seconds"] = round(human_seconds(total["keys"], total["lines"],
                                                 total["structural"]), 1)
    pages = len(results)
    return {
        "pages": [{**r.__dict__, "seconds": round(r.seconds, 2),
                   "human_seconds": round(human_seconds(r.keys, r.lines, r.structural), 1)}
                  for r in results],
        "assign_unassigned_page": assign,
        "per_page": {"keys": round(total["keys"] / pages, 1),
                     "scratch_keys": round(total["scratch_keys"] / pages, 1),
                     "script_seconds": round(total["seconds"] / pages, 2),
                     "human_seconds": round(total["human_seconds"] / pages, 1)},
        "total": total,
        "all_exact": all(r.exact for r in results),
        "pieces_reviewed": reviewed,
        "script_errors": errors,
        "model": {"keys_per_second": KEYS_PER_SECOND,
                  "read_seconds_per_line": READ_SECONDS_PER_LINE,
                  "decide_seconds_per_structural_change": DECIDE_SECONDS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--screenshots", type=Path, help="Save each piece screen here.")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    result = session(OUT / "review-session", args.screenshots)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'page':<32} {'lines':>5} {'OCR CER':>8} {'keys':>6} {'from scratch':>12} "
          f"{'ratio':>6} {'joins/splits/adds/deletes':>26} {'script s':>9} {'person s*':>9} exact")
    for r in result["pages"]:
        ops = r["ops"]
        print(f"{r['name']:<32} {r['lines']:>5} {r['ocr_cer']:>8.1%} {r['keys']:>6} "
              f"{r['scratch_keys']:>12} {r['keys'] / r['scratch_keys']:>6.2f} "
              f"{ops.get('join', 0):>11}/{ops.get('split', 0)}/{ops.get('add', 0)}/"
              f"{ops.get('delete', 0):<8} {r['seconds']:>9.2f} {r['human_seconds']:>9.1f} "
              f"{'yes' if r['exact'] else 'NO'}")
    pp = result["per_page"]
    print(f"Per page: {pp['keys']} keystrokes (typing it from scratch: {pp['scratch_keys']}), "
          f"{pp['script_seconds']} s scripted, about {pp['human_seconds']} s for a person*.")
    a = result["assign_unassigned_page"]
    print(f"Assigning the unassigned page: {a['keys']} keystrokes, {a['clicks']} clicks, "
          f"1 menu choice, {a['seconds']} s scripted.")
    print(f"Saved text equals the ground truth on every page: {result['all_exact']}; "
          f"pieces marked reviewed: {result['pieces_reviewed']}.")
    m = result["model"]
    print(f"* person: {m['keys_per_second']} keys/s + {m['read_seconds_per_line']} s reading "
          f"per line + {m['decide_seconds_per_structural_change']} s per join/split/add/delete "
          "(a model, not a measurement).")
    if result["script_errors"]:
        print("Script errors in the page:", result["script_errors"])


if __name__ == "__main__":
    main()
