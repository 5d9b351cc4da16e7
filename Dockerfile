# The checkout server (checkout_server.py) as a container image.
# The static site is NOT in this image: publish `public/` to a static host (docs/deploy.md).
#
#   docker build -t beacon-checkout .
#   docker run --rm --read-only --stop-timeout 35 -p 127.0.0.1:8000:8000 \
#       --env-file /etc/launchkit/checkout.env beacon-checkout
#
# --read-only works: the server writes only to /dev/shm (gunicorn's heartbeat files, the
# rate-limit counters), which Docker keeps writable. --stop-timeout 35: on `docker stop` the
# server finishes the checkouts in flight (up to 30 s); Docker's default 10 s would cut them.
#
# The image carries the repository's site.toml (the catalogue and URLs the server checks
# against); to use another one without rebuilding, mount it:
#   -v /srv/beacon/site.toml:/app/site.toml:ro
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

# Runtime requirements only (no test tools), in their own layer so code changes rebuild fast.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY launchkit/ launchkit/
COPY checkout_server.py site.toml ./

# A dedicated unprivileged user; the code stays owned by root, so the server cannot change it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin launchkit
USER launchkit

EXPOSE 8000

# /healthz answers without calling Stripe. The slim image has no curl: Python's urllib does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=3)"]

# STRIPE_SECRET_KEY comes from the environment at run time, never from the image. The server
# checks the catalogue's prices against Stripe before it listens.
STOPSIGNAL SIGTERM
CMD ["python", "checkout_server.py"]
