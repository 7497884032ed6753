#!/bin/sh
# Install the Debian packages dialfunnel needs, only those missing. Runs apt-get, so it
# needs root (the Makefile calls it; on other machines run it with sudo once).
set -eu
want="python3 python3-venv python3-dev libpq5 $*"
missing=""
for pkg in $want; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing system packages:$missing (run: sudo apt-get install$missing)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends $missing || { apt-get update && apt-get install -y --no-install-recommends $missing; }
