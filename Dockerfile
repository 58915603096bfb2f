# iepwatch on the official Airflow image; the Python dependencies come from uv.lock (no _PIP_ADDITIONAL_REQUIREMENTS).
FROM apache/airflow:3.3.2-python3.11

ENV UV_COMPILE_BYTECODE=1 \
    PYTHONPATH=/opt/airflow/include \
    IEPWATCH_CONFIG=/opt/airflow/iepwatch.yaml \
    IEPWATCH_DATA_DIR=/opt/airflow/data

COPY --chown=airflow:0 pyproject.toml uv.lock README.md /opt/iepwatch/
RUN pip install --no-cache-dir uv==0.13.9 \
 && cd /opt/iepwatch \
 && uv export --frozen --no-dev --extra deploy --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && uv pip install --python "$(command -v python)" --no-cache -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The code is mounted in docker-compose (dags/, plugins/, include/); a copy makes the image runnable alone.
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 expectations /opt/airflow/expectations
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 iepwatch.yaml /opt/airflow/
COPY --chown=airflow:0 deploy /opt/airflow/deploy
