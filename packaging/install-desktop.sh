#!/usr/bin/env bash
# `make install-desktop`: put the bundle built by `make package` in the user's local folders and
# add Mnemo to the application menu (desktop entry + hicolor icons). No root needed. Everything
# written is listed in a manifest that uninstall-desktop.sh removes, and nothing else.
#
#   MNEMO_BUNDLE       the bundle to install (default: dist/mnemo)
#   MNEMO_INSTALL_DIR  where the app goes (default: ~/.local/opt/mnemo)
#   XDG_DATA_HOME      where the entry and icons go (default: ~/.local/share)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=${MNEMO_BUNDLE:-$ROOT/dist/mnemo}
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
# Not ~/.local/share/mnemo: that would sit next to the data folder ~/.local/share/Mnemo and
# differ only by case.
APP_DIR=${MNEMO_INSTALL_DIR:-$HOME/.local/opt/mnemo}
APPS_DIR=$DATA_HOME/applications
ICON_DIR=$DATA_HOME/icons/hicolor
MANIFEST=$APP_DIR.install-manifest
ICONS_SRC=$ROOT/assets/icons
SIZES="16 22 24 32 48 64 128 256 512"
# Qt on X11 sets WM_CLASS to ("mnemo", "Mnemo"): the class is the application name; docks
# match it to this entry to group windows.
WMCLASS=Mnemo

if [ ! -x "$BUNDLE/mnemo" ]; then
  echo "mnemo install: no bundle at $BUNDLE. Build it first with: make package" >&2
  exit 1
fi
for s in $SIZES; do
  [ -f "$ICONS_SRC/mnemo-$s.png" ] || { echo "mnemo install: missing $ICONS_SRC/mnemo-$s.png" >&2; exit 1; }
done

# Replace a previous install cleanly (its manifest says what it put where).
if [ -f "$MANIFEST" ]; then
  MNEMO_QUIET=1 bash "$ROOT/packaging/uninstall-desktop.sh" >/dev/null
fi

files=()
mkdir -p "$(dirname "$APP_DIR")" "$APPS_DIR"
rm -rf "$APP_DIR.partial"
cp -a "$BUNDLE" "$APP_DIR.partial"
rm -rf "$APP_DIR"
mv "$APP_DIR.partial" "$APP_DIR"
files+=("$APP_DIR")

for s in $SIZES; do
  dest="$ICON_DIR/${s}x${s}/apps/mnemo.png"
  install -D -m 0644 "$ICONS_SRC/mnemo-$s.png" "$dest"
  files+=("$dest")
done
dest="$ICON_DIR/scalable/apps/mnemo.svg"
install -D -m 0644 "$ICONS_SRC/mnemo.svg" "$dest"
files+=("$dest")

# Desktop entry Exec: a path with spaces is double-quoted, % is doubled (the spec's rules).
# Characters that would need backslash escapes are refused rather than escaped wrongly.
exec_path="$APP_DIR/mnemo"
case "$exec_path" in
  *[\"\`\$\\]*)
    echo "mnemo install: the path $exec_path contains \", \`, \$ or \\; choose another MNEMO_INSTALL_DIR" >&2
    exit 1 ;;
esac
quoted=$exec_path
case "$exec_path" in *[[:space:]\'\;\&\|\<\>\~\#\*\?\(\)]*) quoted="\"$exec_path\"" ;; esac
quoted=${quoted//%/%%}
desktop="$APPS_DIR/mnemo.desktop"
render_entry() {
  local text
  text=$(cat "$ROOT/packaging/linux/mnemo.desktop.in")
  text=${text//@EXEC@/$quoted}
  text=${text//@TRYEXEC@/$exec_path}
  text=${text//@WMCLASS@/$WMCLASS}
  printf '%s\n' "$text"
}
render_entry > "$desktop.tmp"
chmod 0644 "$desktop.tmp"
mv "$desktop.tmp" "$desktop"
files+=("$desktop")

printf '%s\n' "${files[@]}" > "$MANIFEST"

if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$desktop" || { echo "mnemo install: the menu entry does not validate" >&2; exit 1; }
fi
# No cache refresh: menus watch ~/.local/share/applications themselves, and the entry has no
# MimeType (update-desktop-database would only add a cache file we would then have to own).

size=$(du -sh "$APP_DIR" | cut -f1)
echo "mnemo install: app in $APP_DIR ($size)"
echo "mnemo install: menu entry $desktop, icons in $ICON_DIR"
echo "mnemo install: remove with: make uninstall-desktop"
