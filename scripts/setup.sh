#!/usr/bin/env bash
# Installs everything the plugin, its tests and the dev host need on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
# libsecret/gnome-keyring/dbus: the OS keychain (keytar, its tests); chromium: the browser tests.
# lighttpd(+webdav)/apache2/rclone/openssl: the real WebDAV servers of the tests (test/support/servers.ts
# starts its own instances on 127.0.0.1 with its own config files; openssl makes their test CA).
for pkg in libsecret-1-dev gnome-keyring dbus-x11 libsecret-tools chromium \
           lighttpd lighttpd-mod-webdav apache2 rclone openssl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # The packages' own system services (port 80) are not wanted: the tests start their own instances.
  for svc in apache2 apache-htcacheclean lighttpd; do
    case " ${need[*]} " in *" apache2 "*|*" lighttpd "*) ;; *) continue ;; esac
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
    $SUDO systemctl disable "$svc" >/dev/null 2>&1 || $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
  done
fi
if [ ! -f node_modules/keytar/build/Release/keytar.node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# keytar is a native addon: make sure it is built against this Node (libsecret must be there first).
[ -f node_modules/keytar/build/Release/keytar.node ] || npm rebuild keytar
