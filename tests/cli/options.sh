#!/usr/bin/env bash
# Options from the environment and the version: `switchyard --version` prints the library's
# version and the kernel path; serve reads SWITCHYARD_<OPTION> and PORT, the command line wins
# over them, and a bad value from the environment fails at start naming the variable.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

want=$(sed -n 's/^#define SY_VERSION_STRING "\(.*\)"/\1/p' include/switchyard.h)
out=$("$SY" --version)
case "$out" in
"switchyard $want (kernels: "*")") ;;
*) fail "--version printed '$out'" ;;
esac
echo "ok: $out"
# --spin-us (any command, either spelling) and SWITCHYARD_SPIN_US: the pools' spin bound; a bad
# value stops the command with status 2 and a message naming the option
a=$("$SY" encode --spin-us 0 --model tests/fixtures/bert-tiny "hello there")
b=$("$SY" encode --model tests/fixtures/bert-tiny --spin-us=50000 "hello there")
c=$(SWITCHYARD_SPIN_US=10 "$SY" encode --model tests/fixtures/bert-tiny "hello there")
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] || fail "--spin-us changed the output"
for bad in "--spin-us -1" "--spin-us=1ms" "--spin-us" "--spin-us=99999999999"; do
	# shellcheck disable=SC2086 # the option and its value are two words
	if "$SY" encode --model tests/fixtures/bert-tiny "hi" $bad 2>"$tmp/err"; then
		fail "encode $bad was accepted"
	fi
	grep -q -- "--spin-us" "$tmp/err" || fail "encode $bad: $(cat "$tmp/err")"
done
if SWITCHYARD_SPIN_US=abc "$SY" encode --model tests/fixtures/bert-tiny "hi" 2>"$tmp/err"; then
	fail "SWITCHYARD_SPIN_US=abc was accepted"
fi
grep -q SWITCHYARD_SPIN_US "$tmp/err" || fail "SWITCHYARD_SPIN_US=abc: $(cat "$tmp/err")"
echo "ok: --spin-us and SWITCHYARD_SPIN_US"
# the one-shot commands take --opt=value as serve does
a=$("$SY" encode --model=tests/fixtures/bert-tiny --max-length=16 "hello there")
b=$("$SY" encode --model tests/fixtures/bert-tiny --max-length 16 "hello there")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "encode --opt=value differs from --opt value"
a=$("$SY" score --model=tests/fixtures/bert-ce-tiny --query="what is a yard?" "a yard")
b=$("$SY" score --model tests/fixtures/bert-ce-tiny --query "what is a yard?" "a yard")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "score --opt=value differs from --opt value"
echo "ok: encode and score take --opt=value"
# every command, parsed by getopt_long from one table (src/cli/cli_opts.c): --help on stdout and
# exit 0, --version, an unknown option and a missing value answered with exit 2 and the same words
cmds=("encode" "score" "extract" "models inspect" "models pull" "models path" "eval sts"
	"eval intents" "eval routellm" "eval candidates" "eval log" "router train" "serve" "gateway"
	"worker")
for c in "${cmds[@]}"; do
	# shellcheck disable=SC2086 # "models pull" is two words
	$SY $c --help >"$tmp/help" || fail "$c --help failed"
	grep -q "switchyard $c" "$tmp/help" && grep -q -- "--spin-us N" "$tmp/help" ||
		fail "$c --help: $(head -3 "$tmp/help")"
	# shellcheck disable=SC2086
	[ "$($SY $c --version)" = "$out" ] || fail "$c --version"
	for bad in --no-such-option --no-such-option=1; do
		rc=0
		# shellcheck disable=SC2086
		$SY $c $bad 2>"$tmp/err" >/dev/null || rc=$?
		[ "$rc" = 2 ] && grep -q "^switchyard $c: unknown option '--no-such-option'$" "$tmp/err" ||
			fail "$c $bad: rc $rc, $(cat "$tmp/err")"
	done
done
# a missing value (the option last), an abbreviation and a value given to a switch
needs=("encode --model" "score --query" "extract --labels" "models pull x --revision" "eval sts --data"
	"eval intents --data" "eval routellm --svg" "eval candidates --suite" "eval log --log"
	"router train --out" "serve --port" "gateway --pool" "worker --fetch-batch")
for c in "${needs[@]}"; do
	rc=0
	# shellcheck disable=SC2086
	$SY $c 2>"$tmp/err" >/dev/null || rc=$?
	[ "$rc" = 2 ] && grep -q "option '--${c##*--}' needs a value" "$tmp/err" || fail "$c: rc $rc, $(cat "$tmp/err")"
