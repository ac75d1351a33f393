#!/usr/bin/env bash
# The container image's build without a Docker daemon: runs the build stage of
# deploy/docker/build.sh (the script every Dockerfile RUN calls) into a temporary folder, checks
# the layout it leaves (binary, USE-lite model, runtime package list naming installed packages),
# starts the binary from there the way the image does (SWITCHYARD_* from the environment, the
# model from /opt/switchyard/models, working directory elsewhere) and checks /healthz and an
# offline USE-lite encode; then checks the Dockerfile's shape: Debian bookworm, two stages,
# every RUN is the script, a non-root USER, a HEALTHCHECK on /healthz, the model copied in.
# Uses the suite's build folder, so make has nothing to redo.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

BUILD=$BUILD timeout 600 bash deploy/docker/build.sh build . "$tmp/out" >"$tmp/build.log" 2>&1 ||
	{ tail -20 "$tmp/build.log"; fail "build.sh build"; }
bin=$tmp/out/usr/local/bin/switchyard
[ -x "$bin" ] || fail "no $bin"
[ -f "$tmp/out/opt/switchyard/models/use-lite/model.json" ] || fail "no USE-lite in the layout"
pk=$tmp/out/usr/share/switchyard/runtime-packages
[ -s "$pk" ] || fail "no runtime package list"
for p in $(cat "$pk"); do
	dpkg-query -W "$p" >/dev/null 2>&1 || fail "runtime package $p is not a Debian package here"
done
grep -qx libmicrohttpd12 "$pk" && grep -qx 'libnats.*' "$pk" || fail "runtime packages: $(cat "$pk")"

# As in the image: flags from the environment, the model from /opt/switchyard/models.
mkdir -p "$tmp/home"
(cd "$tmp/home" && exec env -i PATH=/usr/bin:/bin SWITCHYARD_HOST=127.0.0.1 SWITCHYARD_PORT=0 \
	SWITCHYARD_MODELS="$tmp/out/opt/switchyard/models" SWITCHYARD_LOG_FORMAT=json \
	timeout 120 "$bin" serve >"$tmp/serve.out" 2>"$tmp/serve.err") &
pid=$!
url=
for _ in $(seq 1 200); do
	url=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/serve.out")
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$tmp/serve.err")"
	sleep 0.05
done
[ -n "$url" ] || fail "serve did not print its address"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] || fail "/healthz"
curl -sf "$url/v1/encode/use-lite" -d '{"items":[{"text":"hello"}]}' >"$tmp/enc.json" ||
	fail "encode use-lite from the image layout: $(tail -3 "$tmp/serve.err")"
grep -q '"dims":512' "$tmp/enc.json" || fail "encode: $(head -c 200 "$tmp/enc.json")"
grep -q '^{"ts":' "$tmp/serve.err" || fail "SWITCHYARD_LOG_FORMAT=json: $(head -2 "$tmp/serve.err")"

/usr/bin/python3 - <<'PY' || fail "Dockerfile"
import re
lines, cur = [], ""
for l in open("Dockerfile"):
    l = l.rstrip("\n")
    if l.lstrip().startswith("#") and not cur:
        continue
    cur += l[:-1] + " " if l.endswith("\\") else l
    if not l.endswith("\\"):
        if cur.strip():
            lines.append(cur.strip())
        cur = ""
ins = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]
froms = [a for i, a in ins if i == "FROM"]
assert len(froms) == 2 and all(f.startswith("debian:bookworm") for f in froms), froms
runs = [a for i, a in ins if i == "RUN"]
assert runs and all(r.startswith("sy-build ") for r in runs), runs
assert any("deploy/docker/build.sh /usr/local/sbin/sy-build" in a for i, a in ins if i == "COPY")
steps = [r.split()[1] for r in runs]
assert steps == ["deps", "build", "runtime"], steps
users = [a for i, a in ins if i == "USER"]
assert users and users[-1] not in ("root", "0"), users
hc = [a for i, a in ins if i == "HEALTHCHECK"]
assert hc and "/healthz" in hc[0], hc
assert any("models/use-lite" in a for i, a in ins if i == "COPY"), "the model is not copied in"
env = " ".join(a for i, a in ins if i == "ENV")
assert "SWITCHYARD_MODELS=/opt/switchyard/models" in env and "SWITCHYARD_HOST=0.0.0.0" in env, env
print("ok: Dockerfile", len(ins), "instructions")
PY
echo "ok: image build stage ($(du -sh "$tmp/out" | cut -f1)); /healthz and use-lite offline"
