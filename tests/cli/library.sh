#!/usr/bin/env bash
# The public C library as an application uses it: examples/c/embed.c built against
# build/switchyard.pc with pkg-config (static), whose output must equal `switchyard encode`'s
# byte for byte, and which fails cleanly on a model that does not exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
SY=$B/switchyard
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -f "$B/switchyard.pc" ] || fail "$B/switchyard.pc missing (make writes it)"
# A sanitizer build's archive needs the same runtime in the program.
san=()
syms=$(nm "$B/libswitchyard.a" 2>/dev/null || true)
case $syms in *__asan_*) san=(-fsanitize=address,undefined) ;; esac
case $syms in *__tsan_*) san=(-fsanitize=thread) ;; esac
# shellcheck disable=SC2046
cc "${san[@]}" -std=c11 -Wall -Wextra -Werror examples/c/embed.c \
	$(PKG_CONFIG_PATH="$B" pkg-config --static --cflags --libs switchyard) -o "$tmp/embed" ||
	fail "the example does not build through pkg-config"
for m in tests/fixtures/bert-tiny tests/fixtures/roberta-tiny tests/fixtures/colbert-tiny use-lite; do
	if [ "$m" = use-lite ] && [ ! -d "${SY_SHARED:-../shared}/models/use-lite" ]; then
		continue
	fi
	"$tmp/embed" "$m" "hello world" "Café déjà vu" "a third, longer text about trains" >"$tmp/lib.out" ||
		fail "embed $m failed"
	"$SY" encode --model "$m" "hello world" "Café déjà vu" "a third, longer text about trains" \
		>"$tmp/cli.out"
	cmp -s "$tmp/lib.out" "$tmp/cli.out" || fail "$m: the library and the CLI differ"
	echo "  $m: library output equals the CLI's ($(wc -l <"$tmp/lib.out") lines)"
done
set +e
SWITCHYARD_LOG=error "$tmp/embed" /nonexistent/model x >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a missing model should exit 1, got $rc"
grep -q "not a directory" "$tmp/err" || fail "no message for a missing model: $(cat "$tmp/err")"
echo "library tests ok"