done
rc=0
"$SY" serve --por 1 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--por'" "$tmp/err" || fail "serve --por: rc $rc, $(cat "$tmp/err")"
rc=0
"$SY" serve --strict=yes 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q "option '--strict' takes no value" "$tmp/err" || fail "serve --strict=yes: $(cat "$tmp/err")"
rc=0
"$SY" serve --port 0 --no-such-option 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--no-such-option'" "$tmp/err" || fail "serve: last unknown option: $(cat "$tmp/err")"
# options only some of serve, gateway and worker take
rc=0
"$SY" worker --access-log off 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--access-log'" "$tmp/err" || fail "worker --access-log: $(cat "$tmp/err")"
rc=0
"$SY" serve --nats x 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--nats'" "$tmp/err" || fail "serve --nats: $(cat "$tmp/err")"
# --opt=value for the other commands, and a bad value with exit 2
a=$("$SY" extract --model=tests/fixtures/ner-tiny --threshold=0.5 "Ada Lovelace lives in London" 2>&1 || true)
b=$("$SY" extract --model tests/fixtures/ner-tiny --threshold 0.5 "Ada Lovelace lives in London" 2>&1 || true)
[ "$a" = "$b" ] || fail "extract --opt=value differs from --opt value"
rc=0
"$SY" models inspect=x 2>/dev/null >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "models inspect=x: rc $rc"
[ "$("$SY" models inspect --spin-us=0 tests/fixtures/bert-tiny | head -1)" = "$("$SY" models inspect tests/fixtures/bert-tiny | head -1)" ] ||
	fail "models inspect --spin-us=0"
rc=0
"$SY" eval sts --model x --data y --batch=0 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--batch" "$tmp/err" || fail "eval sts --batch=0: rc $rc, $(cat "$tmp/err")"
rc=0
"$SY" router train --data=x --out=y --strong-share=2 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--strong-share" "$tmp/err" || fail "router train --strong-share=2: $(cat "$tmp/err")"
"$SY" --help | grep -q "^  worker " || fail "top-level help lacks a command"
echo "ok: every command: --help, --version, unknown options, missing values, --opt=value"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts serve with the given environment and arguments; prints the URL it listens on.
listening() {
	local log=$tmp/serve.$RANDOM
	env "$@" timeout -k 5 20 "$SY" serve --no-builtin-models >"$log.out" 2>"$log.err" &
	pids+=($!)
	for _ in $(seq 1 100); do
		u=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$log.out" 2>/dev/null || true)
		# stopped and waited for here: a sanitizer build's leak check runs as it exits, and a
		# second signal (timeout's) arriving during that check could leave it hanging
		[ -n "$u" ] && { echo "$u"; kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; return 0; }
		sleep 0.05
	done
	cat "$log.err" >&2
	return 1
}
p1=$(free_port)
u=$(listening SWITCHYARD_PORT="$p1") || fail "SWITCHYARD_PORT"
[ "$u" = "http://127.0.0.1:$p1" ] || fail "SWITCHYARD_PORT=$p1 listened on $u"
p2=$(free_port)
u=$(listening PORT="$p2") || fail "PORT"
[ "$u" = "http://127.0.0.1:$p2" ] || fail "PORT=$p2 listened on $u"
# the command line wins: --port 0 picks a free port whatever SWITCHYARD_PORT says
p3=$(free_port)
log=$tmp/cli
SWITCHYARD_PORT=$p3 timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 >"$log.out" 2>"$log.err" &
pids+=($!)
u=
for _ in $(seq 1 100); do
	u=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$log.out" 2>/dev/null || true)
	[ -n "$u" ] && break
	sleep 0.05
