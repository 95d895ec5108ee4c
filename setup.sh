#!/usr/bin/env bash
# scanflow's one setup script, safe to run again and again.
#
#   bash setup.sh sample   install everything, then run the main job on scans_sample/
#   bash setup.sh test     install everything (with test tools), then run the tests
#   bash setup.sh install  install everything, run nothing
#   bash setup.sh train    install everything plus the training extra (scanflow model train)
#
# It installs the Debian packages scanflow needs (Tesseract, Poppler, fonts; Chromium for
# the browser tests), creates .venv/ and installs scanflow into it. Nothing leaves the
# machine: the archive it makes lives in ./scanflow-archive.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode="${1:-install}"
case "$mode" in sample|test|install|train) ;; *)
  echo "usage: bash setup.sh [sample|test|install|train]" >&2; exit 2 ;;
esac

say() { printf '\n== %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------
APT_PACKAGES=(python3 python3-venv python3-pip tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
              poppler-utils fonts-dejavu-core wbritish wamerican)
if [ "$mode" = test ]; then
  APT_PACKAGES+=(chromium sqlite3)
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "Installing system packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Run this as root, or install sudo, to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Another install (or the daily update) may hold apt's lock: wait for it, and say so,
  # rather than fail with apt's "Could not get lock".
  lock_wait=(-o DPkg::Lock::Timeout="${APT_LOCK_TIMEOUT:-600}")
  if command -v fuser >/dev/null &&
     $sudo fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then
    say "Another program is installing packages; waiting for it to finish (up to ${APT_LOCK_TIMEOUT:-600} s)"
  fi
  $sudo apt-get "${lock_wait[@]}" update -qq
  $sudo apt-get "${lock_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python environment ----------------------------------------------------------------
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "Creating the virtual environment in .venv"
  "$PY" -m venv .venv
fi
extras=""
# The test tools include the training extra, so CI runs the training tests too.
[ "$mode" = test ] && extras="[test]"
[ "$mode" = train ] && extras="[train]"
# Reinstall only when the package definition changed since the last successful install.
stamp=".venv/.scanflow-installed${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "Installing scanflow and its Python dependencies into .venv"
  # pip's build chatter goes to a log; it is shown only if the install fails.
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"; } \
       > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    echo "Installing the Python packages failed (log above, also in .venv/pip.log)." >&2
    exit 1
  fi
  touch "$stamp"
fi
if [ "$mode" = test ] && ! .venv/bin/python -c 'import importlib.util as u, sys; sys.exit(u.find_spec("ocrd_validators") is None)'; then
  # The tests validate the PAGE XML export against the published PAGE 2019 schema, which
  # PyPI has in OCR-D's ocrd-validators; only its page.xsd is used, so not its dependencies.
  say "Installing the PAGE XML schema for the tests (ocrd-validators, without dependencies)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
      "ocrd-validators==2.67.1" > .venv/pip.log 2>&1 || { cat .venv/pip.log >&2; exit 1; }
fi

# --- run -------------------------------------------------------------------------------
case "$mode" in
  install)
    say "Installed. Try: .venv/bin/scanflow --help"
    ;;
  train)
    say "Installed with training. Try: .venv/bin/scanflow model train --help"
    ;;
  sample)
    export SCANFLOW_ARCHIVE="${SCANFLOW_ARCHIVE:-$PWD/scanflow-archive}"
    sf=.venv/bin/scanflow
    say "Creating the archive at $SCANFLOW_ARCHIVE"
    $sf init
    say "Importing the sample class list"
    $sf roster import scans_sample/roster.csv
    say "Reading the sample scans (this takes a minute)"
    $sf ingest scans_sample --manifest scans_sample/manifest.csv \
        --half-term 2026-27-autumn-1 --genre narrative
    say "The archive now holds"
    $sf status
    cat <<NEXT

Next: look at what was read and correct it beside the page images:
    .venv/bin/scanflow serve --archive "$SCANFLOW_ARCHIVE"
then open http://127.0.0.1:8000/ in a browser (Ctrl+C stops it).
NEXT
    # Said only while it is true: after a page is assigned, a second run must not repeat it.
    waiting=$($sf unassigned | grep -c '^page ' || true)
    if [ "$waiting" -gt 0 ]; then
      echo "$waiting page(s) had no pupil in the file name: they wait under \"Unassigned pages\"" \
           "(or: .venv/bin/scanflow unassigned)."
    fi
    ;;
  test)
    say "Running the tests"
    exec .venv/bin/python -m pytest -q -p no:cacheprovider "${@:2}"
    ;;
esac
