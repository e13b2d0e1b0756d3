#!/usr/bin/env bash
# Build the Linux bundle (dist/photoclip/) and .deb (dist/photoclip_<version>_amd64.deb)
# from a checkout, with whatever torch the build environment has, then check the output:
# Qt plugins resolve their libraries, the frozen CLI runs and indexes with the small test
# model, and the window opens on a real X server (Xvfb, xcb platform).
#
#   bash packaging/build-linux.sh            # uses .venv (the README's set-up)
#   PYTHON=/path/to/python bash packaging/build-linux.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || { echo "build-linux: no $PY; run the README's set-up commands first" >&2; exit 2; }
need() { command -v "$1" >/dev/null || { echo "build-linux: needs $1 ($2)" >&2; exit 2; }; }
need dpkg-deb "Debian's dpkg"; need xvfb-run "apt-get install xvfb"; need xdotool "apt-get install xdotool"
# The system libraries Qt's plugins load (xcb, Wayland, EGL, fonts, D-Bus): the .deb's Depends.
# They must be on the build machine too, or the plugin check below cannot tell a library the
# package forgot from one this machine lacks.
DEPENDS="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0 libwayland-client0 libwayland-cursor0 libwayland-egl1 \
libegl1 libgl1 libfontconfig1 libdbus-1-3 libglib2.0-0"
absent=""
for pkg in $DEPENDS; do dpkg -s "$pkg" >/dev/null 2>&1 || absent="$absent $pkg"; done
if [ -n "$absent" ]; then
  echo "build-linux: the Qt plugins' system libraries are not all installed; run" >&2
  echo "  sudo apt-get install$absent" >&2
  exit 2
fi

VERSION=$("$PY" -c "import photoclip; print(photoclip.__version__)")
TORCH=$("$PY" -c "import torch; print(torch.__version__)")
echo "== photoclip $VERSION, torch $TORCH"
"$PY" -m pip install -q 'pyinstaller>=6.10'
START=$(date +%s)
rm -rf build/pyinstaller dist/photoclip dist/photoclip_*_amd64.deb
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist \
  --workpath build/pyinstaller packaging/photoclip.spec
APP=$ROOT/dist/photoclip
BUILT=$(date +%s)
echo "== bundle built in $((BUILT - START)) s: $(du -sh "$APP" | cut -f1)"

echo "== check 1: every bundled Qt plugin resolves its libraries"
bash packaging/check-app.sh plugins "$APP"

echo "== check 2: the frozen CLI runs"
"$APP/photoclip" --version

echo "== check 3: it indexes drawn photos with the small test model and finds a red circle"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
COUNT=$("$PY" packaging/draw_test_photos.py "$WORK/photos")
export HF_HUB_OFFLINE=1 PHOTOCLIP_CACHE_DIR="$WORK/cache" PHOTOCLIP_CONFIG_DIR="$WORK/config"
MODEL="local-dir:$ROOT/tests/models/shapes-clip"
"$APP/photoclip" -v --library "$WORK/lib" --model "$MODEL" index "$WORK/photos" 2>&1 |
  tee "$WORK/index.log"
# The first photos are decoded by a spawned helper process while torch is imported; in a
# frozen app the helper re-runs this executable, which must start as a helper, not as the CLI.
if grep -q "decoded here: it failed" "$WORK/index.log"; then
  echo "build-linux: the early-decode helper process failed in the frozen app" >&2; exit 1
fi
grep "decoded by a helper process" "$WORK/index.log" || echo "note: the helper decoded nothing"
# JPEGs, a HEIC and DNGs (with and without a preview): libheif and LibRaw are in the bundle.
grep -q "indexed $COUNT photos.*, 0 failed" "$WORK/index.log" ||
  { echo "build-linux: not every test photo was indexed (HEIC/RAW support?)" >&2; exit 1; }
bash packaging/check-app.sh formats "$APP"
TOP=$("$APP/photoclip" --library "$WORK/lib" search "a red circle" --top 1 --json |
  "$PY" -c "import json,sys; print(json.load(sys.stdin)[0]['path'])")
case "$TOP" in *red-circle*) echo "ok: $TOP";; *) echo "build-linux: wrong top hit $TOP" >&2; exit 1;; esac

echo "== check 4: the window opens on a real X server (xcb, not offscreen)"
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" bash packaging/check-app.sh window \
  "$APP/photoclip-gui" --library "$WORK/lib" --model "$MODEL"

echo "== .deb"
STAGE=build/deb/photoclip_${VERSION}_amd64
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/icons/hicolor/256x256/apps" "$STAGE/usr/share/metainfo"
cp -a "$APP" "$STAGE/opt/photoclip"
ln -s /opt/photoclip/photoclip "$STAGE/usr/bin/photoclip"
cp resources/photoclip.desktop "$STAGE/usr/share/applications/"
cp resources/icons/photoclip.png "$STAGE/usr/share/icons/hicolor/256x256/apps/"
cp resources/io.github.photoclip.metainfo.xml "$STAGE/usr/share/metainfo/"
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: photoclip
Version: $VERSION
Architecture: amd64
Maintainer: photoclip developers <photoclip@users.noreply.github.com>
Installed-Size: $(du -sk "$STAGE" | cut -f1)
Depends: $(echo $DEPENDS | sed 's/ /, /g')
Section: graphics
Priority: optional
Homepage: https://github.com/photoclip/photoclip
Description: find photos in your folders by describing them
 photoclip indexes your photo folders with an OpenCLIP model on your own computer,
 searches them by description, finds similar photos and auto-tags them from label
 sets you write. Bundles its own Python, Qt and PyTorch (torch $TORCH).
CONTROL
DEB=dist/photoclip_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zgzip -z3 --build "$STAGE" "$DEB" >/dev/null
dpkg-deb --info "$DEB" | grep -E "Package|Version|Depends" | sed 's/^/  /'
END=$(date +%s)
echo "== done in $((END - START)) s: bundle $(du -sh "$APP" | cut -f1), $DEB $(du -h "$DEB" | cut -f1)"