done
[ -n "$u" ] && [ "$u" != "http://127.0.0.1:$p3" ] || fail "--port did not win over SWITCHYARD_PORT ($u)"
echo "ok: SWITCHYARD_PORT, PORT, and the command line over them"
# a bad value from the environment: exit 1 at start, naming the variable
rc=0
SWITCHYARD_MEMORY_BUDGET=lots timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 >/dev/null 2>"$tmp/bad.err" || rc=$?
[ "$rc" != 0 ] && grep -q "SWITCHYARD_MEMORY_BUDGET" "$tmp/bad.err" || fail "bad SWITCHYARD_MEMORY_BUDGET: rc $rc, $(cat "$tmp/bad.err")"
# cluster options in the environment do not stop a plain serve
p4=$(free_port)
u=$(listening SWITCHYARD_PORT="$p4" SWITCHYARD_NATS=nats://127.0.0.1:1 SWITCHYARD_ACK_WAIT=5) ||
	fail "serve with cluster settings in the environment"
# a bad value for a gateway-only option in the environment is checked by gateway alone
rc=0
SWITCHYARD_REQUEST_TIMEOUT_MS=soon timeout -k 5 20 "$SY" gateway --nats nats://127.0.0.1:1 --pool p --port 0 \
	>/dev/null 2>"$tmp/gw.err" || rc=$?
[ "$rc" = 1 ] && grep -q "SWITCHYARD_REQUEST_TIMEOUT_MS" "$tmp/gw.err" || fail "gateway env: rc $rc, $(cat "$tmp/gw.err")"
rc=0
SWITCHYARD_FETCH_BATCH=0 timeout -k 5 20 "$SY" worker --nats nats://127.0.0.1:1 --pool p >/dev/null 2>"$tmp/wk.err" || rc=$?
[ "$rc" = 1 ] && grep -q "SWITCHYARD_FETCH_BATCH" "$tmp/wk.err" || fail "worker env: rc $rc, $(cat "$tmp/wk.err")"
echo "ok: a bad value from the environment names its variable; cluster settings do not bother serve"
# catalogue paths are checked at start: a warning, or with --strict a failed start
rc=0
timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --strict --model x=/no/such/dir >/dev/null 2>"$tmp/strict.err" || rc=$?
[ "$rc" = 1 ] && grep -q "model x: /no/such/dir: no such directory" "$tmp/strict.err" ||
	fail "--strict with a bad model path: rc $rc, $(cat "$tmp/strict.err")"
timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --model x=/no/such/dir --model y=tests/golden \
	>"$tmp/warn.out" 2>"$tmp/warn.err" &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q "listening" "$tmp/warn.out" 2>/dev/null && break
	sleep 0.05
done
grep -q "listening" "$tmp/warn.out" || fail "serve did not start beside bad model paths"
grep -q "model x: /no/such/dir" "$tmp/warn.err" && grep -q "model y: tests/golden: a directory no model family recognises" "$tmp/warn.err" ||
	fail "no start-up warning for bad model paths: $(cat "$tmp/warn.err")"
echo "ok: bad catalogue paths warn at start, and stop it with --strict"
# an upstream key the environment lacks: a warning at start, or with --strict a failed start
cat >"$tmp/keys.yaml" <<'YAML'
upstreams:
  cheap:
    base_url: http://127.0.0.1:9/v1
    api_key_env: SY_TEST_NO_SUCH_KEY
    model: m
routes:
  chat:
    candidates: [cheap]
YAML
rc=0
env -u SY_TEST_NO_SUCH_KEY timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --strict --config "$tmp/keys.yaml" \
	>/dev/null 2>"$tmp/keys.err" || rc=$?
[ "$rc" = 1 ] && grep -q "upstream cheap: api_key_env SY_TEST_NO_SUCH_KEY is not set" "$tmp/keys.err" &&
	grep -q "upstream key(s) named by api_key_env are not set" "$tmp/keys.err" ||
	fail "--strict with an unset upstream key: rc $rc, $(cat "$tmp/keys.err")"
env -u SY_TEST_NO_SUCH_KEY timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --config "$tmp/keys.yaml" \
	>"$tmp/keys.out" 2>"$tmp/keys2.err" &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q "listening" "$tmp/keys.out" 2>/dev/null && break
	sleep 0.05
done
grep -q "listening" "$tmp/keys.out" && grep -q "api_key_env SY_TEST_NO_SUCH_KEY is not set" "$tmp/keys2.err" ||
	fail "an unset upstream key: no warning, or no start: $(cat "$tmp/keys2.err")"
SY_TEST_NO_SUCH_KEY=k timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --strict --config "$tmp/keys.yaml" \
	>"$tmp/keys3.out" 2>"$tmp/keys3.err" &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q "listening" "$tmp/keys3.out" 2>/dev/null && break
	sleep 0.05
done
grep -q "listening" "$tmp/keys3.out" || fail "--strict with the key set did not start: $(cat "$tmp/keys3.err")"
echo "ok: an unset upstream key warns at start, and stops it with --strict"
# log lines: an RFC 3339 UTC timestamp in text, JSON lines {ts, level, msg} with --log-format json
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z switchyard warn: model x' "$tmp/warn.err" ||
	fail "text log line without a timestamp: $(head -1 "$tmp/warn.err")"
SWITCHYARD_LOG_FORMAT=json timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --model x=/no/such/dir \
	>"$tmp/json2.out" 2>"$tmp/json2.err" &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q "listening" "$tmp/json2.out" 2>/dev/null && break
	sleep 0.05
done
python3 - "$tmp/json2.err" <<'PY' || fail "JSON log lines"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert lines, "no JSON line"
l = lines[0]
assert set(l) == {"ts", "level", "msg"} and l["level"] == "warn" and "model x" in l["msg"], l
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", l["ts"]), l
PY
rc=0
timeout -k 5 20 "$SY" serve --no-builtin-models --port 0 --log-format xml >/dev/null 2>"$tmp/xml.err" || rc=$?
[ "$rc" != 0 ] && grep -q "use text or json" "$tmp/xml.err" || fail "--log-format xml accepted"
echo "ok: log lines carry timestamps; --log-format json (or SWITCHYARD_LOG_FORMAT) gives JSON lines"
echo "options tests ok"
