# scanflow in a container: the same Debian packages as setup.sh, scanflow in a venv.
# No Docker engine runs on the development machines, so this file is linted by the tests
# (tests/test_packaging.py), not built there.
#
#   docker build -t scanflow .
#   docker run --rm -v "$PWD/archive:/archive" -v "$PWD/scans:/scans:ro" scanflow \
#       ingest /scans --half-term 2026-27-autumn-1 --genre narrative
#   docker run -d --restart unless-stopped --name scanflow-watch \
#       -v "$PWD/archive:/archive" -v /srv/scans:/scans scanflow watch /scans --poll
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SCANFLOW_ARCHIVE=/archive

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-pip \
        tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd \
        poppler-utils fonts-dejavu-core wbritish wamerican \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/scanflow
COPY pyproject.toml README.md ./
COPY scanflow ./scanflow
COPY rubrics ./rubrics
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir .

RUN useradd --create-home scanflow && mkdir -p /archive && chown scanflow /archive
USER scanflow
VOLUME ["/archive"]
EXPOSE 8080
ENTRYPOINT ["/opt/venv/bin/scanflow"]
CMD ["--help"]
