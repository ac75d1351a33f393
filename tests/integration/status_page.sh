#!/usr/bin/env bash
# The status page (GET /) in a real browser: starts `switchyard serve` with a fixture model,
# sends one encode request so there is something to show, loads / in headless Chromium, checks
# the rendered DOM (models table with the loaded model, memory and latency cards) and saves a
# screenshot to ${BUILD:-build}/status_page.png. Skips (exit 0) when Chromium is not installed.
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "skipped: chromium not installed ($CHROMIUM; Debian package chromium)"
	exit 0
fi
. "$(dirname "$0")/lib/common.sh"
BUILD=${BUILD:-build}

sy_start serve --no-builtin-models --model bert=tests/fixtures/bert-tiny \
	--model roberta=tests/fixtures/roberta-tiny
url=$URL
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
