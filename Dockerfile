# One image for every process of the Procfile: its command is the process's name (release,
# web, worker, clock), and bin/procfile-run runs that line of the Procfile. compose.yaml runs
# them all on one host; see README, "Containers".
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# pysaml2 wants xmlsec1 present (DigiD's messages are signed and checked in process: the
# python-xmlsec wheel carries its own libxmlsec1, webapp/xmldsig.py). Debian pins it within the
# image's release (bookworm); the lock pins the Python side. The dossier PDF's fonts are the
# project's own (webapp/data/fonts).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 \
    && rm -rf /var/lib/apt/lists/*

# The running set from the lock file, every file checked against its hash; then the project
# itself, which brings nothing more (its dependencies are all in the lock).
COPY requirements/run.txt /src/requirements/run.txt
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir --require-hashes -r /src/requirements/run.txt
COPY pyproject.toml /src/
COPY webapp /src/webapp
COPY workers /src/workers
COPY messaging /src/messaging
RUN pip install --no-cache-dir --no-deps /src && rm -rf /src

# What the processes run from: the Procfile, the web's entry and its gunicorn settings.
WORKDIR /app
COPY Procfile wsgi.py gunicorn.conf.py ./
COPY bin/procfile-run /usr/local/bin/procfile-run

RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent ocktoreis
USER 10001
# Nothing is kept in the container: the embedded defaults' folder is scratch space.
ENV OCKTOREIS_INSTANCE=/tmp/ocktoreis
EXPOSE 8000
ENTRYPOINT ["procfile-run"]
CMD ["web"]
