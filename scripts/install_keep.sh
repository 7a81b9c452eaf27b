#!/bin/sh
# install_keep: installs a file an operator edits (a config) without overwriting their
# copy, or with --remove removes it only when it is still the one shipped.
#   scripts/install_keep.sh SRC DEST
#   scripts/install_keep.sh --remove SRC DEST
set -eu
if [ "$1" = "--remove" ]; then
    src=$2 dest=$3
    if [ -e "$dest" ] && ! cmp -s "$src" "$dest"; then
        echo "uninstall: keeping $dest (changed since it was installed)"
    else
        rm -f "$dest"
    fi
    exit 0
fi
src=$1 dest=$2
if [ -e "$dest" ]; then
    echo "install: keeping the existing $dest (the shipped one is $src)"
else
    install -D -m 644 "$src" "$dest"
    echo "install: $dest"
fi
