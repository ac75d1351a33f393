#!/usr/bin/env bash
# Every step of the container image (Dockerfile at the repository root) in one script, so the
# image and tests/cli/docker_build.sh run the same commands:
#
#   build.sh deps                 build stage: the Debian packages to compile (as root)
#   build.sh build SRC OUT        build stage: `make` in SRC, then lay the files out under OUT as
#                                 they go in the image: OUT/usr/local/bin/switchyard,
#                                 OUT/opt/switchyard/models/use-lite (the built-in model, so the
#                                 image runs offline) and OUT/usr/share/switchyard/runtime-packages
#                                 (the Debian packages of the libraries the binary links, found
#                                 with readelf and dpkg)
#   build.sh runtime LIST         runtime stage: those packages, curl for the HEALTHCHECK, and
#                                 the non-root user `switchyard` (uid 10001) (as root)
#
# The USE-lite files come from SRC/models/use-lite (`make models`), else $SY_SHARED/models/use-lite,
# else SRC/../shared/models/use-lite; the Dockerfile copies them into SRC/models from the build
# context `shared` (docker build --build-context shared=../shared .). BUILD (default build)
# is make's build folder; JOBS (default: the cores) its parallelism.
set -euo pipefail

step=${1:-}
case $step in
deps)
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		build-essential pkg-config xxd binutils ca-certificates \
		libcjson-dev libmsgpack-dev libutf8proc-dev libpcre2-dev libopenblas-dev \
		libmicrohttpd-dev libyaml-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libnats-dev
	rm -rf /var/lib/apt/lists/*
	;;
build)
	src=$(cd "${2:?build SRC OUT}" && pwd)
	out=${3:?build SRC OUT}
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	build=${BUILD:-build}
	make -C "$src" -j"${JOBS:-$(nproc)}" BUILD="$build" "$build/switchyard"
	bin=$src/$build/switchyard
	case $build in /*) bin=$build/switchyard ;; esac
	install -D -m 0755 "$bin" "$out/usr/local/bin/switchyard"
	model=
	for d in "$src/models/use-lite" "${SY_SHARED:-/nonexistent}/models/use-lite" \
		"$src/../shared/models/use-lite"; do
		if [ -f "$d/model.json" ]; then
			model=$d
			break
		fi
	done
	[ -n "$model" ] || {
		echo "build.sh: no USE-lite model (models/use-lite, \$SY_SHARED or ../shared)" >&2
		exit 1
	}
	mkdir -p "$out/opt/switchyard/models/use-lite"
	cp -a "$model/." "$out/opt/switchyard/models/use-lite/"
	# The runtime packages: the package of each library the binary names (NEEDED), found
	# through the path the loader resolves; apt brings in what those need.
	mkdir -p "$out/usr/share/switchyard"
	for so in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$bin" | awk -v so="$so" '$1 == so {print $3}')
		[ -n "$path" ] || { echo "build.sh: $so does not resolve" >&2; exit 1; }
		real=$(readlink -f "$path")
		pkg=
		for p in "$path" "$real" "/usr$path" "/usr$real" "${real#/usr}"; do
			pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
		done
		[ -n "$pkg" ] || { echo "build.sh: no package owns $path" >&2; exit 1; }
		echo "$pkg"
	done | sort -u >"$out/usr/share/switchyard/runtime-packages"
	echo "build.sh: $out: switchyard, use-lite, runtime packages:" \
		$(cat "$out/usr/share/switchyard/runtime-packages")
	;;
runtime)
	list=${2:?runtime LIST}
	apt-get update -q
	# shellcheck disable=SC2046
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		ca-certificates curl $(cat "$list")
	rm -rf /var/lib/apt/lists/*
	useradd --system --uid 10001 --user-group --home-dir /var/lib/switchyard \
		--create-home --shell /usr/sbin/nologin switchyard
	;;
*)
	echo "usage: build.sh deps | build SRC OUT | runtime LIST" >&2
	exit 2
	;;
esac
