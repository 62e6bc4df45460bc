# Guardline worker and CLI. Build: docker build -t guardline .   Run: docker run guardline --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (from pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The package, a normal (non-editable) install: the wheel carries the Avro schemas
# (streams/schemas links to schemas/; the build copies the files in), so the sources go.
COPY schemas ./schemas
COPY streams ./streams
COPY guardline_bench ./guardline_bench
RUN pip install --no-deps . \
    && cd / && rm -rf /app \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/guardline --create-home guardline

# Non-root; worker state (RocksDB tables) lives in /var/lib/guardline, restored from the
# changelog topic when the container is replaced.
USER guardline
WORKDIR /var/lib/guardline
ENV GUARDLINE_METRICS_HOST=0.0.0.0 \
    GUARDLINE_METRICS_PORT=9310
EXPOSE 9310

ENTRYPOINT ["guardline"]
CMD ["--help"]
