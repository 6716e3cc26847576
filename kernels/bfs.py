"""Bit-parallel multi-source breadth-first search (Then et al., VLDB 2015) on an unweighted CSR graph.

Sixty-four consecutive sources share one machine word per node: bit b of seen[v] says that source
s0 + b has reached v.  Each level is expanded top-down (push from the frontier) or bottom-up (pull into
the unfinished nodes), whichever touches fewer edges (Beamer et al., SC 2012).  Consecutive sources
should be near each other in the graph (the caller relabels nodes in reverse Cuthill-McKee order), so
their frontiers overlap and one word serves all 64 at once.

Because the graph is undirected, d(s, v) = d(v, s): the sum of distances from every source is
accumulated at the *reached* node, which gives every node's geodesic sum without per-source counters.
Batches are independent work items: `multi_source_bfs` hands them to threads with
ricci_fast._parallel (no prange: see that module), each thread with its own scratch and integer partial
sums, added at the end, so results do not depend on the thread count.  Every batch writes its own target
distances and group totals.
"""

import numpy as np
from numba import njit

from ricci_fast._parallel import parallel_for

from ricci_fast.kernels._bits import ONE, as_kernel_array, find_sorted, lowest_bit_index, popcount

WORD_BITS = 64
#: Machine words per node and batch: WORDS x 64 sources share one pass over the graph.
WORDS = 4
AUTO = 0
TOP_DOWN = 1
BOTTOM_UP = 2

_ONE = ONE
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def bfs_batches_range(indptr, indices, sources, want_sums, t_indptr, t_indices, direction, batch_start,
                      batch_stop, seen, frontier, incoming, target_mask, queued, current, following, sums,
                      target_dist, group_totals):
    """Batches batch_start..batch_stop-1 of `multi_source_bfs` (batch b: sources[b B: b B + B], B =
    WORDS x 64).  seen, frontier, incoming, target_mask ((N, WORDS) uint64), queued (N bool), current,
    following (N int32) are one thread's scratch, zero / False on entry and left so; sums (N int64,
    or length 1 without want_sums) is that thread's partial sums; target_dist and group_totals are
    shared (each batch writes only its own entries).  Clears `seen` by a pass over all nodes after each
    batch; bfs_batches_touched clears only the nodes the batch reached."""
    bfs_batches_touched(indptr, indices, sources, want_sums, t_indptr, t_indices, direction, batch_start,
                        batch_stop, seen, frontier, incoming, target_mask, queued, current, following, sums,
                        target_dist, group_totals, np.zeros(0, np.int32))


