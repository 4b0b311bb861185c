#!/usr/bin/env bash
# An HTTP cache server for the remote cache's tests and figures: nginx with WebDAV PUT on a loopback port,
# serving and storing <dir>/ac/<key> and <dir>/cas/<sha256> (the protocol Bazel's --remote_cache speaks).
#   scripts/cache-server.sh install          install Debian's nginx-light from the machine's apt sources when absent
#   scripts/cache-server.sh start DIR [PORT] start nginx serving DIR (created; PORT 0 or absent: a free one);
#                                            prints the URL; DIR/nginx.pid holds the master's pid
#   scripts/cache-server.sh stop DIR         stop the nginx started for DIR
# Optional: CACHE_SERVER_TOKEN=secret requires `Authorization: Bearer secret` on every request.
set -euo pipefail

log() { printf 'cache-server: %s\n' "$*" >&2; }

install_nginx() {
  if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then return; fi
  log "installing nginx-light from apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
}

nginx_bin() { command -v nginx || echo /usr/sbin/nginx; }

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local dir=$1 port=${2:-0}
  [ "$port" = 0 ] && port=$(free_port)
  dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
  mkdir -p "$dir/data/ac" "$dir/data/cas" "$dir/tmp" "$dir/logs"
  local auth=''
  if [ -n "${CACHE_SERVER_TOKEN:-}" ]; then
    auth="if (\$http_authorization != \"Bearer ${CACHE_SERVER_TOKEN}\") { return 401; }"
  fi
  cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp;
  scgi_temp_path $dir/tmp;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$port;
    root $dir/data;
    location / {
      $auth
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
CONF
  "$(nginx_bin)" -c "$dir/nginx.conf" -p "$dir" -e "$dir/logs/error.log"
  echo "http://127.0.0.1:$port"
}

stop() {
  local dir=$1
  [ -f "$dir/nginx.pid" ] || return 0
  "$(nginx_bin)" -c "$dir/nginx.conf" -p "$dir" -e "$dir/logs/error.log" -s stop || true
  # Wait for the master to go (the port is free again when stop returns); an exited master nobody has reaped yet
  # (a zombie: the container's init may not reap) counts as gone.
  local pid; pid=$(cat "$dir/nginx.pid" 2>/dev/null || true)
  while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do sleep 0.05; done
}

case "${1:-}" in
  install) install_nginx ;;
  start) [ $# -ge 2 ] || { log "usage: $0 start DIR [PORT]"; exit 2; }; install_nginx; start "$2" "${3:-0}" ;;
  stop) [ $# -ge 2 ] || { log "usage: $0 stop DIR"; exit 2; }; stop "$2" ;;
  *) log "usage: $0 install | start DIR [PORT] | stop DIR"; exit 2 ;;
esac
