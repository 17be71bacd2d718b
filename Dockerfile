# One image for every process of the product: the Dagster code location (gRPC server), the
# webserver and daemon, the Celery step workers and the inference server. What each container
# runs is its command (deploy/docker-compose.yml, deploy/k8s/). Build with `make image`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    DAGSTER_HOME=/opt/dagster/home \
    MLOPS_HOME=/var/lib/mlops_assets

WORKDIR /opt/mlops_assets

# Dependencies first, from the lock CI passes with: a code change rebuilds only the last layers.
COPY pyproject.toml requirements.lock README.md ./
COPY mlops_assets ./mlops_assets
RUN pip install --constraint requirements.lock .

COPY workspace.yaml ./
# The instance of every container: PostgreSQL, step logs in S3 (DAGSTER_POSTGRES_URL,
# DAGSTER_COMPUTE_LOGS_BUCKET, MLOPS_S3_ENDPOINT_URL come from the environment).
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml

RUN useradd --system --uid 10001 --home-dir /var/lib/mlops_assets mlops \
    && mkdir -p /var/lib/mlops_assets \
    && chown mlops /var/lib/mlops_assets
USER mlops

# The code location; compose and the Helm chart name the other commands.
EXPOSE 4000
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "mlops_assets.definitions"]