@njit(cache=True, nogil=True)
def bfs_batches_touched(indptr, indices, sources, want_sums, t_indptr, t_indices, direction, batch_start,
                        batch_stop, seen, frontier, incoming, target_mask, queued, current, following, sums,
                        target_dist, group_totals, touched):
    """bfs_batches_range with `touched` (N int32 scratch, or length 0): the nodes each batch reaches are
    listed there and only they are cleared afterwards.  With targets only (no sums) a batch stops as
    soon as every target of its sources is found, usually a few hops out; without the list, clearing
    `seen` over all N nodes after every batch of 256 sources made the former-neighbour distances
    O(N^2 / 256) whatever the distances (the early stop then saves little at N = 10^6)."""
    track = touched.shape[0] > 0
    n_nodes = indptr.shape[0] - 1
    n_arcs = indptr[n_nodes]
    batch_size = WORDS * WORD_BITS
    n_sources = sources.shape[0]
    batch_mask = np.empty(WORDS, np.uint64)
    acc = np.empty(WORDS, np.uint64)
    need = np.empty(WORDS, np.uint64)
    for batch in range(batch_start, batch_stop):
        s0 = batch * batch_size
        s1 = min(n_sources, s0 + batch_size)
        for w in range(WORDS):
            lo = s0 + w * WORD_BITS
            width = min(max(s1 - lo, 0), WORD_BITS)
            batch_mask[w] = _ALL if width == WORD_BITS else (_ONE << np.uint64(width)) - _ONE
        targets_left = 0
        for idx in range(s0, s1):
            targets_left += t_indptr[sources[idx] + 1] - t_indptr[sources[idx]]
        n_current = 0
        n_touched = 0
        frontier_arcs = 0
        for idx in range(s0, s1):
            s = sources[idx]
            w = (idx - s0) // WORD_BITS
            bit = _ONE << np.uint64((idx - s0) % WORD_BITS)
            if track:
                new_node = True
                for v in range(WORDS):
                    if seen[s, v] != 0:
                        new_node = False
                if new_node:
                    touched[n_touched] = s
                    n_touched += 1
            seen[s, w] |= bit
            frontier[s, w] |= bit
            current[n_current] = s
            n_current += 1
            frontier_arcs += indptr[s + 1] - indptr[s]
            for q in range(t_indptr[s], t_indptr[s + 1]):
                target_mask[t_indices[q], w] |= bit
        level = 0
        while n_current > 0 and (want_sums or targets_left > 0):
            level += 1
            n_following = 0
            bottom_up = direction == BOTTOM_UP or (direction == AUTO and 8 * frontier_arcs > n_arcs)
            if bottom_up:
                for u in range(n_nodes):
                    missing = np.uint64(0)
                    for w in range(WORDS):
                        need[w] = batch_mask[w] & ~seen[u, w]
                        acc[w] = np.uint64(0)
                        missing |= need[w]
                    if missing == 0:
                        continue
                    for q in range(indptr[u], indptr[u + 1]):
                        v = indices[q]
                        short = np.uint64(0)
                        for w in range(WORDS):
                            acc[w] |= frontier[v, w]
                            short |= need[w] & ~acc[w]
                        if short == 0:
                            break
                    found = np.uint64(0)
                    for w in range(WORDS):
                        acc[w] &= need[w]
                        found |= acc[w]
                    if found != 0:
                        for w in range(WORDS):
                            incoming[u, w] = acc[w]
                        following[n_following] = u
                        n_following += 1
            else:
                for c in range(n_current):
                    v = current[c]
                    for q in range(indptr[v], indptr[v + 1]):
                        u = indices[q]
                        added = np.uint64(0)
                        for w in range(WORDS):
                            add = frontier[v, w] & ~seen[u, w]
                            incoming[u, w] |= add
                            added |= add
                        if added != 0 and not queued[u]:
                            queued[u] = True
                            following[n_following] = u
                            n_following += 1
            for c in range(n_current):
                for w in range(WORDS):
                    frontier[current[c], w] = np.uint64(0)
            frontier_arcs = 0
            for c in range(n_following):
                u = following[c]
                queued[u] = False
                if track:
                    new_node = True
                    for w in range(WORDS):
                        if seen[u, w] != 0:
                            new_node = False
                    if new_node:
                        touched[n_touched] = u
                        n_touched += 1
                reached = 0
                for w in range(WORDS):
                    bits = incoming[u, w]
                    incoming[u, w] = np.uint64(0)
                    seen[u, w] |= bits
                    frontier[u, w] = bits
                    arrived = popcount(bits)
                    reached += arrived
                    group_totals[batch * WORDS + w] += level * arrived
                    hits = bits & target_mask[u, w]
                    while hits != 0:
                        b = lowest_bit_index(hits)
                        hits &= hits - _ONE
                        s = sources[s0 + w * WORD_BITS + b]
                        pos = find_sorted(t_indices, t_indptr[s], t_indptr[s + 1], u)
                        target_dist[pos] = level
                        targets_left -= 1
                frontier_arcs += indptr[u + 1] - indptr[u]
                if want_sums:
                    sums[u] += level * reached
            tmp = current
            current = following
            following = tmp
            n_current = n_following
        # reset the scratch this batch touched
        for c in range(n_current):
            for w in range(WORDS):
                frontier[current[c], w] = np.uint64(0)
        if track:
            for c in range(n_touched):
                for w in range(WORDS):
                    seen[touched[c], w] = np.uint64(0)
        else:
            for u in range(n_nodes):
                for w in range(WORDS):
                    seen[u, w] = np.uint64(0)
        for idx in range(s0, s1):
            s = sources[idx]
            w = (idx - s0) // WORD_BITS
            for q in range(t_indptr[s], t_indptr[s + 1]):
                target_mask[t_indices[q], w] = np.uint64(0)


