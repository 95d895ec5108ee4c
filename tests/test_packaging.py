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


def test_setup_waits_for_apt_lock_and_says_so(tmp_path):
    """Run setup.sh with apt, dpkg and the lock holder faked: it waits, it does not fail."""
    import os
    import shutil
    import subprocess

    work = tmp_path / "clone"
    work.mkdir()
    shutil.copy(ROOT / "setup.sh", work / "setup.sh")
    (work / "pyproject.toml").write_text("")
    venv_bin = work / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    fake = tmp_path / "bin"
    fake.mkdir()
    scripts = {
        venv_bin / "python": "exit 0",
        fake / "dpkg-query": "exit 1",  # nothing installed yet
        fake / "fuser": "exit 0",  # the lock is held by another install
        fake / "sudo": 'exec "$@"',
        fake / "id": "echo 1000",
        fake / "apt-get": f'echo "$@" >> {tmp_path}/apt.log',
    }
    for path, body in scripts.items():
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    (work / ".venv" / ".scanflow-installed").touch()
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(work / "setup.sh"), "install"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "waiting for it to finish" in proc.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert len(calls) == 2
    assert all("-o DPkg::Lock::Timeout=600" in c for c in calls)
    assert calls[1].split()[-1] == "wamerican" and "install" in calls[1]


def test_sample_run_mentions_unassigned_pages_only_while_there_are_some(tmp_path):
    import os
    import shutil
    import subprocess

    work = tmp_path / "clone"
    (work / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "setup.sh", work / "setup.sh")
    (work / "pyproject.toml").write_text("")
    (work / ".venv" / ".scanflow-installed").touch()
    fake_sf = work / ".venv" / "bin" / "scanflow"
    # A stand-in scanflow: 'unassigned' lists whatever $UNASSIGNED holds.
    fake_sf.write_text('#!/bin/sh\n[ "$1" = unassigned ] && printf "$UNASSIGNED"\nexit 0\n')
    (work / ".venv" / "bin" / "python").write_text("#!/bin/sh\nexit 0\n")
    for exe in work.glob(".venv/bin/*"):
        exe.chmod(0o755)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dpkg-query").write_text("#!/bin/sh\necho 'install ok installed'\n")
    (fake / "dpkg-query").chmod(0o755)
    outputs = []
    for waiting in ("page    41  loose.png p1  2026-27-autumn-1 narrative  ok  \"I went\"\n", ""):
        env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "UNASSIGNED": waiting}
        proc = subprocess.run(["bash", str(work / "setup.sh"), "sample"], env=env, cwd=work,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert "1 page(s) had no pupil" in outputs[0]
    assert "Unassigned" not in outputs[1] and "no pupil" not in outputs[1]
