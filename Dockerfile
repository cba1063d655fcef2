# banwatch on Apache Airflow: the official image plus banwatch and its CPU-only model stack.
# Build: docker compose build   (or: docker build -t banwatch-airflow .)
FROM apache/airflow:3.3.2

USER airflow
WORKDIR /opt/airflow

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build. On Docker (x86_64 Linux)
# PyPI's default torch wheel is the CUDA one, so build with PyTorch's CPU wheel index:
#   docker compose build --build-arg TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
ARG TORCH_VERSION=2.13.0
ARG TORCH_PIP_ARGS=""
# "apache-airflow==${AIRFLOW_VERSION}" on every install keeps pip from changing the image's Airflow.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        "torch==${TORCH_VERSION}" ${TORCH_PIP_ARGS}

# Dependencies change less often than the code: install them from pyproject.toml in their own layer.
COPY --chown=airflow:0 pyproject.toml README.md /opt/banwatch/
COPY --chown=airflow:0 banwatch /opt/banwatch/banwatch
COPY --chown=airflow:0 ingest /opt/banwatch/ingest
COPY --chown=airflow:0 enrich /opt/banwatch/enrich
COPY --chown=airflow:0 warehouse /opt/banwatch/warehouse
COPY --chown=airflow:0 alerts /opt/banwatch/alerts
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/banwatch[airflow]"
# `banwatch demo` runs in the image (the sample corpus is package data, alerts go to .eml files):
#   docker compose run --rm airflow-cli bash -c 'banwatch demo --dir /tmp/demo'
# Fail the build here, not the demo later, if the install lacks the corpus.
RUN python -c "from banwatch.sample import load_sample; print(len(load_sample()), 'sample articles')"

# The DAGs are baked in so the image runs on its own (Kubernetes, ECS); docker-compose.yml also
# mounts ./dags over them for development. The config file is mounted at run time.
COPY --chown=airflow:0 dags /opt/airflow/dags
ENV BANWATCH_CONFIG=/opt/banwatch/config/banwatch.toml
