#!/usr/bin/env python3
"""apt_mirror: a Debian package mirror for sfproxy's tests, built at startup and served
over HTTP/1.1 like the mirror of issue 20: with no caching fields at all (no
Cache-Control, Expires, Last-Modified or ETag), so whatever a cache keeps of it, it keeps
because its operator said so.

    apt_mirror.py --dir DIR [--suite NAME] [--packages NAME,NAME,...]

builds, under DIR/debian/:
  pool/main/<n>/<name>/<name>_<version>_amd64.deb   one tiny package per name, made by
                                                    `dpkg-deb --build` (dpkg: always there
                                                    on Debian); each has a file of its own
                                                    bytes, so the .debs differ in size
  dists/<suite>/main/binary-amd64/Packages(.gz)     their stanzas (Package, Version,
                                                    Architecture, Filename, Size, SHA256...)
  dists/<suite>/main/binary-amd64/by-hash/SHA256/<sha256 of each index>
  dists/<suite>/Release                             Date, Suite, Codename, Architectures,
                                                    Components, Acquire-By-Hash: yes and the
                                                    indexes' sizes and SHA256 sums
No InRelease or Release.gpg: the repository is unsigned, for a sources.list line with
[trusted=yes]; apt asks for InRelease first and takes the 404. Only GET and HEAD; any
other path is a 404 (a body of its own, no caching fields either).

Every request is counted by its target: GET /_origin/stats answers JSON with "total",
"targets" (target -> count, as slow_origin.py's), "via" (how many arrived with a Via
field: through a proxy) and "cache_control" (target -> the request Cache-Control of each
time it was asked, null for none: apt sends max-age=0 for indexes); POST /_origin/reset
zeroes them; POST /_origin/clock?advance=N moves the mirror's Date N seconds on (as
slow_origin.py's, with sfproxy's --test-clock). The first line on stdout is "origin
listening on 127.0.0.1:PORT" (harness.py reads it); the second "repository in DIR"."""
import argparse
import email.utils
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ARCH = "amd64"
COMPONENT = "main"
lock = threading.Lock()
counts = {}
asked_cc = {}  # target -> the request Cache-Control values it came with, in order
total = [0]
via = [0]
clock_offset = [0]  # seconds the test moved this mirror's clock (its Date) forward


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def payload(name, size):
    """size bytes that depend on name: each package's file, so no two .debs are alike."""
    out, block = bytearray(), hashlib.sha256(name.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def build_deb(work, pool, name, version, index):
    """Builds <name>_<version>_amd64.deb into pool with dpkg-deb; returns its stanza."""
    src = os.path.join(work, "%s-src" % name)
    os.makedirs(os.path.join(src, "DEBIAN"))
    doc = os.path.join(src, "usr", "share", "doc", name)
    os.makedirs(doc)
    with open(os.path.join(doc, "payload"), "wb") as f:
        f.write(payload(name, 4096 + 20000 * index))  # gzip keeps it: hashes do not shrink
    with open(os.path.join(src, "DEBIAN", "control"), "w") as f:
        f.write("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: sfproxy tests "
                "<tests@sfproxy.invalid>\nSection: misc\nPriority: optional\n"
                "Description: %s, a package of sfproxy's test mirror\n This package only "
                "carries bytes for apt to fetch through sfproxy.\n"
                % (name, version, ARCH, name))
    rel = os.path.join("pool", COMPONENT, name[0], name, "%s_%s_%s.deb" % (name, version, ARCH))
    out = os.path.join(pool, rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    p = subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", src, out],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("apt_mirror: dpkg-deb --build %s failed: %s" % (name, p.stderr))
    with open(out, "rb") as f:
        deb = f.read()
    return ("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: sfproxy tests "
            "<tests@sfproxy.invalid>\nInstalled-Size: %d\nFilename: %s\nSize: %d\n"
            "SHA256: %s\nSection: misc\nPriority: optional\nDescription: %s, a package of "
            "sfproxy's test mirror\n" % (name, version, ARCH, 4 + 20 * index, rel, len(deb),
                                         sha256(deb), name))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def build_repo(root, suite, names):
    """Builds the repository under root/debian (see the module's comment)."""
    base = os.path.join(root, "debian")
    work = tempfile.mkdtemp(prefix="apt-mirror-build-")  # the packages' trees, not served
    try:
        stanzas = [build_deb(work, base, n, "1.0-%d" % (i + 1), i) for i, n in enumerate(names)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    packages = "\n".join(stanzas).encode()
    indexes = {"Packages": packages, "Packages.gz": gzip.compress(packages, mtime=0)}
    bindir = "%s/binary-%s" % (COMPONENT, ARCH)
    dist = os.path.join(base, "dists", suite)
    sums = []
    for fname, data in indexes.items():
        write(os.path.join(dist, bindir, fname), data)
        write(os.path.join(dist, bindir, "by-hash", "SHA256", sha256(data)), data)
        sums.append(" %s %d %s/%s" % (sha256(data), len(data), bindir, fname))
    release = ("Origin: sfproxy-tests\nLabel: sfproxy-tests\nSuite: %s\nCodename: %s\n"
               "Date: %s\nArchitectures: %s\nComponents: %s\nDescription: sfproxy's test "
               "mirror\nAcquire-By-Hash: yes\nSHA256:\n%s\n"
               % (suite, suite, email.utils.formatdate(usegmt=True), ARCH, COMPONENT,
                  "\n".join(sums)))
    write(os.path.join(dist, "Release"), release.encode())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and apt's pipelined requests in order
    server_version = "apt_mirror/1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def date_time_string(self, timestamp=None):
        """Date, on the clock the test may have moved forward with sfproxy's."""
        return super().date_time_string((timestamp or time.time()) + clock_offset[0])

    def reply(self, status, body, ctype):
        self.send_response(status)  # Server and Date; nothing about caching
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self, path, query):
        if path == "/_origin/stats":
            with lock:
                body = json.dumps({"total": total[0], "targets": dict(counts), "via": via[0],
                                   "cache_control": {k: list(v) for k, v in asked_cc.items()}})
            self.reply(200, body.encode(), "application/json")
        elif path == "/_origin/clock":
            clock_offset[0] += int(parse_qs(query).get("advance", ["0"])[0])
            self.reply(200, json.dumps({"offset_s": clock_offset[0]}).encode(),
                       "application/json")
        elif path == "/_origin/reset":
            with lock:
                counts.clear()
                asked_cc.clear()
                total[0] = via[0] = 0
            self.reply(200, b'{"reset": true}', "application/json")
        else:
            self.reply(404, b'{"error": "unknown control path"}', "application/json")

    def file_for(self, path):
        """The file under the repository a URL path names, or None (never outside it)."""
        root = self.server.root
        full = os.path.realpath(os.path.join(root, unquote(path).lstrip("/")))
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)  # absolute form too, should a client send it
        if url.path.startswith("/_origin/"):
            return self.control(url.path, url.query)
        with lock:
            total[0] += 1
            counts[self.path] = counts.get(self.path, 0) + 1
            if self.headers.get("Via") is not None:
                via[0] += 1
            asked_cc.setdefault(self.path, []).append(self.headers.get("Cache-Control"))
        full = self.file_for(url.path) if self.command in ("GET", "HEAD") else None
        if full is None:
            return self.reply(404, b"not in this mirror\n", "text/plain")
        with open(full, "rb") as f:
            body = f.read()
        ctype = ("application/vnd.debian.binary-package" if full.endswith(".deb") else
                 "application/gzip" if full.endswith(".gz") else "application/octet-stream")
        self.reply(200, body, ctype)

    do_GET = do_HEAD = do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description="a Debian package mirror for sfproxy's tests")
    ap.add_argument("--dir", required=True, help="where to build and serve the repository")
    ap.add_argument("--suite", default="sftest")
    ap.add_argument("--packages", default="hello,cowsay,sl")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    root = os.path.realpath(args.dir)
    os.makedirs(root, exist_ok=True)
    build_repo(root, args.suite, args.packages.split(","))
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.root = root
    print("origin listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    print("repository in %s" % root, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
