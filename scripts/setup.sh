#!/usr/bin/env bash
# Installs everything the plugin, its tests and the dev host need on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
# libsecret/gnome-keyring/dbus: the OS keychain (keytar, its tests); chromium: the browser tests.
for pkg in libsecret-1-dev gnome-keyring dbus-x11 libsecret-tools chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -f node_modules/keytar/build/Release/keytar.node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# keytar is a native addon: make sure it is built against this Node (libsecret must be there first).
[ -f node_modules/keytar/build/Release/keytar.node ] || npm rebuild keytar
