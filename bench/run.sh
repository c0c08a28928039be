#!/usr/bin/env bash
# make bench: in-process micro-benchmarks, then the HTTP gateway measured
# against a trivial Beast server in the same run (ratio, not absolutes: these
# machines are shared and vary 15–30% between runs).
# usage: bench/run.sh BUILD_DIR   (env: DURATION=5s CONNECTIONS=64)
set -euo pipefail
build=${1:-build}
bin="$build/bin"
duration=${DURATION:-5s}
conns=${CONNECTIONS:-64}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== micro-benchmarks"
"$bin/shoal-micro-bench" --benchmark_min_time=0.2

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

echo "== /healthz at $conns connections, $duration each"
tport=$(free_port)
"$bin/trivial-http-server" "$tport" 2 & pids+=($!)
"$bin/shoald" --memory --http 127.0.0.1:0 --ports-file "$work/ports.json" \
  --log-level warn & pids+=($!)
for _ in $(seq 100); do [ -s "$work/ports.json" ] && break; sleep 0.1; done
sport=$(python3 -c "import json;print(json.load(open('$work/ports.json'))['http'])")
for _ in $(seq 50); do curl -sf "127.0.0.1:$tport/healthz" >/dev/null && break; sleep 0.1; done

base=$("$bin/shoal-load" --url "127.0.0.1:$tport" -c "$conns" -d "$duration" \
  --path /healthz --name trivial-beast --json)
shoal=$("$bin/shoal-load" --url "127.0.0.1:$sport" -c "$conns" -d "$duration" \
  --path /healthz --name shoald --json)
echo "$base"
echo "$shoal"
python3 - "$base" "$shoal" <<'PY'
import json, sys
b, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"healthz: shoald {s['rps']:.0f}/s vs trivial Beast {b['rps']:.0f}/s, "
      f"ratio {s['rps']/b['rps']:.2f}; p99 {s['p99_us']} us vs {b['p99_us']} us")
PY

echo "== kv at $conns connections, 256-byte values, durable node (--sync=batch)"
"$bin/shoald" --data-dir "$work/data" --http 127.0.0.1:0 \
  --ports-file "$work/kv.json" --log-level warn & pids+=($!)
kvpid=$!
for _ in $(seq 100); do [ -s "$work/kv.json" ] && break; sleep 0.1; done
kport=$(python3 -c "import json;print(json.load(open('$work/kv.json'))['http'])")
value=$(python3 -c "print('v'*256)")
"$bin/shoal-load" --url "127.0.0.1:$kport" -c "$conns" -d "$duration" \
  --method PUT --path '/v1/kv/{key}' --body "$value" --name kv-put --json
"$bin/shoal-load" --url "127.0.0.1:$kport" -c "$conns" -d "$duration" \
  --path '/v1/kv/{key}?raw' --name kv-get --json

echo "== watch fan-out: ${WATCHERS:-1000} WebSocket watchers on one pattern"
"$bin/shoal-watch-fanout" --url "127.0.0.1:$kport" -w "${WATCHERS:-1000}" \
  -n 100 --pid "$kvpid" --json

echo "== locks and leases on the same durable node"
json=application/json
# Baseline of the same shape: idempotency begin+complete pairs.
"$bin/shoal-load" --url "127.0.0.1:$kport" -c "$conns" -d "$duration" --unique \
  --method POST --path '/v1/idempotency/{key}/begin' --body '{}' --content-type $json \
  --then-method POST --then-path '/v1/idempotency/{key}/complete' \
  --then-body '{"token":"{token}","result":"b2s="}' --name idem-pairs --json
"$bin/shoal-load" --url "127.0.0.1:$kport" -c "$conns" -d "$duration" --unique \
  --method POST --path '/v1/locks/bench.{key}' --body '{"ttl":"30s"}' --content-type $json \
  --then-method DELETE --then-path '/v1/locks/bench.{key}' \
  --then-body '{"token":"{token}"}' --name lock-pairs --json
# One key, 16 clients looping acquire (waiting) + release: every pair waits
# for the 15 others; pairs/s is hand-offs/s.
"$bin/shoal-load" --url "127.0.0.1:$kport" -c 16 -d "$duration" --keys 1 \
  --method POST --path '/v1/locks/hot' --body '{"ttl":"30s","wait":"60s"}' \
  --content-type $json --then-method DELETE --then-path '/v1/locks/hot' \
  --then-body '{"token":"{token}"}' --name lock-handoff-16 --json
"$bin/shoal-lease-keepalive" --url "127.0.0.1:$kport" -s 100 -l 100 \
  -d "$duration" --json

echo "== aggregates on the same durable node: merges at $conns connections"
curl -sf -XPUT "127.0.0.1:$kport/v1/aggregates/b.sum" \
  -d '{"kind":"sum","window":"1h","retention":"48h"}' >/dev/null
curl -sf -XPUT "127.0.0.1:$kport/v1/aggregates/b.hll" \
  -d '{"kind":"hll","window":"1h","retention":"48h"}' >/dev/null
for agg in sum hll; do
  delta=1; [ $agg = hll ] && delta='"u{n}"'
  "$bin/shoal-load" --url "127.0.0.1:$kport" -c "$conns" -d "$duration" --keys 100000 \
    --method POST --path "/v1/aggregates/b.$agg/merge" --content-type $json \
    --body "{\"entity\":\"{entity}\",\"delta\":$delta}" --name "merge-$agg" --json
  "$bin/shoal-load" --url "127.0.0.1:$kport" -c "$conns" -d "$duration" --unique \
    --method POST --path "/v1/aggregates/b.$agg/merge" --content-type $json \
    --body "{\"entity\":\"{entity}\",\"delta\":$delta,\"event_id\":\"{key}\"}" \
    --name "merge-$agg-eventid" --json
done

echo "== aggregates in process: batches of 1000 merges through agg_client"
"$bin/shoal-agg-merge" -d 3 -e 1000
"$bin/shoal-agg-merge" -d 3 -e 10
