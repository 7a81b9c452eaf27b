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
# lib/evict.h's SF_EVICT_SMALL_SHARE: small's share of the bytes, in percent.
SMALL_SHARE = 30


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


class Ghost:
    """lib/evict.c's ghost, exactly: a ring of keys by sequence number (stale slots
    included: a key taken by a ghost hit, or pushed again later) and the set of the live
    ones; at most cap (a power of two, doubled as the cache grows, keeping only the live
    keys) and trimmed to a limit at most MAX_STEPS slots per push beyond what room needs."""

    def __init__(self, cap=256):
        self.cap, self.pushed, self.n = cap, 0, 0
        self.ring, self.set = {}, {}  # seq -> key; key -> its newest seq

    def take(self, key):
        return self.set.pop(key, None) is not None

    def pop(self):
        seq = self.pushed - self.n
        key = self.ring.pop(seq)
        if self.set.get(key) == seq:
            del self.set[key]
        self.n -= 1

    def push(self, key, limit):
        extra = MAX_STEPS
        while self.n > 0 and (self.n >= self.cap or (self.n >= limit and extra > 0)):
            if self.n < self.cap:
                extra -= 1
            self.pop()
        self.set[key] = self.pushed
        self.ring[self.pushed] = key
        self.pushed += 1
        self.n += 1

    def grow(self):
        live = [self.ring[q] for q in range(self.pushed - self.n, self.pushed)
                if self.set.get(self.ring[q]) == q]
        self.__init__(self.cap * 2)
        for key in live:
            self.push(key, self.cap)


class S3Fifo:
    """lib/evict.c's policy, exactly: S3-FIFO by bytes (Yang et al., SOSP 2023) made
    size-aware. A small part (SMALL_SHARE of the bytes) that new keys enter and a main part
    that those asked again while in small, and keys the ghost remembers, enter; each part
    a FIFO per size class (the charge's bit length). A 2-bit count per object; a hit only
    counts. The victim: from small while small is over its share (and holds more than its
    newest object, which is never chosen while others are there or main can give) or main
    is empty; there,
    each class's oldest asked again moves to main (count cleared), and of the classes'
    oldest the one with the largest charge**4 * age leaves (its key to the ghost). Else
    from main: each class's oldest asked again since it last passed goes round (count less
    one), and the oldest with the largest charge * age leaves. Age: insertions since the
    object entered its queue. At most MAX_STEPS moves per eviction. The ghost: keys
    evicted from small, as many as the cache holds objects (at least 256)."""

    def __init__(self, max_bytes):
        self.max = max_bytes
        self.small_target = max_bytes * SMALL_SHARE // 100
        self.small, self.main = {}, {}  # class -> deque of [key, charge, freq, queue, since]
        self.where = {}
        self.small_bytes = self.main_bytes = 0
        self.nsmall = 0
        self.newest = None
        self.now = 0
        self.ghost = Ghost()
        self.evicted_small = self.evicted_main = self.ghost_hits = 0

    def get(self, key, charge):
        e = self.where.get(key)
        if e is not None:
            e[2] = min(e[2] + 1, 3)
            return True
        if charge > self.max:
            return False
        self.now += 1
        in_ghost = self.ghost.take(key)
        if in_ghost:
            self.ghost_hits += 1
        e = [key, charge, 0, None, 0]
        self.where[key] = e
        self.push(e, 'm' if in_ghost else 's')
        if len(self.where) > self.ghost.cap:
            self.ghost.grow()
        while self.small_bytes + self.main_bytes > self.max:
            self.evict()
        return False

    def push(self, e, queue):
        e[3], e[4] = queue, self.now
        part = self.small if queue == 's' else self.main
        part.setdefault(e[1].bit_length(), deque()).append(e)
        if queue == 's':
            self.small_bytes += e[1]
            self.nsmall += 1
            self.newest = e
        else:
            self.main_bytes += e[1]

    def pop(self, part, cls):
        e = part[cls].popleft()
        if e[3] == 's':
            self.small_bytes -= e[1]
            self.nsmall -= 1
            if self.newest is e:
                self.newest = None
        else:
            self.main_bytes -= e[1]
        return e

    def remember(self, key):
        self.ghost.push(key, max(len(self.where), 256))

    def choose(self, part, power, steps):
        """The class whose oldest leaves (moving or going round those asked again first,
        each a step), as lib/evict.c's pick(): classes in ascending order, ties to the
        lower."""
        best, best_v = None, -1.0
        for cls in sorted(part):
            q = part[cls]
            while q and q[0][2] > 0 and steps[0] > 0:
                e = self.pop(part, cls)
                if e[3] == 's':
                    e[2] = 0
                    self.push(e, 'm')
                else:
                    e[2] -= 1
                    self.push(e, 'm')
                steps[0] -= 1
            if not q or (q[0] is self.newest and (self.nsmall > 1 or any(self.main.values()))):
                continue
            if q[0][3] == 's' and q[0][2] > 0:  # moves spent: not evicted from small
                continue
            c = float(q[0][1])
            v = c * c * c * c if power == 4 else c
            v *= self.now - q[0][4]
            if best is None or v > best_v:
                best, best_v = cls, v
        return best

    def evict(self):
        """One victim, as sf_evict_victim."""
        steps = [MAX_STEPS]
        if self.nsmall > 0 and (self.main_bytes == 0 and not any(self.main.values()) or (
                self.small_bytes > self.small_target and self.nsmall > 1)):
            cls = self.choose(self.small, 4, steps)
            if cls is not None:
                e = self.pop(self.small, cls)
                del self.where[e[0]]
                self.evicted_small += 1
                self.remember(e[0])
                return
        cls = self.choose(self.main, 1, steps)
        e = self.pop(self.main, cls)
        del self.where[e[0]]
        self.evicted_main += 1


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
