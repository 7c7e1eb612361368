#!/bin/sh
# Runs a command with a real, unlocked Secret Service (gnome-keyring in its own D-Bus session),
# so the keychain tests run against the real thing. A throwaway HOME keeps the test keyring apart.
set -eu
unset DISPLAY
HOME=$(mktemp -d)
export HOME
exec dbus-run-session -- sh -c 'printf %s test-keyring-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' sh "$@"
