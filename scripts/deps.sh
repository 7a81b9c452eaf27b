#!/bin/sh
# Installs the Debian packages sfproxy needs to build and test, and only the missing ones:
# one `apt-get update`, then one `apt-get install`. With --bench, also the benchmark peers;
# with --fuzz, clang and its libFuzzer runtime; with --format, clang-format; with
# --analyze, clang.
set -eu
# prometheus: the integration tests start a real one (on 127.0.0.1) to scrape /metrics;
# haproxy: one in front of a cluster of sfproxy nodes (and HAProxy's cache in the bench).
# man-db: a test renders the manual pages with warnings on; openssl makes the test
# certificates of an https origin. libgnutls28-dev: the cluster's peer-request signatures
# (HMAC-SHA-256); libmicrohttpd-dev pulls it in too, but sfproxy links it itself.
# libpcre2-dev: the routes' path and header patterns, compiled once per config with
# PCRE2's JIT (the library nginx, HAProxy and Varnish use, so patterns read the same).
# libxxhash-dev: XXH3, the disk tier's record checksums (docs/disk.md).
# Not listed: apt-get and dpkg-deb, which t76 runs (a test mirror's packages built with
# dpkg-deb, fetched by real apt); apt and dpkg are part of every Debian system.
pkgs="gcc make pkg-config libmicrohttpd-dev libgnutls28-dev libpcre2-dev libxxhash-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev python3 curl prometheus man-db openssl haproxy"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs wrk nginx-light"
[ "${1:-}" = "--fuzz" ] && pkgs="$pkgs clang libclang-rt-14-dev llvm"
[ "${1:-}" = "--format" ] && pkgs="$pkgs clang-format"
[ "${1:-}" = "--analyze" ] && pkgs="$pkgs clang"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing; run as root or: sudo apt-get install$missing" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages with a service (prometheus, nginx) must not start it on install: the tests start
# their own on 127.0.0.1. A policy-rc.d that refuses every start, for this install only.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
fi
trap '[ -n "$guard" ] && rm -f "$guard"' EXIT
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
