#!/usr/bin/env bash
# Strongroom against the bare-HTTP ceiling (bench/refserver), A B A B.
#
#   bench/run.sh            the full comparison (about 10 minutes)
#   bench/run.sh --smoke    a few seconds: proves the harness works; asserts nothing about speed
#
# Both servers run as their own processes on loopback; the load generator
# (aws-sdk-go-v2, closed loop) shares the machine's cores with them, as a
# client on the same host would. Each scenario runs Strongroom, then the
# reference, ROUNDS times, and the report pairs the runs in that order.
#
# Environment: DURATION (10s), WARMUP (2s), ROUNDS (2), SCENARIOS (op:clients …),
# KEYS (10000: keys stored before the second start and the RSS figures),
# OUT (a directory to keep results.jsonl and the servers' logs in),
# BEFORE (another strongroom binary, e.g. built from an older commit: it runs
# third in every round, labelled "before", and the report adds strongroom ÷ before).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
if [[ "${1:-}" == "--smoke" ]]; then
	smoke=true
	shift
fi
if [[ $# -gt 0 ]]; then
	echo "usage: bench/run.sh [--smoke]" >&2
	exit 2
fi

if $smoke; then
	DURATION=${DURATION:-500ms}
	WARMUP=${WARMUP:-100ms}
	ROUNDS=${ROUNDS:-1}
	SCENARIOS=${SCENARIOS:-"encrypt64:4 encrypt4k:4 decrypt:4 gdk:4 sign-p256:4 sign-rsa2048:4 createkey:4"}
	KEYS=${KEYS:-0}
else
	DURATION=${DURATION:-10s}
	WARMUP=${WARMUP:-2s}
	ROUNDS=${ROUNDS:-2}
	SCENARIOS=${SCENARIOS:-"encrypt64:32 encrypt64:8 encrypt4k:8 decrypt:32 decrypt:8 gdk:32 gdk:8 sign-p256:32 sign-rsa2048:8 createkey:8 createkey:1"}
	KEYS=${KEYS:-10000}
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strongroom-bench.XXXXXX")
out=${OUT:-$tmp/out}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp/bin" "$tmp/data" "$tmp/data-before"
	if [[ -n "${OUT:-}" ]]; then
		rmdir "$tmp" 2>/dev/null || true
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

echo "== build"
mkdir -p "$tmp/bin"
go build -o "$tmp/bin/strongroom" ./cmd/strongroom
go build -o "$tmp/bin/refserver" ./bench/refserver
go build -o "$tmp/bin/loadgen" ./bench/loadgen
lg=$tmp/bin/loadgen

export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001
export AWS_SECRET_ACCESS_KEY=benchmarkSecretKey000000000000000000000
export AWS_REGION=us-east-1

# start_strongroom starts `strongroom serve` on a data directory and sets
# sr_pid, sr_url and sr_start_ms.
start_strongroom() {
	local port
	port=$("$lg" freeport)
	sr_url=http://127.0.0.1:$port
	local t0
	t0=$(date +%s%N)
	STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
		"$tmp/bin/strongroom" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --log-level warn 2>>"$out/strongroom.log" &
	sr_pid=$!
	pids+=("$sr_pid")
	sr_start_ms=$("$lg" wait -endpoint "$sr_url" -since "$t0" -timeout 30s)
}

# start_before starts the BEFORE binary on its own data directory.
start_before() {
	local port
	port=$("$lg" freeport)
	before_url=http://127.0.0.1:$port
	STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
		"$BEFORE" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data-before" --log-level warn 2>>"$out/before.log" &
	before_pid=$!
	pids+=("$before_pid")
	"$lg" wait -endpoint "$before_url" -timeout 30s >/dev/null
}

stop_strongroom() {
	kill "$sr_pid"
	wait "$sr_pid" || true
}

start_ref() {
	local port
	port=$("$lg" freeport)
	ref_url=http://127.0.0.1:$port
	local t0
	t0=$(date +%s%N)
	"$tmp/bin/refserver" -listen "127.0.0.1:$port" 2>>"$out/refserver.log" &
	ref_pid=$!
	pids+=("$ref_pid")
	ref_start_ms=$("$lg" wait -endpoint "$ref_url" -since "$t0" -timeout 30s)
}

echo "== start"
start_strongroom
start_ref
if [[ -n "${BEFORE:-}" ]]; then
	start_before
fi
sleep 0.2
sr_idle=$("$lg" rss -pid "$sr_pid")
ref_idle=$("$lg" rss -pid "$ref_pid")
echo "strongroom serve (empty store): first answer after ${sr_start_ms} ms, RSS idle ${sr_idle} MB"
echo "refserver:                      first answer after ${ref_start_ms} ms, RSS idle ${ref_idle} MB"

echo "== load: $SCENARIOS; ${ROUNDS} round(s) of ${DURATION} after ${WARMUP} warm-up"
for sc in $SCENARIOS; do
	op=${sc%%:*}
	c=${sc##*:}
	for ((i = 1; i <= ROUNDS; i++)); do
		"$lg" run -label strongroom -endpoint "$sr_url" -pid "$sr_pid" -op "$op" -c "$c" -d "$DURATION" -warmup "$WARMUP" -out "$results"
		"$lg" run -label ref -endpoint "$ref_url" -pid "$ref_pid" -op "$op" -c "$c" -d "$DURATION" -warmup "$WARMUP" -out "$results"
		if [[ -n "${BEFORE:-}" ]]; then
			"$lg" run -label before -endpoint "$before_url" -pid "$before_pid" -op "$op" -c "$c" -d "$DURATION" -warmup "$WARMUP" -out "$results"
		fi
	done
done

echo "== report"
if [[ " $SCENARIOS" == *" sign-rsa2048:"* ]]; then
	rsa_us=$("$lg" rsacost)
	echo "sign-rsa2048: the reference signs with Go's rsa.SignPSS, so its row's server CPU/op is issue 7's check (target ≤ 1.10);"
	echo "  rsa.SignPSS alone, one goroutine on an idle machine, for reference: ${rsa_us} µs of CPU per signature"
fi
"$lg" report -subject strongroom -base ref "$results"
if [[ -n "${BEFORE:-}" ]]; then
	echo
	"$lg" report -subject strongroom -base before "$results"
fi

if [[ "$KEYS" -gt 0 ]]; then
	echo "== stored keys: filling to ${KEYS} more keys, then restarting"
	"$lg" fill -endpoint "$sr_url" -n "$KEYS" -c 8
	sleep 0.5
	echo "strongroom RSS after the load and ${KEYS} more keys: $("$lg" rss -pid "$sr_pid") MB"
	stop_strongroom
	start_strongroom
	sleep 0.2
	early=$("$lg" rss -pid "$sr_pid")
	sleep 3 # the background store check (--store-check auto) maps the file's pages as it reads them
	echo "strongroom serve (restarted on that store): first answer after ${sr_start_ms} ms, RSS idle $("$lg" rss -pid "$sr_pid") MB after 3 s (${early} MB at 0.2 s, while the background store check reads the file)"
fi

if $smoke; then
	errors=$(grep -c '"errors":[1-9]' "$results" || true)
	runs=$(wc -l <"$results")
	if [[ "$errors" -gt 0 ]]; then
		echo "bench smoke: ${errors} of ${runs} runs had errors" >&2
		grep '"errors":[1-9]' "$results" >&2
		exit 1
	fi
	echo "bench smoke: ${runs} runs, no errors (speed is not asserted)"
fi
