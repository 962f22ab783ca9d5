# syntax=docker/dockerfile:1
# archcalc's two images, one Dockerfile (see "Deployment" in README.md):
#   docker build --target web    -t archcalc-web .     the calculator, no torch (python:3.11-slim)
#   docker build --target worker -t archcalc-worker .  a GPU worker: CUDA base, torch 2.13.0 (CUDA)
# Both run as the unprivileged user 10001 with an exec-form command and a HEALTHCHECK.

# --- the wheel, built once for both images ----------------------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY app ./app
# the wheel ships the pages too (app._templates and app._static, see setup.py)
COPY templates ./templates
COPY static ./static
# the wheel, and what each image installs from it: the web app with the Celery client that
# queues jobs (the worker extra), a GPU worker with torch as well
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && set -- /wheels/archcalc-*.whl \
    && printf 'archcalc[worker] @ file://%s\n' "$1" > /wheels/web.txt \
    && printf 'archcalc[torch,worker] @ file://%s\n' "$1" > /wheels/worker.txt

# --- uv: a self-contained Python for the CUDA image (no apt packages to pin) --------------------
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# --- web: the FastAPI app on uvicorn, no torch ---------------------------------------------------
FROM python:3.11-slim AS web
# what the app stores (short links; live sessions and the embedded queue's files when no Redis
# holds them) lives in /var/lib/archcalc, the folder compose puts a named volume on
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARCHCALC_DATA_DIR=/var/lib/archcalc \
    ARCHCALC_EMBEDDED_DIR=/var/lib/archcalc/queue
WORKDIR /srv/archcalc
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --requirement /wheels/web.txt \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --no-create-home archcalc \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/archcalc
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# the production server with its options from ARCHCALC_* (README, Serving in production);
# one process a container (ARCHCALC_WORKERS stays 1), ARCHCALC_TRUSTED_PROXIES names the proxy
CMD ["python", "-m", "app.web.serve", "--host", "0.0.0.0", "--port", "8000"]

# --- worker: torch with CUDA on NVIDIA's CUDA base; one process per GPU ----------------------------
FROM nvidia/cuda:12.8.1-base-ubuntu24.04 AS worker
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
COPY --from=uv /uv /usr/local/bin/uv
COPY --from=build /wheels /wheels
# PyPI's torch 2.13.0 wheel for Linux x86_64 is the CUDA build (its CUDA libraries come as wheels)
RUN uv venv --python 3.11 /opt/venv \
    && uv pip install --python /opt/venv/bin/python "torch==2.13.0" \
    && uv pip install --python /opt/venv/bin/python --requirement /wheels/worker.txt \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --no-create-home archcalc
WORKDIR /srv/archcalc
USER 10001:10001
# healthy when torch sees a GPU: a worker without one would take jobs it cannot run on CUDA
HEALTHCHECK --interval=60s --timeout=20s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"]
CMD ["archcalc", "worker"]
