"""Inner-product retrieval over item vectors: exact for small catalogs, a faiss IVF-Flat index for large ones.

Scores are inner products, the same dot product the retrieval models score with. Below `exact_below` items a
matrix product over all items is exact and as fast as any index; above, an inverted file scans only the
`nprobe` lists whose centroids are nearest the query.

Filters never lose results. An allowed set no larger than what the IVF probes would scan is searched
exactly; otherwise faiss searches only the allowed ids (an `IDSelectorBitmap`) in up to 1/share times more
lists (so a filter costs little recall), over-fetching by the longest exclusion list, and any query still short
of `k` results is answered by an exact search over the allowed items. So a row has `k` results whenever `k`
allowed, non-excluded items exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.serving.index_arrays import (
    Pairs,
    as_matrix,
    check_int,
    drop_excluded,
    exclusion_pairs,
    pad_rows,
    recall_at_k,
    rows_of,
    top_k_rows,
)
from shoprec.serving.rwlock import ReadWriteLock

#: IVF k-means trains on a seeded sample of at most TRAIN_SAMPLE vectors and TRAIN_PER_LIST per list, for
#: KMEANS_ITERATIONS rounds: centroids good enough to route queries, fitted in seconds on 2 cores.
TRAIN_SAMPLE, TRAIN_PER_LIST, KMEANS_ITERATIONS = 100_000, 64, 10
#: An allowed set no larger than the vectors one IVF query scans is searched exactly instead (gathering
#: scattered rows costs a few times more per vector than scanning a list, but an exact answer is worth it).
EXACT_SUBSET_FACTOR = 1.0
#: A filter allowing a share s of the items probes min(1/s, FILTER_PROBES) times more lists: the allowed
#: items scored stay about as many as without a filter, while faiss's per-id selector checks stay bounded.
FILTER_PROBES = 8
#: Exact search scores all items and masks the disallowed when more than 1 / DENSE_SHARE of them are allowed.
DENSE_SHARE = 4
#: Exact search works on query chunks whose score matrix stays below this many floats (64 MiB).
SCORE_BLOCK = 1 << 24


def _faiss() -> Any:
    """faiss, imported on first use: it is an optional dependency of the `serve` extra."""
    try:
        import faiss
    except ImportError:  # pragma: no cover - the test environment has the serve extra
        raise ConfigError("the ANN index needs faiss: pip install 'shoprec[serve]'") from None
    return faiss


def default_nlist(n: int) -> int:
    """Inverted lists for `n` vectors: sqrt(n) (1,000 at 1M items), at least 1 and at most n / 39 (faiss wants
    39 training points per centroid). Fewer, longer lists than the textbook 4*sqrt(n) keep the build (k-means
    and assigning every vector cost O(n * nlist * d)) well under a minute on 2 cores."""
    return int(max(1, min(np.sqrt(n), n // 39)))


class ItemIndex:
    """Inner-product search over item vectors, `kind` "exact" (numpy) or "ivf" (faiss IndexIVFFlat).

    Keeps its own (n, d) float32 copy of the vectors for exact search, reconstruction, similar items and MMR.
    Thread-safe: searches run concurrently; an upsert waits for them and blocks new ones while it writes.
    """

    def __init__(self, vectors: np.ndarray, ivf: Any | None, nprobe: int) -> None:
        """Use `build`; this only stores the parts."""
        self._buffer = vectors  # rows >= self._n are spare capacity for upserts
        self._n = len(vectors)
        self._ivf = ivf
        self.nprobe = nprobe
        self._lock = ReadWriteLock()

    @property
    def nprobe(self) -> int:
        """Inverted lists an unfiltered query scans (a filtered one scans more, see FILTER_PROBES)."""
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        check_int("nprobe", value, 1)
        self._nprobe = value
        if self._ivf is not None:
            self._ivf.nprobe = value

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        *,
        exact_below: int = 100_000,
        nlist: int | None = None,
        nprobe: int = 16,
        seed: int = 0,
    ) -> ItemIndex:
        """Index `vectors` (n, d): exact when n < exact_below, else IVF-Flat with `nlist` lists (default
        `default_nlist(n)`) trained on a seeded sample of at most TRAIN_SAMPLE vectors. nprobe 16 of 1,000
        lists: recall@10 0.998 at ~1.1 ms CPU per query on 1M vectors in 1,000 gaussian clusters, but 0.52 in
        10,000 diffuse ones (benchmarks/results/index.jsonl); raise nprobe for less clustered embeddings."""
        vectors = as_matrix(vectors, "vectors", copy=True)
        check_int("exact_below", exact_below, 0)
        check_int("nprobe", nprobe, 1)
        check_int("nlist", 1 if nlist is None else nlist, 1)
        n, dim = vectors.shape
        if n < max(exact_below, 1):
            return cls(vectors, None, nprobe)
        faiss = _faiss()
        nlist = min(nlist or default_nlist(n), n)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed, ivf.cp.niter = seed, KMEANS_ITERATIONS
        ivf.cp.spherical = True  # unit centroids: routing by inner product then favours no list for its norm
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # so upserts remove an id without a full scan
        rng = np.random.default_rng(seed)
        size = min(TRAIN_SAMPLE, TRAIN_PER_LIST * nlist)
        sample = vectors if n <= size else vectors[np.sort(rng.choice(n, size, replace=False))]
        ivf.train(sample)
        ivf.add_with_ids(vectors, np.arange(n, dtype=np.int64))
        return cls(vectors, ivf, nprobe)

    def calibrate(self, queries: np.ndarray, *, target_recall: float = 0.95, k: int = 10) -> float:
        """Set `nprobe` to the smallest power of two (at most all lists) whose recall@k against exact search on
        `queries` (b, d) reaches `target_recall`, and return the recall reached there.

        How many lists a query needs depends on how clustered the vectors are (nprobe 16 of 1,000 lists finds
        99.8% of the top 10 in tight clusters, 52% in diffuse ones), so the served setting is measured on the
        model's own vectors at load time rather than assumed. An exact index is exact: 1.0, nothing changes."""
        if not 0.0 < target_recall <= 1.0:
            raise ConfigError(f"target_recall must be in (0, 1], got {target_recall!r}")
        queries = as_matrix(queries, "queries", self.dim)
        if self._ivf is None or len(queries) == 0:
            return 1.0
        exact, _ = self.exact_search(queries, k)
        nprobe = 1
        while True:
            self.nprobe = nprobe
            recall = recall_at_k(self.search(queries, k)[0], exact)
            if recall >= target_recall or nprobe >= self.nlist:
                return recall
            nprobe = min(2 * nprobe, self.nlist)

    @property
    def size(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return self._buffer.shape[1]

    @property
    def kind(self) -> str:
        return "exact" if self._ivf is None else "ivf"

    @property
    def nlist(self) -> int | None:
        """Inverted lists of the IVF index; None for an exact index."""
        return None if self._ivf is None else int(self._ivf.nlist)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: list[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items by inner product for queries (b, d), only `allowed` ((n,) bool) items and never a
        query's `exclude` items. Returns (b, k) int64 item indices (-1 padded) and float32 scores (-inf)."""
        return self._search(queries, k, allowed, exclude, approximate=True)

    def exact_search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: list[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`search` by brute force over every allowed item: the reference ANN recall is measured against."""
        return self._search(queries, k, allowed, exclude, approximate=False)

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the vectors of existing ids and append new ids, which must be size, size+1, ... (any order).
        Searchable as soon as this returns; an old vector of a replaced id is never found again."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = as_matrix(vectors, "vectors", self.dim)
        if len(ids) != len(vectors):
            raise ConfigError(f"ids has {len(ids)} entries but vectors has {len(vectors)} rows")
        with self._lock.write():
            new = np.sort(ids[ids >= self._n])
            if len(np.unique(ids)) != len(ids) or ids.min(initial=0) < 0:
                raise ConfigError("ids must be distinct item indices >= 0")
            if not np.array_equal(new, np.arange(self._n, self._n + len(new))):
                raise ConfigError(f"new ids must continue the index: expected {self._n}, {self._n + 1}, ...")
            self._reserve(self._n + len(new))
            self._buffer[ids] = vectors
            if self._ivf is not None:
                if (ids < self._n).any():
                    self._ivf.remove_ids(ids[ids < self._n])
                self._ivf.add_with_ids(vectors, ids)
            self._n += len(new)

    def vectors(self, ids: np.ndarray | None = None) -> np.ndarray:
        """(len(ids), d) copies of item vectors; all of them as a read-only view when ids is None (a later
        upsert that grows the index is not seen by an earlier view)."""
        with self._lock.read():
            if ids is None:
                view = self._buffer[: self._n]
                view.flags.writeable = False
                return view
            ids = np.asarray(ids, dtype=np.int64)
            if ids.size and (ids.min() < 0 or ids.max() >= self._n):
                raise ConfigError(f"ids must be item indices in 0..{self._n - 1}")
            return self._buffer[ids]

    def _search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        exclude: list[np.ndarray] | None,
        *,
        approximate: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        with self._lock.read():
            queries, allowed, excluded = self._check(queries, k, allowed, exclude)
            few = (
                allowed is not None
                and self._ivf is not None
                and np.count_nonzero(allowed) <= EXACT_SUBSET_FACTOR * self._scanned()
            )
            if approximate and self._ivf is not None and not few:
                return self._approximate(queries, k, allowed, excluded)
            return self._exact(queries, k, allowed, excluded)

    def _check(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None, exclude: list[np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray | None, Pairs]:
        """Validated queries and allowed mask, and the exclusions as (query row, item) pairs."""
        queries = as_matrix(queries, "queries", self.dim)
        check_int("k", k, 1)
        if allowed is not None:
            allowed = np.asarray(allowed)
            if allowed.dtype != np.bool_ or allowed.shape != (self._n,):
                raise ConfigError(
                    f"allowed must be a bool array of shape ({self._n},), got {allowed.dtype} {allowed.shape}"
                )
        if exclude is not None and len(exclude) != len(queries):
            raise ConfigError(f"exclude must hold one array per query ({len(queries)}), got {len(exclude)}")
        excluded = exclusion_pairs(exclude)
        items = excluded[1]
        if items.size and (items.min() < 0 or items.max() >= self._n):
            raise ConfigError(f"exclude must hold item indices in 0..{self._n - 1}")
        return queries, allowed, excluded

    def _scanned(self) -> float:
        """About how many vectors one IVF query scans."""
        return self._n * min(self.nprobe, self._ivf.nlist) / self._ivf.nlist

    def _exact(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None, excluded: Pairs
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the allowed items (all when None), in query chunks of bounded memory. A small allowed
        set is gathered and scored alone; a large one is cheaper to score in place and mask."""
        dense = allowed is not None and np.count_nonzero(allowed) * DENSE_SHARE > self._n
        candidates = None if allowed is None or dense else np.flatnonzero(allowed)
        base = self._buffer[: self._n] if candidates is None else self._buffer[candidates]
        ex_rows, ex_items = excluded
        if candidates is not None:  # exclusions as positions among the candidates
            pos = np.searchsorted(candidates, ex_items).clip(0, max(len(candidates) - 1, 0))
            keep = candidates[pos] == ex_items if len(candidates) else np.zeros(len(ex_items), bool)
            ex_rows, ex_items = ex_rows[keep], pos[keep]
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        step = max(1, SCORE_BLOCK // max(len(base), 1))
        for start in range(0, len(queries) if len(base) else 0, step):
            block = queries[start : start + step] @ base.T
            in_block = (ex_rows >= start) & (ex_rows < start + len(block))
            block[ex_rows[in_block] - start, ex_items[in_block]] = -np.inf
            if dense:
                block[:, ~allowed] = -np.inf
            pos, top = top_k_rows(block, k)
            found = pos >= 0
            chosen = pos if candidates is None else candidates[pos.clip(0)]
            ids[start : start + step] = np.where(found, chosen, -1)
            scores[start : start + step] = top
        return ids, scores

    def _approximate(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None, excluded: Pairs
    ) -> tuple[np.ndarray, np.ndarray]:
        """IVF search restricted to allowed ids, over-fetching for exclusions; short rows fall back to exact.

        The unfiltered search passes no parameters (the index holds nprobe): building faiss parameter objects
        costs as much per query as scanning a list."""
        ex_rows = excluded[0]
        longest = int(np.bincount(ex_rows).max()) if len(ex_rows) else 0
        params = None
        if allowed is not None:
            faiss = _faiss()
            share = np.count_nonzero(allowed) / self._n
            params = faiss.SearchParametersIVF()
            params.nprobe = int(min(self._ivf.nlist, np.ceil(self.nprobe * min(1 / share, FILTER_PROBES))))
            params.sel = faiss.IDSelectorBitmap(np.packbits(allowed, bitorder="little"))
        scores, ids = self._ivf.search(queries, min(k + longest, self._n), params=params)
        if len(ex_rows):
            ids, scores = drop_excluded(ids, scores, excluded, self._n)
        ids, scores = pad_rows(ids[:, :k], scores[:, :k], k)
        scores[ids < 0] = -np.inf
        short = np.flatnonzero(ids[:, -1] < 0)
        if len(short):
            ids[short], scores[short] = self._exact(queries[short], k, allowed, rows_of(excluded, short))
        return ids, scores

    def _reserve(self, rows: int) -> None:
        """Grow the vector buffer geometrically so a stream of single-item upserts costs amortised O(d)."""
        if rows > len(self._buffer):
            grown = np.empty((max(rows, 2 * len(self._buffer)), self.dim), dtype=np.float32)
            grown[: self._n] = self._buffer[: self._n]
            self._buffer = grown
