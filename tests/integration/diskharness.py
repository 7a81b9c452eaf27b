"""diskharness: what the disk tier's tests (t93_disk_*.py, issue 22) share: a store in a
temporary directory, sfproxy started (and started again) on it in front of one origin, the
disk's stats, and a wait until everything stored has been written.

SF_T93_NO_DISK=1 runs the same tests with no cache.disk: each must then fail (that is how
they were checked to be able to fail)."""
import os
import shutil
import signal
import tempfile
import time

from harness import Origin, Proxy, check, eq, request, wait_for

NO_DISK = os.environ.get("SF_T93_NO_DISK") == "1"


def disk_config(path, max_bytes="32MiB", queue_bytes="4MiB", extra=None):
    cfg = {} if NO_DISK else {"disk": {"path": path, "max_bytes": max_bytes,
                                       "queue_bytes": queue_bytes}}
    cfg.update(extra or {})
    return {"cache": cfg}


class DiskEnv:
    """An origin, a store directory, and one sfproxy at a time on them; use with `with`."""

    def __init__(self, cache=None, max_bytes="32MiB", top=None):
        self.dir = tempfile.mkdtemp(prefix="sfproxy-disk-")
        self.cache = cache or {}
        self.top = top or {}  # top-level keys besides "cache" (routes)
        self.max_bytes = max_bytes
        self.origin = Origin()
        self.proxy = None
        try:
            self.start()
        except Exception:
            self.origin.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def config(self):
        return dict(self.top, **disk_config(self.dir, self.max_bytes, extra=self.cache))

    def start(self):
        check(self.proxy is None, "one sfproxy at a time")
        self.proxy = Proxy(self.origin.url, self.config())
        return self.proxy

    def stop(self, sig=signal.SIGTERM):
        code = self.proxy.stop(sig)
        if sig == signal.SIGTERM:
            eq(code, 0, "exit code after SIGTERM (output:\n%s)" % self.proxy.output())
        self.proxy = None

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def get(self, target, headers=None, method="GET", body=None):
        return request(self.proxy.port, method, target, headers, body)

    def disk(self):
        """The stats' "disk" object ({} when there is none)."""
        return self.proxy.stats().get("disk", {})

    def wait_written(self, records):
        """Waits until the store holds at least records and nothing waits for the writer.
        (Without a disk tier, a moment: the checks after it are what must fail.)"""
        if NO_DISK:
            time.sleep(0.5)
            return
        def done():
            d = self.disk()
            return d.get("writes_queued") == 0 and d.get("records", 0) >= records
        wait_for(done, "%d records written to disk (disk stats: %s)" % (records, self.disk()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if self.proxy is not None:
                code = self.proxy.stop()
                if exc[0] is None:
                    eq(code, 0, "exit code after SIGTERM (output:\n%s)" % self.proxy.output())
        finally:
            self.origin.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
