#!/usr/bin/env bash
# The status page (GET /) in a real browser: starts `switchyard serve` with a fixture model,
# sends one encode request so there is something to show, loads / in headless Chromium, checks
# the rendered DOM (models table with the loaded model, memory and latency cards) and saves a
# screenshot to ${BUILD:-build}/status_page.png. Skips (exit 0) when Chromium is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SY=$BUILD/switchyard
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
fail() { echo "FAIL: $*"; exit 1; }
if [ ! -x "$CHROMIUM" ]; then
	echo "skipped: chromium not installed ($CHROMIUM; Debian package chromium)"
	exit 0
fi
[ -x "$SY" ] || fail "$SY is not built"

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

timeout --foreground 60 "$SY" serve --host 127.0.0.1 --port 0 --no-builtin-models \
	--model bert=tests/fixtures/bert-tiny --model roberta=tests/fixtures/roberta-tiny \
	>"$tmp/out" 2>"$tmp/err" &
pid=$!
url=
for _ in $(seq 1 200); do
	url=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/out" 2>/dev/null || true)
	[ -n "$url" ] && break
	sleep 0.05
done
[ -n "$url" ] || fail "server did not start: $(cat "$tmp/err")"
for i in 1 2 3 4 5; do
	curl -sf "$url/v1/encode/bert" -d '{"items":[{"text":"hello"},{"text":"world"}]}' >/dev/null ||
		fail "encode request failed"
done

# Chromium wants a writable home and no sandbox when run as root in a container.
chrome=("$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage
	--no-first-run --user-data-dir="$tmp/profile" --window-size=1280,900)
HOME=$tmp timeout 60 "${chrome[@]}" --dump-dom "$url/" >"$tmp/dom.html" 2>"$tmp/chrome.err" ||
	fail "chromium --dump-dom failed: $(tail -5 "$tmp/chrome.err")"
grep -q '<h1>Switchyard</h1>' "$tmp/dom.html" || fail "no title in the rendered page"
grep -q 'id="models"' "$tmp/dom.html" || fail "no models table"
grep -q '<td>bert</td><td><span class="st loaded">loaded</span>' "$tmp/dom.html" ||
	fail "bert is not shown as loaded"
grep -q '<td>roberta</td><td><span class="st available">available</span>' "$tmp/dom.html" ||
	fail "roberta is not shown as available"
grep -q 'id="latency"' "$tmp/dom.html" && grep -q 'p50' "$tmp/dom.html" || fail "no latency card"

png=$BUILD/status_page.png
rm -f "$png"
HOME=$tmp timeout 60 "${chrome[@]}" --hide-scrollbars --screenshot="$PWD/$png" "$url/" \
	>/dev/null 2>>"$tmp/chrome.err" || fail "chromium --screenshot failed"
[ -s "$png" ] || fail "screenshot $png is empty"
[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
echo "ok: status page rendered; screenshot $png ($(stat -c %s "$png") bytes)"
