#!/usr/bin/env bash
# The clean-machine test: does the README's "two commands" section work on a Debian bookworm
# machine that has never seen the project?
#
# Makes a fresh bookworm root with debootstrap (minbase, from the Debian mirror; needs root and
# the `debootstrap` package), copies the checkout (the files git tracks, as they are in the work
# tree) to /src/switchyard and ../shared to /src/shared inside it, and runs there, in a chroot
# with /proc, /dev and /dev/pts mounted:
#
#   0. apt-get update && apt-get install -y make   (the README's prerequisite on a bare Debian)
#   1. make deps && make && ./switchyard serve   (serve in the background until /healthz answers,
#                                                 then SIGTERM; it must exit 0)
#   2. make test                                 (must end with "N passed, 0 failed")
#
# Not part of `make test` (it takes tens of minutes: debootstrap, the packages, a build and the
# whole suite); `make test-fresh` runs it. Everything it mounts is unmounted and every process
# it started inside the root is ended by the trap, on success, failure or interruption.
#
# The root gets the host's DNS settings and extra certificate authorities (what any machine on
# this network is set up with), nothing else of the host's.
#
# Settings: FRESH_DIR (where the root goes; default a new folder under /var/tmp, removed at the
# end unless FRESH_KEEP=1), FRESH_MIRROR (default http://deb.debian.org/debian), SY_SHARED (the
# shared folder; default ../shared). The log of each step is in $FRESH_DIR.logs/NAME.log (kept
# when the run fails), and the last lines of a failing step are printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
checkout=$(pwd -P)
shared=${SY_SHARED:-$(cd .. && pwd -P)/shared}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
t0=$(date +%s)

fail() {
	echo "FAIL: $*"
	exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
[ -d "$shared/models/use-lite" ] || fail "no shared folder at $shared (set SY_SHARED)"

root=${FRESH_DIR:-$(mktemp -d /var/tmp/sy-fresh.XXXXXX)}
mkdir -p "$root"
log=$root.logs
mkdir -p "$log"
mounted=()

# Ends every process whose root directory is inside $root (each by its id), unmounts what was
# mounted (last first) and removes the root unless FRESH_KEEP=1.
cleanup() {
	local rc=$? pid m i
	for sig in TERM KILL; do
		for pid in $(ls /proc | grep -E '^[0-9]+$'); do
			[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] || continue
			kill -s "$sig" "$pid" 2>/dev/null || true
		done
		sleep 1
	done
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: cannot unmount $m"
	done
	if [ "${FRESH_KEEP:-0}" != 1 ] && ! grep -q " $root/" /proc/mounts; then
		rm -rf "$root"
		if [ "$rc" = 0 ]; then rm -rf "$log"; else echo "logs kept in $log"; fi
	fi
	echo "fresh: $(($(date +%s) - t0)) s in all, exit $rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { # name, then the command; its output goes to $log/name.log
	local name=$1 s
	shift
	s=$(date +%s)
	echo "== $name"
	if ! "$@" >"$log/$name.log" 2>&1; then
		tail -40 "$log/$name.log"
		fail "$name (after $(($(date +%s) - s)) s; log $log/$name.log)"
	fi
	echo "   ok in $(($(date +%s) - s)) s"
}

if [ ! -x "$root/usr/bin/apt-get" ]; then
	step debootstrap debootstrap --variant=minbase bookworm "$root" "$mirror"
fi
# A machine fresh out of the installer has the mirror as its apt source, DNS, and sudo-less root.
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# ... and the certificate authorities its network needs (an egress proxy's CA): the host's extra
# CAs go where update-ca-certificates finds them when `make deps` installs ca-certificates, and
# the file NODE_EXTRA_CA_CERTS names (npm reads that) is passed on the same way.
mkdir -p "$root/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
extra_ca=
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
	mkdir -p "$root/etc/ssl"
	cp "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/extra-ca.pem"
	extra_ca=NODE_EXTRA_CA_CERTS=/etc/ssl/extra-ca.pem
fi

copy_tree() {
	rm -rf "$root/src"
	mkdir -p "$root/src/switchyard" "$root/src/shared"
	# The checkout: the files git tracks, as they are in the work tree (no build outputs).
	git -C "$checkout" ls-files -z --cached --others --exclude-standard |
		(cd "$checkout" && tar --null -T - --ignore-failed-read -cf -) |
		tar -xf - -C "$root/src/switchyard"
	cp -a "$shared/." "$root/src/shared/"
}
step copy copy_tree

for m in proc dev dev/pts; do
	mkdir -p "$root/$m"
	if [ "$m" = proc ]; then mount -t proc proc "$root/proc"; else mount --bind "/$m" "$root/$m"; fi
	mounted+=("$root/$m")
done

in_root() { # runs a bash script inside the root, in the checkout, as a login would
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive $extra_ca bash -c "cd /src/switchyard && $1"
}

# Command 1 of the README, exactly; the server it ends with runs until /healthz answers.
# The id of the switchyard process running inside the root (empty when none).
serve_pid() {
	local p
	for p in $(ls /proc | grep -E '^[0-9]+$'); do
		[ "$(readlink "/proc/$p/root" 2>/dev/null)" = "$root" ] &&
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = switchyard ] && echo "$p" && return
	done
	true
}

command1() {
	if curl -s -o /dev/null http://127.0.0.1:8080/ 2>/dev/null; then
		echo "something already answers on 127.0.0.1:8080 (the README's port); stop it first"
		return 1
	fi
	in_root 'make deps && make && exec ./switchyard serve' &
	local pid=$! i
	for i in $(seq 1 3600); do
		if curl -sf http://127.0.0.1:8080/healthz >/dev/null 2>&1 &&
			curl -sf http://127.0.0.1:8080/v1/encode/use-lite -d '{"items":[{"text":"hello"}]}' |
			grep -q '"dims":512'; then
			echo "serve answered /healthz and an encode after $i s"
			kill -TERM "$(serve_pid)"
			wait "$pid"
			return
		fi
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; return 1; }
		sleep 1
	done
	echo "serve did not answer within an hour"
	return 1
}
# The README's prerequisite for a bare Debian (debootstrap's minbase, like a minimal install or
# a container image, has no make), exactly as written there.
step prerequisite in_root 'apt-get update && apt-get install -y make'
step command1 command1
tail -1 "$log/command1.log" | sed 's/^/   /'

# Command 2 of the README, exactly.
step command2 in_root 'make test'
tail -1 "$log/command2.log" | sed 's/^/   /'
grep -qE '^[0-9]+ passed, 0 failed$' "$log/command2.log" || fail "make test did not end with 0 failed"
echo "ok: the README's two commands work on a fresh Debian bookworm ($(($(date +%s) - t0)) s)"
