#!/usr/bin/env bash
# `make uninstall-desktop`: remove exactly what install-desktop.sh installed (listed in its
# manifest), plus the start-at-login entry if it starts that copy. Your memories are NOT
# deleted: this prints where they are. `PURGE=1` or `--purge` deletes them too.
set -euo pipefail
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
CONFIG_HOME=${XDG_CONFIG_HOME:-$HOME/.config}
APP_DIR=${MNEMO_INSTALL_DIR:-$HOME/.local/opt/mnemo}
MANIFEST=$APP_DIR.install-manifest
# Where platformdirs puts Mnemo's data on Linux (app/paths.py), unless MNEMO_DATA_DIR says.
DATA_DIR=${MNEMO_DATA_DIR:-$DATA_HOME/Mnemo}
PURGE=${PURGE:-0}
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
  esac
done
say() { [ "${MNEMO_QUIET:-0}" = 1 ] || echo "$@"; }

if [ ! -f "$MANIFEST" ]; then
  say "mnemo uninstall: nothing installed at $APP_DIR (no $MANIFEST)."
else
  while IFS= read -r path; do
    [ -n "$path" ] || continue
    # Only paths under the places install-desktop.sh writes to, never anything else.
    case "$path" in
      "$APP_DIR" | "$DATA_HOME"/applications/mnemo.desktop | "$DATA_HOME"/icons/hicolor/*/apps/mnemo.*) ;;
      *) echo "mnemo uninstall: skipping unexpected manifest entry $path" >&2; continue ;;
    esac
    if [ -e "$path" ] || [ -L "$path" ]; then
      rm -rf -- "$path"
      say "removed $path"
    fi
  done < "$MANIFEST"
  rm -f -- "$MANIFEST"
  rmdir -- "$(dirname "$APP_DIR")" 2>/dev/null || true  # ~/.local/opt, if we left it empty
  # Icon size folders left empty (hicolor/NxN/apps); the hicolor folder itself stays.
  find "$DATA_HOME/icons/hicolor" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
fi

# The login entry written by the app (app/autostart.py) would start a copy that is gone.
autostart="$CONFIG_HOME/autostart/mnemo.desktop"
if [ -f "$autostart" ] && grep -q -- "$APP_DIR/mnemo" "$autostart"; then
  rm -f -- "$autostart"
  say "removed $autostart (start at login)"
fi

# The answer model's re-encoded copy (models/llm_child.py): no personal data, made again on use.
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/Mnemo"
if [ -d "$CACHE_DIR/models" ]; then
  rm -rf -- "$CACHE_DIR/models"
  rmdir -- "$CACHE_DIR" 2>/dev/null || true
  say "removed the model cache in $CACHE_DIR/models"
fi

if [ "$PURGE" = 1 ]; then
  if [ -d "$DATA_DIR" ]; then
    # Refuse anything that does not look like a Mnemo data folder (a wrong MNEMO_DATA_DIR).
    if [ -e "$DATA_DIR/mnemo.key" ] || [ -e "$DATA_DIR/mnemo.db" ] || [ -e "$DATA_DIR/preferences.json" ]; then
      rm -rf -- "$DATA_DIR"
      say "deleted your Mnemo data in $DATA_DIR"
    else
      echo "mnemo uninstall: $DATA_DIR does not look like Mnemo's data folder; left it alone." >&2
      exit 1
    fi
  else
    say "no Mnemo data at $DATA_DIR"
  fi
else
  if [ -d "$DATA_DIR" ]; then
    say "Your memories are still in $DATA_DIR (encrypted)."
  else
    say "Mnemo's data folder would be $DATA_DIR (none there now)."
  fi
  say "To delete them too: make uninstall-desktop PURGE=1  (or packaging/uninstall-desktop.sh --purge)"
fi