def bfs_scratch(n_nodes, want_sums):
    """One thread's scratch for bfs_batches_range (a list: seen, frontier, incoming, target_mask, queued,
    current, following, sums)."""
    return [np.zeros((n_nodes, WORDS), np.uint64), np.zeros((n_nodes, WORDS), np.uint64),
            np.zeros((n_nodes, WORDS), np.uint64), np.zeros((n_nodes, WORDS), np.uint64),
            np.zeros(n_nodes, np.bool_), np.zeros(n_nodes, np.int32), np.zeros(n_nodes, np.int32),
            np.zeros(n_nodes if want_sums else 1, np.int64)]


def multi_source_bfs(indptr, indices, sources, want_sums, t_indptr, t_indices, direction, n_threads=None,
                     on_batches=None):
    """Hop distances from the given sources, batched WORDS x 64 sources at a time.

    indptr, indices: the graph (int64 / int32, sorted rows).  sources: int64 source nodes, taken in this
    order (pass consecutive ids of a locality-preserving order for speed).  want_sums: accumulate, at
    every node v, the sum of d(s, v) over the sources s that reach it (with every node a source, v's
    geodesic sum).  Targets: row s of (t_indptr, t_indices), sorted, lists nodes whose distance from
    source s is wanted; the result is aligned with t_indices (-1 where unreachable or s is not a
    source).  When only targets are wanted a batch stops as soon as all its targets are found.
    direction: AUTO, TOP_DOWN or BOTTOM_UP (the last two force one strategy, for testing).  n_threads:
    None for ricci_fast._parallel.get_num_threads().  on_batches(n_sources_done) is called after each
    batch (from any thread), for progress bars.

    Returns (sums (N,) int64, target distances int32, group totals int64): group g holds the sum of
    G(s) = sum over reached v of d(s, v) for sources[64 g: 64 g + 64] (for sampling error bars).
    """
    indptr = as_kernel_array(indptr, np.int64)
    indices = as_kernel_array(indices, np.int32)
    sources = as_kernel_array(sources, np.int64)
    t_indptr = as_kernel_array(t_indptr, np.int64)
    t_indices = as_kernel_array(t_indices, np.int32)
    want_sums = bool(want_sums)
    direction = int(direction)
    n_nodes = indptr.shape[0] - 1
    batch_size = WORDS * WORD_BITS
    n_sources = sources.shape[0]
    n_batches = (n_sources + batch_size - 1) // batch_size
    target_dist = np.full(t_indices.shape[0], -1, np.int32)
    group_totals = np.zeros(n_batches * WORDS, np.int64)
    states = []

    def scratch():
        # without sums a batch reaches few nodes (it stops when its targets are found): clear only those
        state = bfs_scratch(n_nodes, want_sums) + [np.zeros(0 if want_sums else n_nodes, np.int32)]
        states.append(state)  # list.append is atomic: the partial sums are added up below
        return state

    def work(start, stop, state):
        bfs_batches_touched(indptr, indices, sources, want_sums, t_indptr, t_indices, direction, start, stop,
                            *state[:8], target_dist, group_totals, state[8])
        if on_batches is not None:
            on_batches(min(stop * batch_size, n_sources) - start * batch_size)

    # one batch per chunk: a batch is a whole pass over the graph, so a thread on a busy core simply
    # takes fewer of them
    parallel_for(n_batches, work, n_threads=n_threads, chunk=1, scratch=scratch)
    total = np.zeros(n_nodes, np.int64)
    if want_sums:
        for state in states:
            total += state[7]
    return total, target_dist, group_totals
