#!/bin/sh
# The container's entrypoint (deploy/Containerfile, docs/deploy.md):
#   web                  gunicorn on 0.0.0.0:8000 (more workers: GUNICORN_CMD_ARGS="--workers 4 --threads 4")
#   worker [options]     a delivery worker (malote worker --help)
#   migrate              migrations and the cache table; run once per deploy
#   healthcheck          the image's HEALTHCHECK
#   anything else        a malote command (malote check --deploy, malote outbox list, …)
set -eu

case "${1:-web}" in
web)
    [ "$#" -gt 0 ] && shift
    # Tells the healthcheck this container serves HTTP.
    touch /tmp/malote-web 2>/dev/null || true
    exec gunicorn malote.wsgi:application \
        --config python:malote.gunicorn_config \
        --bind 0.0.0.0:8000 \
        --access-logfile - \
        "$@"
    ;;
worker)
    shift
    exec malote worker "$@"
    ;;
migrate)
    malote migrate --noinput
    exec malote createcachetable
    ;;
healthcheck)
    # A worker is alive while its process runs (the container stops with it).
    [ -f /tmp/malote-web ] || exit 0
    # /healthz answers only a Host that MALOTE_ALLOWED_HOSTS allows: ask as the first one.
    exec python - <<'PY'
import os
import urllib.request

first = (os.environ.get("MALOTE_ALLOWED_HOSTS", "").split(",")[0].strip() or "127.0.0.1").lstrip(".")
host = "localhost" if first in ("", "*") else first
request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host})
with urllib.request.urlopen(request, timeout=4) as answer:  # 503 raises: unhealthy
    raise SystemExit(0 if answer.status == 200 else 1)
PY
    ;;
*)
    exec malote "$@"
    ;;
esac
