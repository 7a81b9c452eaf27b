#!/usr/bin/env python3
"""pool_origin: one server of an upstream pool for sfproxy's pool tests (issue 21): it says
who it is in every body, counts what reached it, answers health probes, and can be made to
fail in the ways a pool must survive. Killed (SIGKILL) and started again with --port on the
port it had, it listens there again at once (SO_REUSEADDR), as a restarted backend does.

    pool_origin.py --id NAME [--port N] [--log FILE]

Any path but the ones below answers 200 with the body
    "id=NAME path=TARGET\\n", padded with '.' to size=N bytes when the query asks for more,
so a client can tell which server answered which request and that it got the whole body.
The query says more:
  cc=VALUE      Cache-Control: VALUE (default "no-store": the response is not stored, so
                every request for it is a fetch)
  delay=MS      wait MS milliseconds before the response head
  size=N        the body's length (never shorter than its first line)
The origin's mode (POST /__mode) applies to every such request:
  status=N      answer N instead of 200 (same body): a server that answers 503
  action=reset  read the request whole (head and content), then reset the connection
                before any response byte: a server that took a POST and crashed
  action=hang   read the request whole, then answer nothing for 60 s
  action=normal (and status=200) undoes them.
GET /healthz answers 200 "ok", or 503 after POST /__health?fail=1 (fail=0 undoes it);
POST /__health?delay=MS makes it answer MS milliseconds after the probe arrives.
GET /__count: JSON {"id", "total" (requests counted, control and health paths apart),
"targets" {target: n}, "methods" {method: n}, "hosts" {Host: n}, "health" (probes)}.
GET /__log: JSON list of [arrival time (time.time()), method, target] of every counted
request, in order; GET /__probes: the arrival times of the health probes. --log FILE also
appends each counted request as a line "TIME METHOD TARGET" (flushed, so a killed origin's
requests stay readable).
The first line on stdout is "origin listening on 127.0.0.1:PORT".
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

lock = threading.Lock()
state = {"id": "?", "targets": {}, "methods": {}, "hosts": {}, "total": 0, "health": 0,
         "log": [], "probes": [], "health_fail": False, "status": 200, "action": "normal",
         "logfile": None, "health_delay": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pool_origin/1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="text/plain", cc=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if cc:
            self.send_header("Cache-Control", cc)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_content(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def control(self, path, q):
        arg = lambda k, d=None: q.get(k, [d])[0]
        if path == "/__count":
            with lock:
                body = {k: state[k] for k in ("id", "total", "health")}
                for k in ("targets", "methods", "hosts"):
                    body[k] = dict(state[k])
            self.reply(200, json.dumps(body).encode(), "application/json")
        elif path == "/__log":
            with lock:
                body = json.dumps(state["log"]).encode()
            self.reply(200, body, "application/json")
        elif path == "/__probes":
            with lock:
                body = json.dumps(state["probes"]).encode()
            self.reply(200, body, "application/json")
        elif path == "/__health":
            if "fail" in q or "delay" not in q:
                state["health_fail"] = arg("fail", "1") == "1"
            if "delay" in q:
                state["health_delay"] = int(arg("delay")) / 1000
            self.reply(200, b"health_fail=%d\n" % state["health_fail"])
        elif path == "/__mode":
            if arg("status"):
                state["status"] = int(arg("status"))
            if arg("action"):
                state["action"] = arg("action")
            self.reply(200, json.dumps({"status": state["status"],
                                        "action": state["action"]}).encode(),
                       "application/json")
        else:
            self.reply(404, b"unknown control path\n")

    def reset(self):
        """Drops the connection with a TCP reset, as a crashing server would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        self.read_content()
        if url.path.startswith("/__"):
            return self.control(url.path, q)
        if url.path == "/healthz":
            with lock:
                state["health"] += 1
                state["probes"].append(time.time())
            time.sleep(state["health_delay"])
            return self.reply(503 if state["health_fail"] else 200,
                              b"failing\n" if state["health_fail"] else b"ok\n")
        now = time.time()
        with lock:
            state["total"] += 1
            for k, v in (("targets", self.path), ("methods", self.command),
                         ("hosts", self.headers.get("Host", ""))):
                state[k][v] = state[k].get(v, 0) + 1
            state["log"].append([now, self.command, self.path])
            if state["logfile"]:
                state["logfile"].write("%.6f %s %s\n" % (now, self.command, self.path))
                state["logfile"].flush()
        if state["action"] == "reset":
            return self.reset()
        if state["action"] == "hang":
            time.sleep(60)
            return self.reset()
        time.sleep(int(q.get("delay", ["0"])[0]) / 1000)
        body = ("id=%s path=%s\n" % (state["id"], self.path)).encode()
        size = int(q.get("size", ["0"])[0])
        body += b"." * max(0, size - len(body))
        self.reply(state["status"], body, cc=q.get("cc", ["no-store"])[0])

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = handle_any

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # SO_REUSEADDR: the port again at once after a kill
    request_queue_size = 4096


def main():
    ap = argparse.ArgumentParser(description="one server of an upstream pool, for tests")
    ap.add_argument("--id", required=True, help="the name every body carries")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append each counted request's arrival here")
    args = ap.parse_args()
    state["id"] = args.id
    if args.log:
        state["logfile"] = open(args.log, "a")
    srv = Server(("127.0.0.1", args.port), Handler)
    print("origin listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
