#!/bin/sh
# make run: starts two of the bundled slow origin, on 127.0.0.1:9000 and 9001 (one upstream
# pool), and sfproxy on 127.0.0.1:8080 (conf/demo.json: a disk tier in
# /var/tmp/sfproxy-demo-cache, so a second make run starts warm), prints what to try, and
# stops them all on Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/release/sfproxy}
ORIGIN_PORT=9000

ORIGIN2_PORT=9001

python3 tests/origin/slow_origin.py --port $ORIGIN_PORT > /tmp/sfproxy-demo-origin.log 2>&1 &
origin=$!
python3 tests/origin/slow_origin.py --port $ORIGIN2_PORT > /tmp/sfproxy-demo-origin2.log 2>&1 &
origin2=$!
proxy=
stop() {
    [ -z "$proxy" ] || kill "$proxy" 2>/dev/null || true
    kill "$origin" "$origin2" 2>/dev/null || true
    [ -z "$proxy" ] || wait "$proxy" 2>/dev/null || true
    wait "$origin" "$origin2" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# Wait until each answers (bounded): the origins first, so that sfproxy's first health
# checks find them up.
wait_for() { # URL WHAT
    i=0
    until curl -s -o /dev/null "$1"; do
        i=$((i + 1))
        if [ $i -gt 100 ] || { [ -n "$proxy" ] && ! kill -0 "$proxy" 2>/dev/null; }; then
            echo "demo: $2 did not start (ports 8080, 8081, 9000, 9001 free?)" >&2
            exit 1
        fi
        sleep 0.1
    done
}
wait_for http://127.0.0.1:$ORIGIN_PORT/_origin/stats "the origin on $ORIGIN_PORT"
wait_for http://127.0.0.1:$ORIGIN2_PORT/_origin/stats "the origin on $ORIGIN2_PORT"
"$BIN" -c conf/demo.json &
proxy=$!
wait_for http://127.0.0.1:8081/_sfproxy/stats sfproxy

cat <<MSG

sfproxy is on http://127.0.0.1:8080, in front of a pool of two slow origins on
127.0.0.1:$ORIGIN_PORT and :$ORIGIN2_PORT ("demo", balance hash: each URL always goes to the
same one; each /slow request takes 1 s). Each request's access log line appears here (cache=MISS
for the client that led a fetch, cache=COLLAPSED for those that followed it). Try, in
another terminal:

  # ten parallel clients, one origin request: one MISS, nine COLLAPSED
  for i in \$(seq 10); do curl -s -o /dev/null -D - 'localhost:8080/slow?delay_ms=1000&cc=max-age=30' | grep X-Cache & done; wait

  # the same URL again: served from the cache, with Age
  curl -si 'localhost:8080/slow?delay_ms=1000&cc=max-age=30' | head -8

  # a streamed body: joiners get what has arrived, then follow the live edge
  curl -s 'localhost:8080/stream?size=200000&chunks=10&chunk_delay_ms=300&cc=max-age=30' | wc -c

  # a private response is never shared: each client gets its own (X-Cache: PASS)
  curl -si 'localhost:8080/me?cc=private' | grep -i -e x-cache -e serial

  # Vary: each language is a variant of its own (MISS, MISS, then HIT for fr)
  for l in fr en fr; do curl -s -o /dev/null -D - -H "Accept-Language: \$l" 'localhost:8080/v?vary=Accept-Language&cc=max-age=30' | grep X-Cache; done

  # a byte range of a stored response: 206 with Content-Range
  curl -si -H 'Range: bytes=0-9' 'localhost:8080/slow?delay_ms=1000&cc=max-age=30' | head -3

  # the origins' own counts (one of them had the /slow request), and sfproxy's stats
  curl -s localhost:$ORIGIN_PORT/_origin/stats; echo; curl -s localhost:$ORIGIN2_PORT/_origin/stats; echo
  curl -s localhost:8081/_sfproxy/stats

  # take a server out of the pool: its URLs go to the other, no client sees an error
  curl -s -X POST 'localhost:8081/_sfproxy/upstreams/demo/127.0.0.1:$ORIGIN_PORT?state=drain'; echo
  curl -s 'localhost:8080/drained?cc=no-store' | head -1
  curl -s -X POST 'localhost:8081/_sfproxy/upstreams/demo/127.0.0.1:$ORIGIN_PORT?state=up'; echo

  # the same in Prometheus's format, with histograms: how many clients each fetch served
  curl -s localhost:8081/metrics | grep sfproxy_flight_clients

  # the disk tier (/var/tmp/sfproxy-demo-cache): what was stored is on disk too
  curl -s localhost:8081/_sfproxy/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["disk"])'

Ctrl-C stops them all. Run make run again and ask for the /slow URL above: it answers at
once, X-Cache: HIT, and its log line says tier=disk: the cache came back with the restart.
MSG
wait "$proxy"
