#!/usr/bin/env bash
# macOS: build dist/photoclip.app with PyInstaller and wrap it in a .dmg (run on a Mac).
#   bash packaging/macos/build-macos.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
VERSION=$("$PY" -c "import photoclip; print(photoclip.__version__)")
"$PY" -m pip install -q 'pyinstaller>=6.10'
PHOTOCLIP_VERSION=$VERSION "$PY" -m PyInstaller --noconfirm --clean --distpath dist \
  --workpath build/pyinstaller packaging/photoclip.spec
# The CLI lives inside the bundle too: dist/photoclip.app/Contents/MacOS/photoclip
dist/photoclip.app/Contents/MacOS/photoclip --version
rm -rf build/dmg && mkdir -p build/dmg
cp -R dist/photoclip.app build/dmg/
ln -s /Applications build/dmg/Applications
hdiutil create -volname photoclip -srcfolder build/dmg -ov -format UDZO \
  "dist/photoclip-$VERSION.dmg"
echo "built dist/photoclip-$VERSION.dmg"
