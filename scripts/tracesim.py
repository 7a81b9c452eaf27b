"""tracesim: the trace scripts/trace_bench replays, and the caches it is compared with,
simulated on it (standard library only).

trace(): a reproducible request trace (seeded): popular keys drawn with Zipf(alpha)
popularity, a share of one-hit wonders (keys asked once, never again) mixed in, and in
the middle a scan of keys each asked once; every key has a size drawn once from a
bounded lognormal. Keys are integers: popular keys 0..keys-1 by rank (0 the most asked),
one-hit wonders and scan keys above them.

Lru and S3Fifo charge each object what sfproxy's cache would (charge(size), which the
bench measures from the binary itself) against the same byte limit. S3Fifo mirrors
lib/evict.c, so that the bench can show the simulated policy beside the binary."""
import bisect
import math
import random
from collections import OrderedDict, deque

# lib/evict.h's SF_EVICT_MAX_STEPS: the moves one eviction may make before it takes main's
# oldest whatever its count.
MAX_STEPS = 64


def trace(requests, keys, alpha=0.9, one_hit_share=0.2, scan_keys=None, seed=23,
          size_median=4096, size_sigma=1.3, size_min=1024, size_max=1 << 20):
    """(keys_in_order, sizes by key, scan_start, scan_end): requests requests (the scan's
    included), scan_keys (default keys // 5) of them a scan in the middle."""
    rnd = random.Random(seed)
    scan_keys = keys // 5 if scan_keys is None else scan_keys
    weights = [1.0 / (i + 1) ** alpha for i in range(keys)]
    cum = []
    s = 0.0
    for w in weights:
        s += w
        cum.append(s)
    body = requests - scan_keys
    out = []
    next_key = keys
    for _ in range(body):
        if rnd.random() < one_hit_share:
            out.append(next_key)
            next_key += 1
        else:
            out.append(bisect.bisect_left(cum, rnd.random() * s))
    scan_start = body // 2
    scan = list(range(next_key, next_key + scan_keys))
    next_key += scan_keys
    out[scan_start:scan_start] = scan
    sizes = {}
    srnd = random.Random(seed + 1)
    mu = math.log(size_median)
    for k in range(next_key):
        sizes[k] = int(min(size_max, max(size_min, srnd.lognormvariate(mu, size_sigma))))
    return out, sizes, scan_start, scan_start + scan_keys


class Lru:
    """An exact LRU by bytes."""

    def __init__(self, max_bytes):
        self.max, self.bytes, self.d = max_bytes, 0, OrderedDict()

    def get(self, key, charge):
        """True on a hit; a miss stores key (charged charge), evicting the least recent."""
        d = self.d
        if key in d:
            d.move_to_end(key)
            return True
        if charge > self.max:
            return False
        d[key] = charge
        self.bytes += charge
        while self.bytes > self.max:
            _, c = d.popitem(last=False)
            self.bytes -= c
        return False


class S3Fifo:
    """S3-FIFO by bytes (Yang et al., SOSP 2023) as lib/evict.c keeps it: a small FIFO
    (a tenth of the bytes, SF_EVICT_SMALL_SHARE) that new keys enter, a main FIFO that those asked again
    while in small, and keys the ghost remembers, enter; a 2-bit frequency per object, a
    hit only counts; main reinserts what was asked since it last passed (the count less
    one); small keeps its newest object while main can give; a ghost of the keys evicted
    from small, as many as the cache holds objects (at least 256)."""

    def __init__(self, max_bytes):
        self.max = max_bytes
        self.small_target = max_bytes // 10
        self.small, self.main = deque(), deque()  # [key, charge, freq]
        self.where = {}  # key -> [key, charge, freq, queue]
        self.small_bytes = self.main_bytes = 0
        self.ghost, self.ghost_set = deque(), {}
        self.evicted_small = self.evicted_main = self.ghost_hits = 0

    def get(self, key, charge):
        e = self.where.get(key)
        if e is not None:
            e[2] = min(e[2] + 1, 3)
            return True
        if charge > self.max:
            return False
        in_ghost = self.ghost_set.pop(key, None) is not None
        if in_ghost:
            self.ghost_hits += 1
        e = [key, charge, 0, 'm' if in_ghost else 's']
        self.where[key] = e
        if in_ghost:
            self.main.append(e)
            self.main_bytes += charge
        else:
            self.small.append(e)
            self.small_bytes += charge
        while self.small_bytes + self.main_bytes > self.max:
            self.evict()
        return False

    def remember(self, key):
        self.ghost.append(key)
        self.ghost_set[key] = self.ghost_set.get(key, 0) + 1
        while len(self.ghost) > max(len(self.where), 256):
            old = self.ghost.popleft()
            n = self.ghost_set.get(old)
            if n is not None:
                if n <= 1:
                    del self.ghost_set[old]
                else:
                    self.ghost_set[old] = n - 1

    def evict(self):
        """One victim, as sf_evict_victim: at most MAX_STEPS moves on the way."""
        steps = MAX_STEPS
        while self.small and steps > 0 and (
                not self.main or (self.small_bytes > self.small_target and len(self.small) > 1)):
            e = self.small.popleft()
            self.small_bytes -= e[1]
            if e[2] >= 1:
                e[2] = 0
                e[3] = 'm'
                self.main.append(e)
                self.main_bytes += e[1]
                steps -= 1
                continue
            del self.where[e[0]]
            self.evicted_small += 1
            self.remember(e[0])
            return
        while True:
            e = self.main.popleft()
            self.main_bytes -= e[1]
            if e[2] > 0 and steps > 0:
                e[2] -= 1
                self.main.append(e)
                self.main_bytes += e[1]
                steps -= 1
                continue
            del self.where[e[0]]
            self.evicted_main += 1
            return


def run(cache, keys, sizes, charge):
    """Replays keys through cache: (fetches, fetched bytes, requested bytes, hit list)."""
    fetches = fetched = asked = 0
    hits = []
    for k in keys:
        s = sizes[k]
        h = cache.get(k, charge(s))
        hits.append(h)
        asked += s
        if not h:
            fetches += 1
            fetched += s
    return fetches, fetched, asked, hits
