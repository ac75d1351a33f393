#!/usr/bin/env bash
# Builds llama.cpp from source for the llama.cpp comparisons (bench/run.sh's BERT table and
# bench/llama/run.sh, docs/PERFORMANCE.md sections 8 and 14), and the C driver that runs it,
# bench/llama/llama_embed_bench.c. Built here and not by the project Makefile, so that `make` and
# `make test` never need llama.cpp.
#
# The source: the node-llama-cpp npm package (bench/llama/package.json) ships llama.cpp's tree as
# a git bundle (node_modules/node-llama-cpp/llama/gitRelease.bundle); this machine has no other
# way to fetch it, and the package pins the release, so the bundle is the source. Nothing of the
# package's prebuilt binaries is used. The clone and the build go under bench/out/ (ignored):
#
#   bench/out/llama.cpp-src     the tree at the bundle's commit (its gguf-py/ is also the GGUF
#                               writer of bench/llama/bert_gguf.py and make_models.py)
#   bench/out/llama.cpp-build   CMake build: static libllama + ggml for this CPU (GGML_NATIVE)
#   bench/out/llama_embed_bench the driver, linked against them
#
# Only libllama and ggml are built: no common library, tools, examples, server or tests, and no
# OpenSSL (download support), none of which the benchmark uses. A stamp file holds the commit and
# the checksums of the driver and of this script (its build flags); when all match, nothing is
# rebuilt.
#
# Prints (stderr) the llama.cpp commit and the CPU features ggml was built with; the last stdout
# line is the commit, for the callers' tables.
#
# Environment: LLAMA_JOBS=2 (parallel compile jobs; the build runs under `nice -n 10`).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=bench/out
SRC=$OUT/llama.cpp-src
BLD=$OUT/llama.cpp-build
BIN=$OUT/llama_embed_bench
BUNDLE=bench/llama/node_modules/node-llama-cpp/llama/gitRelease.bundle
JOBS=${LLAMA_JOBS:-2}

say() { printf '== %s\n' "$*" >&2; }
die() {
	printf 'bench/llama/build_llama.sh: %s\n' "$*" >&2
	exit 1
}

if [ ! -f "$BUNDLE" ]; then
	command -v npm >/dev/null || die "npm is needed to install node-llama-cpp, the carrier of llama.cpp's source"
	say "installing node-llama-cpp (bench/llama) for its llama.cpp source bundle"
	# The lock file lists only this platform's prebuilt packages, which newer npm versions refuse
	# in `npm ci`; then the pinned version is installed without touching the lock file.
	(cd bench/llama && { npm ci --ignore-scripts --no-audit --no-fund --loglevel=error ||
		npm install --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error; }) >&2
fi
[ -f "$BUNDLE" ] || die "$BUNDLE not found after installing node-llama-cpp"
command -v cmake >/dev/null || die "cmake is needed to build llama.cpp"
# Ninja when there is one (Debian's ninja-build); otherwise CMake's default, make.
gen=()
if command -v ninja >/dev/null; then
	gen=(-G Ninja)
fi

commit=$(git bundle list-heads "$BUNDLE" | awk '$2 == "HEAD" { print $1 }')
[ -n "$commit" ] || die "$BUNDLE names no HEAD commit"
stamp="$commit $(cat bench/llama/llama_embed_bench.c bench/llama/build_llama.sh | md5sum | cut -d' ' -f1)"

if [ -x "$BIN" ] && [ "$(cat "$OUT/llama_embed_bench.stamp" 2>/dev/null)" = "$stamp" ]; then
	say "llama.cpp ${commit:0:8}: already built ($BLD)"
else
	if [ "$(git -C "$SRC" rev-parse HEAD 2>/dev/null)" != "$commit" ]; then
		say "llama.cpp ${commit:0:8}: cloning the bundle into $SRC"
		rm -rf "$SRC" "$BLD"
		git clone -q "$BUNDLE" "$SRC" 2>/dev/null
		git -C "$SRC" -c advice.detachedHead=false checkout -q "$commit"
	fi
	say "llama.cpp ${commit:0:8}: building libllama and ggml in $BLD (native CPU, static, -j$JOBS)"
	# GGML_NATIVE: this CPU's instruction set (-march=native), the fastest build for this machine.
	# GGML_OPENMP=OFF: ggml's own thread pool, as node-llama-cpp's prebuilt binaries (no libgomp)
	# that this build replaces; with OpenMP, on this shared 2-core host, a pass stalls whenever
	# one of the 2 threads is descheduled (a trial: the 1x16 BERT query's median 291 ms against
	# 7 ms without). LLAMA_CURL is gone in this tree (deprecated, ignored); LLAMA_OPENSSL is what
	# would pull in a download library.
	cmake -S "$SRC" -B "$BLD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=OFF \
		-DBUILD_SHARED_LIBS=OFF -DGGML_CCACHE=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_COMMON=OFF \
		-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
		-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_SUBPROCESS=OFF >"$OUT/llama.cpp-cmake.log" 2>&1 ||
		die "cmake configure failed (see $OUT/llama.cpp-cmake.log)"
	nice -n 10 cmake --build "$BLD" --target llama -j "$JOBS" >&2
	say "linking $BIN"
	# The static libraries in link order: libllama needs ggml, ggml its CPU backend and base.
	libs=("$BLD/src/libllama.a" "$BLD/ggml/src/libggml.a" "$BLD/ggml/src/libggml-cpu.a" "$BLD/ggml/src/libggml-base.a")
	for l in "${libs[@]}"; do
		[ -f "$l" ] || die "$l not built"
	done
	# The driver is C; libllama is C++, so g++ links (with its runtime library).
	nice -n 10 cc -std=c11 -O2 -Wall -Wextra -Werror -I"$SRC/include" -I"$SRC/ggml/include" \
		-c bench/llama/llama_embed_bench.c -o "$BIN.o"
	g++ "$BIN.o" "${libs[@]}" -lpthread -lm -o "$BIN"
	echo "$stamp" >"$OUT/llama_embed_bench.stamp"
fi

say "llama.cpp $commit; ggml CPU features: $("$BIN" --system-info)"
echo "$commit"
