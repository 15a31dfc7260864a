#!/usr/bin/env bash
# Builds flinkdrop for Linux and Windows on amd64 and arm64 into dist/.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/build.sh [--help]

Builds ./cmd/flinkdrop with CGO_ENABLED=0 and -trimpath for
linux/amd64, linux/arm64, windows/amd64 and windows/arm64 into dist/,
then prints each artefact with its size and SHA-256 (also written to
dist/SHA256SUMS).

Environment:
  VERSION   version to stamp (default: git describe --tags --always --dirty)
  COMMIT    commit to stamp  (default: git rev-parse HEAD)
  DIST      output folder    (default: dist)
  TARGETS   space-separated GOOS/GOARCH list (default: the four above)
  GO        go command       (default: go)
EOF
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	echo "build.sh: unknown argument: $1 (see --help)" >&2
	exit 2
	;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

GO="${GO:-go}"
if ! command -v "$GO" >/dev/null 2>&1; then
	echo "build.sh: '$GO' not found (install Go, or set GO to the go command)" >&2
	exit 1
fi

VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
COMMIT="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
DIST="${DIST:-dist}"
TARGETS="${TARGETS:-linux/amd64 linux/arm64 windows/amd64 windows/arm64}"

# -X values cannot carry spaces or quotes through -ldflags.
case "$VERSION$COMMIT" in
*[[:space:]\'\"]*)
	echo "build.sh: VERSION '$VERSION' or COMMIT '$COMMIT' contains a blank or a quote" >&2
	exit 2
	;;
esac

if command -v sha256sum >/dev/null 2>&1; then
	sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
	sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
	echo "build.sh: neither sha256sum nor shasum is installed" >&2
	exit 1
fi

mkdir -p "$DIST"
ldflags="-s -w -X main.version=$VERSION -X main.commit=$COMMIT"
artefacts=()
for target in $TARGETS; do
	goos="${target%/*}"
	goarch="${target#*/}"
	out="$DIST/flinkdrop-$goos-$goarch"
	if [[ "$goos" == windows ]]; then
		out="$out.exe"
	fi
	echo "building $out ($VERSION)" >&2
	CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" \
		"$GO" build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/flinkdrop
	artefacts+=("$out")
done

sums="$DIST/SHA256SUMS"
: >"$sums"
printf '%-40s %12s  %s\n' artefact bytes sha256
for f in "${artefacts[@]}"; do
	size="$(wc -c <"$f" | tr -d ' ')"
	sum="$(sha256 "$f")"
	printf '%-40s %12s  %s\n' "$f" "$size" "$sum"
	printf '%s  %s\n' "$sum" "$(basename "$f")" >>"$sums"
done
echo "checksums in $sums" >&2
