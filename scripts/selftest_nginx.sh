#!/usr/bin/env bash
# Run `flask --app app selftest` through a real nginx in several stream-location variants, and
# check nginx's JSON 502/504 pages (docs/deployment.md §4). Needs nginx on PATH; all under /tmp.
# Usage: scripts/selftest_nginx.sh   (from a checkout, with .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
WORK=$(mktemp -d /tmp/notifier-nginx-XXXXXX)
APP_PORT=$($PY -c 'from tests.fixtures_live import free_port; print(free_port())')
NG_PORT=$($PY -c 'from tests.fixtures_live import free_port; print(free_port())')
BH_PORT=$($PY -c 'from tests.fixtures_live import free_port; print(free_port())')
export DATABASE_URL="sqlite:///$WORK/app.sqlite" SECRET_KEY=selftest NOTIFIER_TESTING_FAST_HASH=1
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

$PY -m flask --app app init-db >/dev/null 2>&1
$PY -m flask --app app seed-demo >/dev/null 2>&1
$PY app.py --port "$APP_PORT" 2>"$WORK/app.log" & pids+=($!)
# An upstream that accepts and never answers: nginx's 504.
$PY -c "import socket; s=socket.create_server(('127.0.0.1', $BH_PORT)); c=[]
while True: c.append(s.accept())" & pids+=($!)
until curl -fs "http://127.0.0.1:$APP_PORT/healthz" >/dev/null; do sleep 0.2; done

nginx_conf() {  # $1: extra directives in the stream location, $2: upstream port
  cat >"$WORK/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;
  upstream notifier { server 127.0.0.1:$2; keepalive 8; }
  server {
    listen 127.0.0.1:$NG_PORT;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
    error_page 502 = @json_502;
    error_page 504 = @json_504;
    location @json_502 { default_type application/json; add_header Retry-After 5 always;
      return 502 '{"error": {"code": "bad_gateway", "message": "the application is not answering; retry shortly", "fields": {}}}\n'; }
    location @json_504 { default_type application/json; add_header Retry-After 5 always;
      return 504 '{"error": {"code": "gateway_timeout", "message": "the application did not answer in time; retry shortly", "fields": {}}}\n'; }
    location ~ ^/(api/v1/notifications/stream|stream)\$ { proxy_pass http://notifier; $1 }
    location /slow { proxy_pass http://127.0.0.1:$BH_PORT; proxy_read_timeout 1s; }
    location / { proxy_pass http://notifier; }
  }
}
EOF
  nginx -p "$WORK" -c "$WORK/nginx.conf" & NG=$!
  until curl -s -o /dev/null "http://127.0.0.1:$NG_PORT/"; do sleep 0.1; done
}

variant() {  # $1: stream-location directives, $2: seconds to hold
  echo "### stream location: $1"
  nginx_conf "$1" "$APP_PORT"
  $PY -m flask --app app selftest "http://127.0.0.1:$NG_PORT" --idle-bound "$2" | grep -v '^  fix' || true
  kill "$NG"; wait "$NG" 2>/dev/null || true
}

variant "proxy_buffering off; proxy_read_timeout 1h; gzip off;" 10
variant "proxy_buffering on; proxy_read_timeout 1h;" 10
variant "proxy_buffering on; proxy_read_timeout 1h; gzip on; gzip_types text/event-stream;" 10
variant "proxy_buffering on; proxy_read_timeout 1h; gzip on; gzip_types text/event-stream; proxy_ignore_headers X-Accel-Buffering;" 10
variant "proxy_buffering off; proxy_read_timeout 5s;" 20

echo "### nginx's own 502 and 504"
closed=$($PY -c 'from tests.fixtures_live import free_port; print(free_port())')
nginx_conf "" "$closed"    # the upstream is a closed port: 502; /slow never answers: 504
curl -s -i "http://127.0.0.1:$NG_PORT/api/v1/notifications" | sed -n '1p;/^Content-Type/p;/^Retry-After/p;$p'
curl -s -i "http://127.0.0.1:$NG_PORT/slow" | sed -n '1p;/^Content-Type/p;/^Retry-After/p;$p'
kill "$NG"; wait "$NG" 2>/dev/null || true
