#!/bin/sh
# Install the Debian packages twin needs, or say exactly how to.
# Usage: deps.sh PKG...
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "twin: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null || {
        echo "twin: apt-get install failed for:$missing" >&2; exit 1; }
else
    echo "twin: missing Debian packages. Run:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
