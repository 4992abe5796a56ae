#!/usr/bin/env bash
# Debian packages for offscreen rendering (EGL, OSMesa fallback) and the window tests (Xvfb, xwd, xwininfo, xdotool).
# Installs only what is missing; needs root or sudo. With --check it only reports.
set -euo pipefail
PKGS=(libegl1 libopengl0 libgl1-mesa-dri libosmesa6 xvfb x11-apps x11-utils xdotool)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ] || ! command -v apt-get >/dev/null; then
  echo "missing Debian packages (clip rendering and window tests need them): ${missing[*]}" >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# the package lists first: on a fresh machine they are empty, and installing before updating fails noisily
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
