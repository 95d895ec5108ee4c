"""The project's own install story: README commands, CI, setup.sh and the Dockerfile agree.

No Docker engine runs on the development machines, so the Dockerfile is linted here.
"""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_apt_packages(mode: str = "sample") -> set[str]:
    text = (ROOT / "setup.sh").read_text()
    base = re.search(r"APT_PACKAGES=\(([^)]*)\)", text).group(1)
    pkgs = set(base.split())
    if mode == "test":
        pkgs |= set(re.search(r"APT_PACKAGES\+=\(([^)]*)\)", text).group(1).split())
    return pkgs


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    commands = [line.strip() for block in blocks[:2] for line in block.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert commands[:2] == ["bash setup.sh sample", "bash setup.sh test"]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == ["bash setup.sh test"]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_lint():
    ins = _dockerfile_instructions()
    ops = [op for op, _ in ins]
    known = {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "VOLUME", "EXPOSE", "ENTRYPOINT",
             "CMD", "ARG", "LABEL"}
    assert set(ops) <= known, set(ops) - known
    assert ops[0] == "FROM" and ":" in ins[0][1] and not ins[0][1].endswith(":latest")
    runs = " ".join(rest for op, rest in ins if op == "RUN")
    assert "apt-get update" in runs and "--no-install-recommends" in runs
    assert "rm -rf /var/lib/apt/lists/*" in runs  # keep the image small
    apt = re.search(r"apt-get install -y --no-install-recommends (.*?)(&&|$)", runs).group(1)
    # The container gets exactly the system packages setup.sh installs for running.
    assert set(apt.split()) == setup_apt_packages("sample")
    for op, rest in ins:
        if op == "COPY":
            *sources, _dest = shlex.split(rest)
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: no such file in the repo"
    assert ops.index("USER") > ops.index("RUN")  # runs as a non-root user
    assert any(op == "ENTRYPOINT" and "scanflow" in rest for op, rest in ins)


def test_setup_script_installs_what_the_code_needs():
    pkgs = setup_apt_packages("test")
    for needed in ("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-osd", "poppler-utils",
                   "python3-venv", "chromium", "sqlite3"):
        assert needed in pkgs
    text = (ROOT / "setup.sh").read_text()
    assert "set -euo pipefail" in text
    assert "scans_sample/manifest.csv" in text and "scans_sample/roster.csv" in text
