# syntax=docker/dockerfile:1
# aep-connector: build the wheels in one stage, install only them in a slim non-root runtime.
#
#   docker build -t aep-connector:local .
#   docker run --rm -v $PWD/deploy/connector.compose.yaml:/etc/aep-connector/connector.yaml:ro aep-connector:local

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config/mappings ./config/mappings
COPY connector ./connector
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    AEP_CONNECTOR_METRICS_PORT=9400
RUN groupadd --system --gid 10001 connector \
 && useradd --system --uid 10001 --gid connector --home-dir /nonexistent --shell /usr/sbin/nologin connector \
 && mkdir -p /etc/aep-connector
COPY --from=builder /wheels /tmp/wheels
RUN pip install --no-index --find-links /tmp/wheels aep-connector && rm -rf /tmp/wheels
USER 10001:10001
WORKDIR /etc/aep-connector
EXPOSE 9400
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('AEP_CONNECTOR_METRICS_PORT', '9400'), timeout=4)"]
ENTRYPOINT ["aep-connector"]
CMD ["run", "-c", "/etc/aep-connector/connector.yaml"]
