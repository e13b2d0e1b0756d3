#!/usr/bin/env bash
# The frozen app's self-checks, shared by build-linux.sh (on the fresh bundle) and test-deb.sh
# (inside a clean system, on the installed package), so both check the same things.
#
#   check-app.sh plugins APPDIR     every bundled Qt plugin resolves its libraries (ldd)
#   check-app.sh formats APPDIR     the HEIC (libheif) and RAW (LibRaw) modules are bundled
#                                   and resolve their libraries (ldd)
#   check-app.sh window COMMAND...  COMMAND shows the "photoclip" window within
#                                   WINDOW_TIMEOUT seconds (default 15); run it on an X
#                                   server, e.g. under xvfb-run with QT_QPA_PLATFORM=xcb
set -euo pipefail
case "${1:-}" in
  plugins)
    app=$2
    libs="$app/_internal:$app/_internal/PySide6/Qt/lib:$app/_internal/PySide6"
    count=0
    missing=""
    while IFS= read -r -d '' so; do
      count=$((count + 1))
      missing+=$(LD_LIBRARY_PATH=$libs ldd "$so" | grep "not found" | sed "s|^|$so:|" || true)
    done < <(find "$app" -path '*Qt/plugins/*' -name '*.so' -print0)
    if [ -n "$missing" ]; then
      echo "$missing" >&2
      echo "check-app: Qt plugins with unresolved libraries" >&2
      exit 1
    fi
    echo "ok: $count plugins"
    ;;
  formats)
    app=$2
    missing=""
    for pattern in '_pillow_heif*.so' '_rawpy*.so'; do
      so=$(find "$app" -name "$pattern" | head -1)
      if [ -z "$so" ]; then
        missing+="$pattern: not bundled"$'\n'
        continue
      fi
      missing+=$(LD_LIBRARY_PATH="$app/_internal" ldd "$so" | grep "not found" |
        sed "s|^|$so:|" || true)
    done
    if [ -n "$missing" ]; then
      echo "$missing" >&2
      echo "check-app: HEIC or RAW support is missing from the bundle" >&2
      exit 1
    fi
    echo "ok: HEIC and RAW modules bundled with their libraries"
    ;;
  window)
    shift
    "$@" &
    pid=$!
    for _ in $(seq $((${WINDOW_TIMEOUT:-15} * 10))); do
      if xdotool search --onlyvisible --name '^photoclip$' >/dev/null 2>&1; then
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        echo "ok: window shown by '$*'"
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "check-app: '$*' did not show the window" >&2
    exit 1
    ;;
  *)
    echo "usage: check-app.sh plugins APPDIR | formats APPDIR | window COMMAND..." >&2
    exit 2
    ;;
esac
