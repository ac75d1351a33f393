#!/usr/bin/env bash
# Routing overhead per request (docs/ROUTING.md): builds bench/router/router_bench.c against
# $BUILD/libswitchyard.a and runs it (the rules policy, and the semantic policy with USE-lite
# embedding each request on one thread).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
make -s "$BUILD/libswitchyard.a"
mkdir -p "$BUILD/bench"
LIBS=$(make -s -f Makefile print-ldlibs 2>/dev/null || echo "-lnats -lz -lcurl -lcrypto -lmicrohttpd -lyaml -lcjson -lutf8proc -lpcre2-8 -lm -lpthread")
cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -Iinclude -mavx2 -mfma -mf16c -pthread bench/router/router_bench.c \
	"$BUILD/libswitchyard.a" -o "$BUILD/bench/router_bench" $LIBS
"$BUILD/bench/router_bench"
