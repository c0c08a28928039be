#!/usr/bin/env bash
# Runs a three-node shoal cluster on 127.0.0.1, each node with its own data
# dir, HTTP port and cluster (middleman) port.
#
#   deploy/local-cluster.sh start|stop|status
#
# Nodes n1..n3: HTTP on 127.0.0.1:7711..7713, cluster on 127.0.0.1:7701..7703,
# data under $SHOAL_CLUSTER_DIR (default ./var/cluster), logs beside it.
# SHOALD names the binary (default build/bin/shoald).
set -euo pipefail

shoald=${SHOALD:-build/bin/shoald}
dir=${SHOAL_CLUSTER_DIR:-./var/cluster}
initial="n1=127.0.0.1:7701,n2=127.0.0.1:7702,n3=127.0.0.1:7703"

start_node() {
  local i=$1 name=n$1
  local pidfile="$dir/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  mkdir -p "$dir/$name"
  "$shoald" --name "$name" --initial-cluster "$initial" \
    --data-dir "$dir/$name" --http "127.0.0.1:771$i" \
    --ports-file "$dir/$name.ports.json" >>"$dir/$name.log" 2>&1 &
  echo $! >"$pidfile"
  echo "$name started (pid $!), http 127.0.0.1:771$i, log $dir/$name.log"
}

stop_node() {
  local name=n$1 pidfile="$dir/n$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "$name stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start)
    [ -x "$shoald" ] || { echo "no $shoald: run 'make build' first" >&2; exit 1; }
    for i in 1 2 3; do start_node "$i"; done
    ;;
  stop)
    for i in 3 2 1; do stop_node "$i"; done
    ;;
  status)
    for i in 1 2 3; do
      pidfile="$dir/n$i.pid"
      if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "n$i running (pid $(cat "$pidfile")), http 127.0.0.1:771$i"
      else
        echo "n$i not running"
      fi
    done
    curl -fsS "http://127.0.0.1:7711/v1/cluster" 2>/dev/null || true
    echo
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
