#!/usr/bin/env bash
# Install test for the .deb on a clean system: a minimal Debian made with debootstrap, where
# `apt-get install ./photoclip_<version>_amd64.deb` has to bring in every library the bundle
# needs from its Depends line alone (no recommends). Then the installed app is used the way a
# person would: the launcher on PATH indexes drawn photos with the small test model and finds
# the red circle, the window opens on an X server inside that system, the menu entry, icon and
# AppStream file are in place, and removing the package leaves nothing behind.
#
#   bash packaging/build-linux.sh && sudo bash packaging/test-deb.sh
#   sudo bash packaging/test-deb.sh dist/photoclip_0.1.0_amd64.deb    # a given package
#
# Needs root (debootstrap, chroot, mount) and a Debian mirror (MIRROR, SUITE). The bare system
# is kept as build/deb-test-<suite>.tar (about 100 MB), so later runs skip debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DEB=${1:-$(ls -t dist/photoclip_*_amd64.deb 2>/dev/null | head -n1)}
fail() { echo "test-deb: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "test-deb: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "test-deb: apt-get install debootstrap" >&2; exit 2; }
[ -f "${DEB:-}" ] || { echo "test-deb: no .deb; run packaging/build-linux.sh first" >&2; exit 2; }
[ -x "$PY" ] || { echo "test-deb: no $PY to draw test photos with" >&2; exit 2; }
START=$(date +%s)

BASE=build/deb-test-$SUITE.tar
SYS=build/deb-test-root
if [ ! -f "$BASE" ]; then
  echo "== debootstrap $SUITE (once; kept in $BASE)"
  rm -rf build/deb-test-bootstrap
  debootstrap --variant=minbase "$SUITE" build/deb-test-bootstrap "$MIRROR" >/dev/null
  tar -C build/deb-test-bootstrap -cf "$BASE" .
  rm -rf build/deb-test-bootstrap
fi
umount_all() {
  for m in dev/pts dev proc; do mountpoint -q "$SYS/$m" && umount -l "$SYS/$m"; done
  return 0
}
umount_all 2>/dev/null || true
rm -rf "$SYS"
mkdir -p "$SYS"
tar -C "$SYS" -xf "$BASE"
trap umount_all EXIT
mount -t proc proc "$SYS/proc"
mount --bind /dev "$SYS/dev"
mount --bind /dev/pts "$SYS/dev/pts"
cp /etc/resolv.conf "$SYS/etc/resolv.conf"
in_sys() { chroot "$SYS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== install $(basename "$DEB") with its Depends only"
cp "$DEB" "$SYS/tmp/photoclip.deb"
in_sys apt-get update -qq
in_sys apt-get install -y -qq --no-install-recommends /tmp/photoclip.deb >/dev/null
in_sys dpkg -s photoclip | grep -E "^(Status|Version):"
[ -L "$SYS/usr/bin/photoclip" ] || fail "no photoclip launcher on PATH"
for f in usr/share/applications/photoclip.desktop usr/share/icons/hicolor/256x256/apps/photoclip.png \
         usr/share/metainfo/io.github.photoclip.metainfo.xml; do
  [ -s "$SYS/$f" ] || fail "the package did not install /$f"
done
echo "ok: launcher, menu entry, icon and AppStream metadata installed"

echo "== every Qt plugin resolves its libraries on the clean system"
cp packaging/check-app.sh "$SYS/tmp/check-app.sh"
in_sys bash /tmp/check-app.sh plugins /opt/photoclip || fail "libraries missing from Depends"

echo "== the installed app indexes and searches"
mkdir -p "$SYS/tmp/test"
cp -r tests/models/shapes-clip "$SYS/tmp/test/model"
COUNT=$("$PY" packaging/draw_test_photos.py "$SYS/tmp/test/photos")
in_sys photoclip --version
in_sys env HF_HUB_OFFLINE=1 photoclip --library /tmp/test/lib --model local-dir:/tmp/test/model \
  index /tmp/test/photos 2>&1 | tee "$SYS/tmp/test/index.log"
# JPEGs, a HEIC and DNGs: libheif and LibRaw came with the package, nothing from Depends.
grep -q "indexed $COUNT photos.*, 0 failed" "$SYS/tmp/test/index.log" ||
  fail "not every test photo was indexed (HEIC/RAW support?)"
in_sys bash /tmp/check-app.sh formats /opt/photoclip || fail "HEIC/RAW modules incomplete"
TOP=$(in_sys photoclip --library /tmp/test/lib search "a red circle" --top 1 --json |
  "$PY" -c "import json,sys; print(json.load(sys.stdin)[0]['path'])")
case "$TOP" in *red-circle*) echo "ok: $TOP";; *) fail "wrong top hit $TOP";; esac

echo "== the menu entry's command opens the window on an X server (xcb)"
# Xvfb and xdotool are test tools, installed only now, after the library check above.
in_sys apt-get install -y -qq --no-install-recommends xvfb xauth xdotool >/dev/null
EXEC=$(sed -n 's/^Exec=//p' "$SYS/usr/share/applications/photoclip.desktop")
# shellcheck disable=SC2086 # Exec is a command line: split it as the desktop would
in_sys env QT_QPA_PLATFORM=xcb HF_HUB_OFFLINE=1 WINDOW_TIMEOUT=30 \
  xvfb-run -a -s "-screen 0 1280x800x24" bash /tmp/check-app.sh window \
  $EXEC --library /tmp/test/lib --model local-dir:/tmp/test/model || fail "the window did not appear"

echo "== removing the package leaves nothing in /opt or on PATH"
in_sys apt-get remove -y -qq photoclip >/dev/null
[ ! -e "$SYS/opt/photoclip" ] && [ ! -e "$SYS/usr/bin/photoclip" ] || fail "files left after remove"
echo "ok"
echo "== .deb install test passed in $(($(date +%s) - START)) s on a clean $SUITE"
