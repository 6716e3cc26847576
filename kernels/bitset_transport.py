"""Exact Ollivier-Ricci transport with word-parallel sets, for any degree (docs/definitions.md section 2).

The primal-dual min-cost flow of mincost_flow.py (at most two shortest-path searches, each phase a max
flow on the zero-reduced-cost arcs, and the mass left after paths reach length 3 moves at cost 3), with
the sources as bits of multi-word sets and the sinks looped over: for each sink q, c1[q] / c2[q] are the
sources at hop distance 1 / <= 2 (the rest are at 3), and every scan over sources is W = ceil(#bits / 64)
word operations.  Flows live in per-sink linked lists (an arena), so nothing is quadratic in the degree:
scratch is O(N W + #sinks W) words per problem.

Two ways to build the sets:
- per owner (closed neighbourhoods of up to 64 * max_words nodes): an edge is solved by its end point x of
  larger degree, bit p stands for the p-th member of N[x] (N(x), then x), and the masks "which members of
  N[x] lie in N[w]" and "within 2 hops of w" are built once per x and shared by all of x's edges; sinks are
  the smaller side, so a hub's edges cost O(deg y * W) word operations each;
- per edge (larger hubs): after cancelling shared mass, the smaller of the two sides becomes the bits (W1
  is symmetric, so the sinks may play the sources), and its masks are built for that edge alone.
Kernels never allocate: when a problem needs more scratch than it was given, the range kernel stops at
that node and says how much (Python allocates and resumes there), so an allocation that fails can be
reported with the edge that needed it.
"""

import numpy as np
from numba import njit

from ricci_fast.kernels._bits import bit_at as _bit, bit_count, find_sorted, lowest_bit
from ricci_fast.kernels.transport_problem import edge_problem, sink_cost_masks

_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_ALL = ~np.uint64(0)
_BIG = 1 << 40

STATUS_OK = 0
STATUS_ARENA = 1  # the flow arena is full: grow it and solve the edge again
STATUS_INTERNAL = 2  # an invariant broke (never seen); the caller raises

# layout of the `need` array a range kernel fills when it stops early
NEED_ITEM, NEED_Y, NEED_CLOSED, NEED_CM, NEED_MK, NEED_BINT, NEED_BFLT, NEED_LINT, NEED_LFLT, NEED_ARENA = range(10)
NEED_LEN = 10


def scratch_sizes(n_words, n_sinks):
    """Words of each scratch array that bitset_transport needs (Python mirror of _fits)."""
    return {"cm": 2 * n_sinks * n_words, "mk": (3 * n_sinks + 32) * n_words, "bint": 4 * 64 * n_words,
            "bflt": 2 * 64 * n_words, "lint": 11 * n_sinks + 8, "lflt": n_sinks + 1}


@njit(cache=True, nogil=True)
def _fits(n_words, n_sinks, cm, mk, bint, bflt, lint, lflt, need):
    ok = True
    sizes = (2 * n_sinks * n_words, (3 * n_sinks + 32) * n_words, 4 * 64 * n_words, 2 * 64 * n_words,
             11 * n_sinks + 8, n_sinks + 1)
    have = (cm.shape[0], mk.shape[0], bint.shape[0], bflt.shape[0], lint.shape[0], lflt.shape[0])
    for i in range(6):
        if sizes[i] > have[i]:
            ok = False
        if sizes[i] > need[NEED_CM + i]:
            need[NEED_CM + i] = sizes[i]
    return ok


# compiled once, as a C callback (transport_solvers.py), and passed to the range kernels: not @njit
def bitset_transport(n_words, src_mask, supply, n_snk, demand, c1, c2, mk, bint, bflt, lint, lflt, a_src, a_amt,
                     a_next):
    """Exact min-cost transport: sources are the bits p of src_mask (n_words words) with masses supply[p],
    sinks are 0..n_snk-1 with masses demand[q]; c1[q * n_words + w] / c2[...] are the sources at distance
    1 / <= 2 from sink q (every other source is at 3).  Scratch sizes: see scratch_sizes; a_* is the flow
    arena.  Returns (total cost, status)."""
    W = n_words
    nb = 64 * W
    n = n_snk
    tight = mk[0:n * W]
    fmask = mk[n * W:2 * n * W]
    o = 2 * n * W
    lvl_u = mk[o:o + (n + 2) * W]  # sources first seen at BFS level 2i, i = 0, 1, ...
    o += (n + 2) * W
    bucket = mk[o:o + 4 * W]
    d0 = bucket[2 * W:3 * W]  # sources at distance 0 in the Dijkstra: potential 0 in the second pass
    o += 4 * W
    rs_mask = mk[o:o + W]
    done_u = mk[o + W:o + 2 * W]
    seen_u = mk[o + 2 * W:o + 3 * W]
    frontier = mk[o + 3 * W:o + 4 * W]
    new_u = mk[o + 4 * W:o + 5 * W]
    rs = bflt[0:nb]
    ptr_u = bint[2 * nb:3 * nb]
    fwl = bint[3 * nb:3 * nb + W]  # the nonzero words of the frontier: frontiers are usually a few bits
    rd = lflt[0:n]
    ulist = lint[0:n]  # the sinks a BFS has not labelled yet, in increasing order
    tent_v = lint[n:2 * n]
    done_v = lint[2 * n:3 * n]
    level_v = lint[3 * n:4 * n]
    alive_v = lint[4 * n:5 * n]
    vlist = lint[5 * n:6 * n]
    head = lint[6 * n:7 * n]
    voff = lint[7 * n:8 * n + 2]
    stack = lint[8 * n + 2:10 * n + 5]
    cap = a_src.shape[0]
    n_arena = 0
    # the cost of the flow, summed as it is placed (each push's arc cost, each augmenting path's cost:
    # forward arcs minus backward arcs) rather than over the arena at the end (a tenth of the time).  The
    # masses are scaled by deg x * deg y (transport_problem): for alpha = 0 (and alpha * dx * dy whole)
    # they are integers and the sum is exact in any order; otherwise the two sums differ by rounding only
    cost = 0.0

    for w in range(W):
        rs_mask[w] = src_mask[w]
        m = src_mask[w]
        while m:
            p = w * 64 + lowest_bit(m)
            m &= m - _ONE
            rs[p] = supply[p]
    n_live = 0  # sinks with demand left: none left ends the solve (no search can find a path then)
    for q in range(n):
        rd[q] = demand[q]
        if rd[q] > 0:
            n_live += 1
        head[q] = -1
        for w in range(W):
            fmask[q * W + w] = _ZERO

    first = True
    closure = False  # see the Dijkstra below
    path_length = 1
    passes = 0
    while True:
        any_rs = False
        for w in range(W):
            if rs_mask[w]:
                any_rs = True
        if not any_rs or n_live == 0:
            break
        passes += 1
        if passes > 3:
            return 0.0, STATUS_INTERNAL
        if not first:
            # Dijkstra over reduced costs, sources as word sets, sinks by tentative level.  It runs once, right
            # after the cost-1 max flow, so the potentials are still pi_u = 0, pi_v = 1: a forward arc's
            # reduced cost is its cost - 1 (flow sits on cost-1 arcs only, so backward arcs cost 0), and
            # only levels 0 and 1 matter: a shortest path of length >= 3 (reach >= 2) ends the search
            # exactly as no path at all does (the rest moves at cost 3).  So the search that is used has
            # reach 1, and the potentials it leaves are pi_u = 0 on d0 (the sources at distance 0), 1 on
            # the other sources, pi_v = 1 on the sinks at distance 0 and 2 on the others: two masks, not a
            # table of potentials.
            for i in range(3 * W):
                bucket[i] = _ZERO
            reach = -1
            level0 = 0
            if closure:
                # the last (failed) search of the cost-1 phase ended with exactly level 0's closure: the
                # sources it reached and the sinks it labelled; only the cost-2 arcs out of it are left
                for w in range(W):
                    done_u[w] = seen_u[w]
                    d0[w] = seen_u[w]
                for q in range(n):
                    if level_v[q] > 0:
                        tent_v[q] = 0
                        done_v[q] = 1
                    else:
                        done_v[q] = 0
                        tent_v[q] = _BIG
                        for w in range(W):
                            if c2[q * W + w] & done_u[w]:
                                tent_v[q] = 1
                                break
                level0 = 1
            else:
                for w in range(W):
                    done_u[w] = _ZERO
                    bucket[w] = rs_mask[w]
                for q in range(n):
                    tent_v[q] = _BIG
                    done_v[q] = 0
            for level in range(level0, 2):
                while True:
                    any_fu = False
                    for w in range(W):
                        fw = bucket[level * W + w] & ~done_u[w]
                        frontier[w] = fw
                        if fw:
                            any_fu = True
                    any_fv = False
                    for q in range(n):
                        if done_v[q] == 0 and tent_v[q] == level:
                            any_fv = True
                            break
                    if not any_fu and not any_fv:
                        break
                    if any_fu:
                        for w in range(W):
                            done_u[w] |= frontier[w]
                            if level == 0:
                                d0[w] |= frontier[w]
                        nfw = 0
                        for w in range(W):
                            if frontier[w]:
                                fwl[nfw] = w
                                nfw += 1
                        for q in range(n):
                            if done_v[q] or tent_v[q] <= level:
                                continue
                            # reduced cost 0: a cost-1 arc from the frontier; 1: a cost-2 arc (from level 0 only)
                            h1 = _ZERO
                            h2 = _ZERO
                            for t in range(nfw):
                                w = fwl[t]
                                h1 |= c1[q * W + w] & frontier[w]
                                h2 |= c2[q * W + w] & frontier[w]
                            if h1:
                                tent_v[q] = level
                            elif h2 and level == 0:
                                tent_v[q] = 1
                    if any_fv:
                        for w in range(W):
                            new_u[w] = _ZERO
                        for q in range(n):
                            if done_v[q] == 0 and tent_v[q] == level:
                                done_v[q] = 1
                                if rd[q] > 0:
                                    reach = level
                                for w in range(W):
                                    new_u[w] |= fmask[q * W + w]
                        if reach >= 0:
                            break
                        # backward arcs carry flow, so their reduced cost is 0
                        for w in range(W):
                            bucket[level * W + w] |= new_u[w] & ~done_u[w]
                if reach >= 0:
                    break
            if reach < 0:
                break  # no path of length <= 2 is left: the rest moves at cost 3 (or is a rounding residue)
            if reach == 0:
                return 0.0, STATUS_INTERNAL  # the previous max flow was not maximal
            path_length += reach
        if first:  # pi_u = 0, pi_v = 1: the tight arcs are the cost-1 arcs
            for q in range(n):
                for w in range(W):
                    tight[q * W + w] = c1[q * W + w] & src_mask[w]
        else:
            # reduced cost cost + pi_u - pi_v = 0: a sink at distance 0 (pi_v = 1) takes cost-1 arcs from
            # d0; one at distance 1 (pi_v = 2) cost-1 arcs from the other sources and cost-2 arcs from d0
            for q in range(n):
                if done_v[q] and tent_v[q] < 1:
                    for w in range(W):
                        tight[q * W + w] = c1[q * W + w] & d0[w]
                else:
                    for w in range(W):
                        c1w = c1[q * W + w]
                        tight[q * W + w] = ((c1w & ~d0[w]) | (c2[q * W + w] & ~c1w & d0[w])) & src_mask[w]
        # direct pushes along tight arcs, the sinks with the fewest tight sources first (fewer conflicts
        # left for the augmenting paths)
        max_cnt = 0
        for q in range(n):
            cnt = 0
            if rd[q] > 0:
                for w in range(W):
                    cnt += bit_count(tight[q * W + w] & rs_mask[w])
            tent_v[q] = cnt
            if cnt > max_cnt:
                max_cnt = cnt
        if n <= 512:
            # a stable counting sort by count (the order of the stable insertion sort it replaced); the
            # counts are at most 64 W, so their histogram fits in bint from ptr_u on (ptr_u, fwl and the
            # unused tail: 2 * 64 W slots, free between the Dijkstra and the Dinic rounds)
            hist = bint[2 * nb:2 * nb + max_cnt + 2]
            for i in range(max_cnt + 2):
                hist[i] = 0
            for q in range(n):
                hist[tent_v[q] + 1] += 1
            for i in range(1, max_cnt + 2):
                hist[i] += hist[i - 1]
            for q in range(n):
                c = tent_v[q]
                vlist[hist[c]] = q
                hist[c] += 1
        else:
            for q in range(n):
                vlist[q] = q
        # (the masses and mask words of the sink at hand are kept in locals: through the arrays, which may
        # alias for the compiler, every push reloaded and stored them)
        for qi in range(n):
            q = vlist[qi]
            rq = rd[q]
            if rq <= 0:
                continue
            for w in range(W):
                cand = tight[q * W + w] & rs_mask[w]
                if not cand:
                    continue
                fw = fmask[q * W + w]
                rsw = rs_mask[w]
                # q's list holds only arcs of cost 1 from the first pass (that pass's pushes and Dinic
                # rounds use nothing else) and, in this loop, other sources: search it only for those
                c1w = c1[q * W + w]
                while cand:
                    p = w * 64 + lowest_bit(cand)
                    cand &= cand - _ONE
                    bp = _bit(p)
                    rp = rs[p]
                    amount = rp if rp < rq else rq
                    k = -1
                    if not c1w & bp:
                        cost += 2.0 * amount  # tight arcs have cost 1 or 2 (see the second pass's tight arcs)
                    else:
                        cost += amount
                        if not first:
                            k = head[q]
                            while k >= 0 and a_src[k] != p:
                                k = a_next[k]
                    if k < 0:
                        if n_arena >= cap:
                            return 0.0, STATUS_ARENA
                        k = n_arena
                        n_arena += 1
                        a_src[k] = p
                        a_amt[k] = amount
                        a_next[k] = head[q]
                        head[q] = k
                    else:
                        a_amt[k] += amount
                    fw |= bp
                    rp -= amount
                    rq -= amount
                    if rp <= 0:
                        rs[p] = 0.0
                        rsw &= ~bp
                    else:
                        rs[p] = rp
                    if rq <= 0:
                        break
                fmask[q * W + w] = fw
                rs_mask[w] = rsw
                if rq <= 0:
                    break
            if rq <= 0:
                rd[q] = 0.0
                n_live -= 1
            else:
                rd[q] = rq
        first = False
        # Dinic rounds on the tight arcs
        while n_live > 0:
            any_front = False
            for w in range(W):
                lvl_u[w] = rs_mask[w]
                seen_u[w] = rs_mask[w]
                frontier[w] = rs_mask[w]
                if rs_mask[w]:
                    any_front = True
            for q in range(n):
                level_v[q] = -1
                ulist[q] = q
            n_u = n
            # the labelled sinks are listed level by level (increasing within a level) as the BFS goes:
            # vlist[voff[i]:voff[i + 1]] is level 2 i + 1, and later levels scan only the unlabelled ones
            n_lab = 0
            voff[0] = 0
            depth = 0
            found = False
            while any_front:
                nfw = 0
                for w in range(W):
                    if frontier[w]:
                        fwl[nfw] = w
                        nfw += 1
                lab_start = n_lab
                keep = 0
                for j in range(n_u):
                    q = ulist[j]
                    hit = False
                    for t in range(nfw):
                        w = fwl[t]
                        if tight[q * W + w] & frontier[w]:
                            hit = True
                            break
                    if hit:
                        level_v[q] = depth + 1
                        vlist[n_lab] = q
                        n_lab += 1
                        if rd[q] > 0:
                            found = True
                    else:
                        ulist[keep] = q
                        keep += 1
                n_u = keep
                voff[depth // 2 + 1] = n_lab
                if n_lab == lab_start or found:
                    break
                any_front = False
                for w in range(W):
                    new_u[w] = _ZERO
                for j in range(lab_start, n_lab):
                    q = vlist[j]
                    for w in range(W):
                        new_u[w] |= tight[q * W + w] & fmask[q * W + w]
                li = (depth + 2) // 2
                for w in range(W):
                    nw = new_u[w] & ~seen_u[w]
                    seen_u[w] |= nw
                    lvl_u[li * W + w] = nw
                    frontier[w] = nw
                    if nw:
                        any_front = True
                depth += 2
            if not found:
                closure = path_length == 1
                break
            last = depth + 1
            n_lv = (last + 1) // 2
            for j in range(n_lab):
                q = vlist[j]
                alive_v[q] = 1 if level_v[q] < last or rd[q] > 0 else 0
            for i in range(1, n_lv):  # level-0 sources are never scanned: paths end there
                for w in range(W):
                    m = lvl_u[i * W + w]
                    while m:
                        p = w * 64 + lowest_bit(m)
                        m &= m - _ONE
                        ptr_u[p] = voff[i - 1]
            # Paths are searched backwards, from the sinks with demand left in the last level to the
            # sources: every node of the level graph has a predecessor one level down (that is how the BFS
            # reached it), so a search from the end rarely backtracks, where one from the level-1 sinks
            # (most of the sinks) mostly ran into dead ends.  stack[s] is the node at level s.
            pushed_any = False
            for kt in range(voff[n_lv - 1], voff[n_lv]):
                t_sink = vlist[kt]
                while alive_v[t_sink]:
                    stack[last] = t_sink
                    s = last
                    while 0 < s <= last:
                        node = stack[s]
                        if s % 2 == 1:
                            # a sink: a source one level down with a tight arc to it
                            li = (s - 1) // 2
                            nxt = -1
                            for w in range(W):
                                c = tight[node * W + w] & lvl_u[li * W + w]
                                if c:
                                    nxt = w * 64 + lowest_bit(c)
                                    break
                            if nxt < 0:
                                alive_v[node] = 0
                                s += 1
                                continue
                        else:
                            # a source: a sink one level down that it sends flow to (a backward arc)
                            i = s // 2
                            k = ptr_u[node]
                            end = voff[i]
                            wn = node >> 6
                            bn = _bit(node)
                            nxt = -1
                            while k < end:
                                q = vlist[k]
                                if alive_v[q] and tight[q * W + wn] & fmask[q * W + wn] & bn:
                                    nxt = q
                                    break
                                k += 1
                            ptr_u[node] = k
                            if nxt < 0:
                                lvl_u[i * W + wn] &= ~bn
                                s += 1
                                continue
                        s -= 1
                        stack[s] = nxt
                    if s != 0:
                        break  # t_sink is a dead end now
                    top = last
                    p0 = stack[0]
                    w0 = p0 >> 6
                    reached = t_sink
                    if n_arena + top // 2 + 1 > cap:
                        return 0.0, STATUS_ARENA
                    amount = rs[p0] if rs[p0] < rd[reached] else rd[reached]
                    for s in range(1, top, 2):
                        q = stack[s]
                        p = stack[s + 1]
                        k = head[q]
                        while k >= 0 and a_src[k] != p:
                            k = a_next[k]
                        if k < 0:
                            return 0.0, STATUS_INTERNAL
                        if a_amt[k] < amount:
                            amount = a_amt[k]
                    path_cost = 0
                    for s in range(top):
                        p = stack[s] if s % 2 == 0 else stack[s + 1]
                        q = stack[s + 1] if s % 2 == 0 else stack[s]
                        wi = q * W + (p >> 6)
                        bp = _bit(p)
                        arc = 1 if c1[wi] & bp else (2 if c2[wi] & bp else 3)
                        path_cost += arc if s % 2 == 0 else -arc
                    cost += path_cost * amount
                    for s in range(0, top + 1, 2):
                        p = stack[s]
                        q = stack[s + 1]
                        k = head[q]
                        while k >= 0 and a_src[k] != p:
                            k = a_next[k]
                        if k < 0:
                            k = n_arena
                            n_arena += 1
                            a_src[k] = p
                            a_amt[k] = 0.0
                            a_next[k] = head[q]
                            head[q] = k
                        a_amt[k] += amount
                        fmask[q * W + (p >> 6)] |= _bit(p)
                    for s in range(1, top, 2):
                        q = stack[s]
                        p = stack[s + 1]
                        k = head[q]
                        while a_src[k] != p:
                            k = a_next[k]
                        a_amt[k] -= amount
                        if a_amt[k] <= 0:
                            a_amt[k] = 0.0
                            fmask[q * W + (p >> 6)] &= ~_bit(p)
                    rs[p0] -= amount
                    if rs[p0] <= 0:
                        rs[p0] = 0.0
                        rs_mask[w0] &= ~_bit(p0)
                        lvl_u[w0] &= ~_bit(p0)
                    rd[reached] -= amount
                    if rd[reached] <= 0:
                        rd[reached] = 0.0
                        alive_v[reached] = 0
                        n_live -= 1
                    pushed_any = True
            if not pushed_any:
                break
        if path_length == 2:
            break
    # the rest moves along length-3 paths at cost 3 (see mincost_flow.min_cost_transport)
    remaining = 0.0
    for w in range(W):
        m = src_mask[w]
        while m:
            p = w * 64 + lowest_bit(m)
            m &= m - _ONE
            remaining += rs[p]
    return 3.0 * remaining + cost, STATUS_OK


@njit(cache=True, nogil=True, inline="always")
def _at_potential(pot_mask, value):
    if value < 0 or value >= pot_mask.shape[0]:
        return np.uint64(0)
    return pot_mask[value]


@njit(cache=True, nogil=True, inline="always")
def _with_reduced_cost(c1, c2only, c3, pot_mask, pv, r):
    """Sources whose arc to a sink with potential pv has reduced cost r (cost + pi_u - pi_v = r)."""
    return ((c1 & _at_potential(pot_mask, pv + r - 1)) | (c2only & _at_potential(pot_mask, pv + r - 2))
            | (c3 & _at_potential(pot_mask, pv + r - 3)))


@njit(cache=True, nogil=True)
def _raise_potentials(mask, done, dist, reach, pi):
    """pi += min(dist, reach) over the nodes of mask (dist counts only where done)."""
    m = mask
    while m:
        p = lowest_bit(m)
        m &= m - _ONE
        if (done >> np.uint64(p)) & _ONE and dist[p] < reach:
            pi[p] += dist[p]
        else:
            pi[p] += reach


# compiled once, as a C callback (transport_solvers.py), and passed to word_owner_range: not @njit
def word_transport(src_mask, supply, snk_mask, demand, c1, c2, flow, pi_u, pi_v, pot_mask, tight, fmask,
                   rs, rd, dist_u, dist_v, lvl_u, lvl_v, stack, bucket_u, bucket_v):
    """Exact transport for at most 64 sources and 64 sinks, every set one machine word (the common case:
    both closed neighbourhoods below 64 nodes), float64 masses; flow (64, 64) must be zero on entry and is
    left zero.  Returns (cost, status).

    Sources are bit positions p of src_mask (supply[p]), sinks positions q of snk_mask (demand[q]);
    c1[q] / c2[q] are the sources at hop distance 1 / <= 2 from sink q (the rest are at 3).  Same
    primal-dual method as `min_cost_transport`, but every scan over sources is one word operation and
    only the sinks are looped over.  flow must be zero on entry and is left zero.  Returns the cost."""
    remaining = 0.0
    rs_mask = src_mask
    m = src_mask
    while m:
        p = lowest_bit(m)
        m &= m - _ONE
        rs[p] = supply[p]
        pi_u[p] = 0
        remaining += supply[p]
    rd_mask = snk_mask
    m = snk_mask
    while m:
        q = lowest_bit(m)
        m &= m - _ONE
        rd[q] = demand[q]
        fmask[q] = np.uint64(0)
        pi_v[q] = 1  # all costs are >= 1: the first phase's tight arcs are exactly the cost-1 arcs
    for v in range(pot_mask.shape[0]):
        pot_mask[v] = np.uint64(0)
    pot_mask[0] = src_mask
    first = True
    path_length = 1  # the length of the current shortest augmenting paths (see min_cost_transport)
    passes = 0
    while rs_mask:
        passes += 1
        if passes > 3:
            return 0.0, STATUS_INTERNAL
        if not first:
            # Dijkstra over reduced costs in four buckets (sets of sources / sinks at each tentative
            # distance), one word per set
            done_u = np.uint64(0)
            done_v = np.uint64(0)
            for level in range(4):
                bucket_u[level] = np.uint64(0)
                bucket_v[level] = np.uint64(0)
            bucket_u[0] = rs_mask
            reach = -1
            for level in range(4):
                while True:
                    fu = bucket_u[level] & ~done_u
                    fv = bucket_v[level] & ~done_v
                    if fu == 0 and fv == 0:
                        break
                    if fu:
                        done_u |= fu
                        m = fu
                        while m:
                            p = lowest_bit(m)
                            m &= m - _ONE
                            dist_u[p] = level
                        m = snk_mask & ~done_v
                        while m:
                            q = lowest_bit(m)
                            m &= m - _ONE
                            c2only = c2[q] & ~c1[q]
                            c3 = src_mask & ~c2[q]
                            for r in range(4 - level):
                                if _with_reduced_cost(c1[q], c2only, c3, pot_mask, pi_v[q], r) & fu:
                                    bucket_v[level + r] |= _bit(q)
                                    break
                    if fv:
                        done_v |= fv
                        m = fv
                        while m:
                            q = lowest_bit(m)
                            m &= m - _ONE
                            dist_v[q] = level
                            if rd[q] > 0:
                                reach = level
                        if reach >= 0:
                            break
                        # backward arcs (they carry flow, so their reduced cost is 0)
                        back = np.uint64(0)
                        m = fv
                        while m:
                            q = lowest_bit(m)
                            m &= m - _ONE
                            back |= fmask[q]
                        bucket_u[level] |= back & ~done_u
                if reach >= 0:
                    break
            if reach < 0:
                break  # only a rounding residue is left
            path_length += reach
            if path_length >= 3:
                break
            _raise_potentials(src_mask, done_u, dist_u, reach, pi_u)
            _raise_potentials(snk_mask, done_v, dist_v, reach, pi_v)
            for v in range(pot_mask.shape[0]):
                pot_mask[v] = np.uint64(0)
            m = src_mask
            while m:
                p = lowest_bit(m)
                m &= m - _ONE
                if pi_u[p] < pot_mask.shape[0]:
                    pot_mask[pi_u[p]] |= _bit(p)
                else:
                    return 0.0, STATUS_INTERNAL  # potentials stay below 16 for costs <= 3
        first = False
        # tight (zero reduced cost) sources of every sink
        m = snk_mask
        while m:
            q = lowest_bit(m)
            m &= m - _ONE
            tight[q] = _with_reduced_cost(c1[q], c2[q] & ~c1[q], src_mask & ~c2[q], pot_mask, pi_v[q], 0)
        # direct pushes
        m = rd_mask
        while m:
            q = lowest_bit(m)
            m &= m - _ONE
            cand = tight[q] & rs_mask
            while cand and rd[q] > 0:
                p = lowest_bit(cand)
                cand &= cand - _ONE
                amount = rs[p] if rs[p] < rd[q] else rd[q]
                flow[p, q] += amount
                fmask[q] |= _bit(p)
                rs[p] -= amount
                rd[q] -= amount
                remaining -= amount
                if rs[p] <= 0:
                    rs[p] = 0.0
                    rs_mask &= ~_bit(p)
            if rd[q] <= 0:
                rd[q] = 0.0
                rd_mask &= ~_bit(q)
        # Dinic rounds on the tight arcs
        while rs_mask and rd_mask:
            # BFS: level 0 = sources with supply; odd levels sinks, even levels sources
            lvl_u[0] = rs_mask
            seen_u = rs_mask
            seen_v = np.uint64(0)
            frontier = rs_mask
            depth = 0
            found = False
            while frontier:
                new_v = np.uint64(0)
                m = snk_mask & ~seen_v
                while m:
                    q = lowest_bit(m)
                    m &= m - _ONE
                    if tight[q] & frontier:
                        new_v |= _bit(q)
                if new_v == 0:
                    break
                seen_v |= new_v
                lvl_v[depth + 1] = new_v
                if new_v & rd_mask:
                    found = True
                    break
                new_u = np.uint64(0)
                m = new_v
                while m:
                    q = lowest_bit(m)
                    m &= m - _ONE
                    new_u |= tight[q] & fmask[q]
                new_u &= ~seen_u
                seen_u |= new_u
                lvl_u[depth + 2] = new_u
                frontier = new_u
                depth += 2
            if not found:
                break
            last = depth + 1
            lvl_v[last] &= rd_mask  # only sinks with demand left end a path
            pushed = 0.0
            starts = lvl_u[0]
            while starts:
                p0 = lowest_bit(starts)
                starts &= starts - _ONE
                while rs[p0] > 0 and (lvl_u[0] >> np.uint64(p0)) & _ONE:
                    top = 0
                    stack[0] = p0
                    reached = -1
                    while top >= 0:
                        node = stack[top]
                        if top % 2 == 0:
                            # a source at level top: a live sink one level down whose tight set holds it
                            m = lvl_v[top + 1]
                            nxt = -1
                            while m:
                                q = lowest_bit(m)
                                m &= m - _ONE
                                if (tight[q] >> np.uint64(node)) & _ONE:
                                    nxt = q
                                    break
                            if nxt < 0:
                                lvl_u[top] &= ~_bit(node)
                                top -= 1
                                continue
                            top += 1
                            stack[top] = nxt
                            if top == last:
                                reached = nxt
                                break
                        else:
                            cand = tight[node] & fmask[node] & lvl_u[top + 1] if top + 1 <= depth else np.uint64(0)
                            if cand == 0:
                                lvl_v[top] &= ~_bit(node)
                                top -= 1
                                continue
                            top += 1
                            stack[top] = lowest_bit(cand)
                    if reached < 0:
                        break
                    amount = rs[p0] if rs[p0] < rd[reached] else rd[reached]
                    for s in range(1, top, 2):
                        back = flow[stack[s + 1], stack[s]]
                        if back < amount:
                            amount = back
                    for s in range(0, top + 1, 2):
                        p = stack[s]
                        q = stack[s + 1]
                        flow[p, q] += amount
                        fmask[q] |= _bit(p)
                    for s in range(1, top, 2):
                        q = stack[s]
                        p = stack[s + 1]
                        flow[p, q] -= amount
                        if flow[p, q] <= 0:
                            flow[p, q] = 0.0
                            fmask[q] &= ~_bit(p)
                    rs[p0] -= amount
                    if rs[p0] <= 0:
                        rs[p0] = 0.0
                        rs_mask &= ~_bit(p0)
                    rd[reached] -= amount
                    if rd[reached] <= 0:
                        rd[reached] = 0.0
                        rd_mask &= ~_bit(reached)
                        lvl_v[last] &= ~_bit(reached)
                    pushed += amount
            if pushed <= 0:
                break
            remaining -= pushed
        if path_length == 2:
            break
    remaining = 0.0
    m = src_mask
    while m:
        p = lowest_bit(m)
        m &= m - _ONE
        remaining += rs[p]
    total = 3.0 * remaining  # the rest moves along length-3 paths (see mincost_flow.min_cost_transport)
    m = snk_mask
    while m:
        q = lowest_bit(m)
        m &= m - _ONE
        f = fmask[q]
        while f:
            p = lowest_bit(f)
            f &= f - _ONE
            if (c1[q] >> np.uint64(p)) & _ONE:
                cost = 1
            elif (c2[q] >> np.uint64(p)) & _ONE:
                cost = 2
            else:
                cost = 3
            total += flow[p, q] * cost
            flow[p, q] = 0.0
        fmask[q] = np.uint64(0)
    return total, STATUS_OK


@njit(cache=True, nogil=True)
def _word_masses(indptr, indices, x, y, py, alpha, closed, supply, demand, sink_node):
    """Net masses of mu_x - mu_y with sources indexed by position in N[x] (N(x), then x; y is at position
    py) and sinks by position in N[y] (N(y), then y).  closed: x's one-word masks, so closed[y] is the set
    of members of N[x] inside N[y] and bit dx of closed[v] says v is in N[x] (as in _masses_by_position:
    only N(y) is scanned).  Returns (source mask, sink mask, scale)."""
    dx = indptr[x + 1] - indptr[x]
    dy = indptr[y + 1] - indptr[y]
    centre = alpha * dx * dy
    per_x = (1.0 - alpha) * dy
    per_y = (1.0 - alpha) * dx
    xb = _bit(dx)
    src_mask = np.uint64(0)
    snk_mask = np.uint64(0)
    if per_x > 0:  # every member of N(x) outside N[y]; y and x are settled below
        src_mask = ~closed[y] & (xb - _ONE)
        for i in range(dx):
            supply[i] = per_x
    net = per_x
    net -= centre
    if net > 0:
        src_mask |= _bit(py)
        supply[py] = net
    elif net < 0:  # y, in N(x) only, is position dy of N[y]
        snk_mask |= _bit(dy)
        demand[dy] = -net
        sink_node[dy] = y
    b0 = indptr[y]
    for b in range(b0, indptr[y + 1]):
        node = indices[b]
        if node == x:
            net = -per_y
            net += centre
            if net > 0:  # as the centre of mu_x, x is position dx of N[x]
                src_mask |= xb
                supply[dx] = net
        elif closed[node] & xb:  # in N(x) too
            net = per_x - per_y
        else:
            net = -per_y
        if net < 0:
            snk_mask |= _bit(b - b0)
            demand[b - b0] = -net
            sink_node[b - b0] = node
    return src_mask, snk_mask, float(dx) * float(dy)


@njit(cache=True, nogil=True)
def _masses_by_position(indptr, indices, x, y, py, alpha, n_words, closed, src_mask, supply, sink_node, demand):
    """Net masses of mu_x - mu_y with sources indexed by position in N[x] (N(x), then x; y is at position py)
    and sinks listed compactly, in increasing node order.  closed: x's masks (_toggle_owner_masks), so
    closed[y] is the set of members of N[x] inside N[y] and bit dx of closed[v] says v is in N[x]: the
    sources are found a word at a time and only N(y) is scanned, not the merge of N(x) and N(y) (which
    cost O(deg x) branches per edge of a hub).  Returns (number of sinks, any source, scale)."""
    dx = indptr[x + 1] - indptr[x]
    dy = indptr[y + 1] - indptr[y]
    centre = alpha * dx * dy
    per_x = (1.0 - alpha) * dy
    per_y = (1.0 - alpha) * dx
    xw = dx >> 6
    xb = _bit(dx)
    yrow = y * n_words
    # every member of N(x) outside N[y] keeps per_x (never negative, as dy <= dx: shared members are
    # sinks or cancel); y (bit py, set in closed[y]) and x (bit dx) are settled below
    if per_x > 0:
        for w in range(n_words):
            src_mask[w] = ~closed[yrow + w]
        src_mask[xw] &= xb - _ONE  # n_words = xw + 1: no bit past dx - 1 from here
        for i in range(dx):
            supply[i] = per_x
    else:
        for w in range(n_words):
            src_mask[w] = _ZERO
    net = per_x
    net -= centre
    y_sink = net < 0
    net_y = net
    if net > 0:
        src_mask[py >> 6] |= _bit(py)
        supply[py] = net
    n_snk = 0
    for b in range(indptr[y], indptr[y + 1]):
        node = indices[b]
        if y_sink and node > y:  # y is in N(x) only; its place in the node order
            sink_node[n_snk] = y
            demand[n_snk] = -net_y
            n_snk += 1
            y_sink = False
        if node == x:
            net = -per_y
            net += centre
            if net > 0:
                src_mask[xw] |= xb
                supply[dx] = net
        elif closed[node * n_words + xw] & xb:  # in N(x) too
            net = per_x - per_y
        else:
            net = -per_y
        if net < 0:
            sink_node[n_snk] = node
            demand[n_snk] = -net
            n_snk += 1
    if y_sink:
        sink_node[n_snk] = y
        demand[n_snk] = -net_y
        n_snk += 1
    any_src = False
    for w in range(n_words):
        if src_mask[w]:
            any_src = True
    return n_snk, any_src, float(dx) * float(dy)


@njit(cache=True, nogil=True)
def _toggle_owner_masks(indptr, indices, x, closed, n_words):
    """Flips bit p of closed[w * n_words:] for every w in the closed neighbourhood of the p-th member of
    N[x] (N(x) in order, then x itself).  Each (node, bit) pair is hit once (rows have no self-loops and
    no repeats), so the first call sets exactly these bits and a second call clears them again."""
    dx = indptr[x + 1] - indptr[x]
    for p in range(dx + 1):
        u = indices[indptr[x] + p] if p < dx else x
        word = p >> 6
        bit = _bit(p)
        closed[u * n_words + word] ^= bit
        for q in range(indptr[u], indptr[u + 1]):
            closed[indices[q] * n_words + word] ^= bit


@njit(cache=True, nogil=True)
def _two_hop_row(indptr, indices, v, wx, C, W2):
    """W2[v] = C[v] | the C rows of v's neighbours (the members of N[x] within 2 hops of v), up to four
    words per pass over N(v) with the ORs in registers: most owners have 2 to 4 words, and a pass per word
    re-read the row list each time (and read-modify-writes of W2, which may alias C for the compiler,
    were a third of a hub graph's time)."""
    r0 = indptr[v]
    r1 = indptr[v + 1]
    w = 0
    while w < wx:
        left = wx - w
        if left >= 4:
            a0 = C[v, w]
            a1 = C[v, w + 1]
            a2 = C[v, w + 2]
            a3 = C[v, w + 3]
            for r in range(r0, r1):
                u = indices[r]
                a0 |= C[u, w]
                a1 |= C[u, w + 1]
                a2 |= C[u, w + 2]
                a3 |= C[u, w + 3]
            W2[v, w] = a0
            W2[v, w + 1] = a1
            W2[v, w + 2] = a2
            W2[v, w + 3] = a3
            w += 4
        elif left == 3:
            a0 = C[v, w]
            a1 = C[v, w + 1]
            a2 = C[v, w + 2]
            for r in range(r0, r1):
                u = indices[r]
                a0 |= C[u, w]
                a1 |= C[u, w + 1]
                a2 |= C[u, w + 2]
            W2[v, w] = a0
            W2[v, w + 1] = a1
            W2[v, w + 2] = a2
            w += 3
        elif left == 2:
            a0 = C[v, w]
            a1 = C[v, w + 1]
            for r in range(r0, r1):
                u = indices[r]
                a0 |= C[u, w]
                a1 |= C[u, w + 1]
            W2[v, w] = a0
            W2[v, w + 1] = a1
            w += 2
        else:
            a0 = C[v, w]
            for r in range(r0, r1):
                a0 |= C[indices[r], w]
            W2[v, w] = a0
            w += 1


# Three range kernels, one per kind of owner, each called from Python only for the owners of its kind:
# a graph compiles only the paths it needs, and each compiled module stays small (issue 15).  An edge is
# solved by its end point of larger degree (the smaller index on a tie).

@njit(cache=True, nogil=True)
def word_owner_range(indptr, indices, alpha, owners, start, stop, out, closed, within2, w2_owner, wflow, wfl, wint,
                     wu64, solve):
    """Exact curvature of every edge owned by owners[start:stop], owners of degree < 64 (so both closed
    neighbourhoods of each owned edge fit one word), by word_transport, into out (both CSR directions).

    closed, within2: >= N words (closed zero on entry, left zero); w2_owner: N int64; scratch wflow (64, 64)
    float64 zeros, wfl (4, 64) float64, wint (5 * 64 + 130) int64, wu64 (4 * 64 + 16 + 2 * 130 + 8) uint64;
    solve: word_transport compiled as a C callback (transport_solvers.word_solver()).
    Returns stop, or -1 - item on an internal error."""
    w_sup = wfl[0]
    w_dem = wfl[1]
    w_rs = wfl[2]
    w_rd = wfl[3]
    w_snk = wint[0:64]
    w_piu = wint[64:128]
    w_piv = wint[128:192]
    w_du = wint[192:256]
    w_dv = wint[256:320]
    w_stack = wint[320:450]
    w_c1 = wu64[0:64]
    w_c2 = wu64[64:128]
    w_tight = wu64[128:192]
    w_fmask = wu64[192:256]
    w_pot = wu64[256:272]
    w_lu = wu64[272:402]
    w_lv = wu64[402:532]
    w_bu = wu64[532:536]
    w_bv = wu64[536:540]
    for t in range(start, stop):
        x = owners[t]
        dx = indptr[x + 1] - indptr[x]
        wx = (dx + 64) // 64  # 1: a typed argument, not the literal 1 (another signature)
        _toggle_owner_masks(indptr, indices, x, closed, wx)
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            dy = indptr[y + 1] - indptr[y]
            if dy > dx or (dy == dx and y < x):
                continue  # y owns this edge
            src_m, snk_m, scale = _word_masses(indptr, indices, x, y, p - indptr[x], alpha, closed, w_sup, w_dem,
                                               w_snk)
            if src_m == 0:
                value = 1.0
            else:
                m = snk_m
                while m:
                    q = lowest_bit(m)
                    m &= m - _ONE
                    v = w_snk[q]
                    if w2_owner[v] != x:
                        if closed[v] & _bit(dx):  # v in N[x]: all of N[x] is within 2 hops (owner_range)
                            within2[v] = _ALL
                        else:
                            acc = closed[v]
                            for r in range(indptr[v], indptr[v + 1]):
                                acc |= closed[indices[r]]
                            within2[v] = acc
                        w2_owner[v] = x
                    w_c1[q] = closed[v] & src_m
                    w_c2[q] = within2[v] & src_m
                total, status = solve(src_m, w_sup, snk_m, w_dem, w_c1, w_c2, wflow, w_piu, w_piv, w_pot,
                                      w_tight, w_fmask, w_rs, w_rd, w_du, w_dv, w_lu, w_lv, w_stack, w_bu, w_bv)
                if status != STATUS_OK:
                    _toggle_owner_masks(indptr, indices, x, closed, wx)
                    return -1 - t
                value = 1.0 - total / scale
            out[p] = value
            out[find_sorted(indices, indptr[y], indptr[y + 1], x)] = value
        _toggle_owner_masks(indptr, indices, x, closed, wx)
    return stop


@njit(cache=True, nogil=True)
def _merge_twins(nodes, mass, n, twin, slot):
    """Merges the list entries whose nodes are twins (twin[v] the class of v, see ricci_fast.ollivier
    twin_classes): the first of each class keeps the summed mass.  Twins are at the same hop distance from
    every other node, so they are interchangeable in a transport problem and the optimum is unchanged.
    slot: N int64, -1 on entry and on exit.  Returns the new length (entries stay in order)."""
    k = 0
    for i in range(n):
        r = twin[nodes[i]]
        j = slot[r]
        if j < 0:
            slot[r] = k
            nodes[k] = nodes[i]
            mass[k] = mass[i]
            k += 1
        else:
            mass[j] += mass[i]
    for i in range(k):
        slot[twin[nodes[i]]] = -1
    return k


@njit(cache=True, nogil=True)
def owner_range(indptr, indices, alpha, owners, start, stop, out, closed, within2, w2_owner, cm, mk, bint, bflt, lint,
                lflt, a_src, a_amt, a_next, e_src, e_snk, e_dem, twin, slot, memo_owner, memo_value, has_twins, need,
                solve):
    """Exact curvature of every edge owned by owners[start:stop], owners of degree 64 .. 64 * max_words - 1,
    with per-owner masks over N[x] (bit p: the p-th member of N(x), then x) shared by all of x's edges.

    With has_twins, twin sources and twin sinks are merged first (see _merge_twins; e_src holds the kept
    bit positions), and when that saves words the sources are renumbered compactly (duplicate rows, e.g.
    the dead units of a ReLU layer, make hubs whose problems shrink from thousands of sources to tens), and
    an edge x-y' whose y' is a twin of an already solved y takes its value (memo_owner / memo_value: N
    entries, the owner and value last stored per twin class).
    solve: bitset_transport compiled as a C callback (transport_solvers.bitset_solver()).
    Stops at the first owner whose scratch is too small, fills need (see NEED_*) and returns its item
    index; returns stop when all are done, or -1 - item on an internal error."""
    n_nodes = indptr.shape[0] - 1
    for t in range(start, stop):
        x = owners[t]
        base = indptr[x]
        dx = indptr[x + 1] - base
        wx = (dx + 64) // 64
        n_l = np.int64(1)  # typed, not Literal[int](1): _fits would compile twice
        for p in range(indptr[x], indptr[x + 1]):
            dy = indptr[indices[p] + 1] - indptr[indices[p]]
            if dy + 1 > n_l and dy <= dx:
                n_l = dy + 1
        ok = _fits(wx, n_l, cm, mk, bint, bflt, lint, lflt, need)
        if n_nodes * wx > closed.shape[0] or n_nodes * wx > within2.shape[0]:
            ok = False
            if n_nodes * wx > need[NEED_CLOSED]:
                need[NEED_CLOSED] = n_nodes * wx
        if not ok:
            need[NEED_ITEM] = t
            need[NEED_Y] = -1
            return t
        _toggle_owner_masks(indptr, indices, x, closed, wx)
        # row views (n_nodes, wx): the word offsets are then known to be in range, so the compiler keeps
        # them in registers instead of re-deriving each flat index
        C = closed[:n_nodes * wx].reshape((n_nodes, wx))
        W2 = within2[:n_nodes * wx].reshape((n_nodes, wx))
        src_mask = mk[mk.shape[0] - wx:]  # the tail of mk is not used by bitset_transport at this size
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            dy = indptr[y + 1] - indptr[y]
            if dy > dx or (dy == dx and y < x):
                continue
            supply = bflt[64 * wx:128 * wx]
            if has_twins and memo_owner[twin[y]] == x:
                value = memo_value[twin[y]]
                out[p] = value
                out[find_sorted(indices, indptr[y], indptr[y + 1], x)] = value
                continue
            n_snk, any_src, scale = _masses_by_position(indptr, indices, x, y, p - base, alpha, wx, closed, src_mask,
                                                        supply, e_snk, e_dem)
            if not any_src:
                value = 1.0
            else:
                for j in range(n_snk):
                    v = e_snk[j]
                    if w2_owner[v] != x:
                        if closed[v * wx + (dx >> 6)] & _bit(dx):
                            # v is in N[x] (bit dx stands for x): every member of N[x] is within 2 hops of v
                            # (through x), so no neighbour needs reading; bits past N[x] are never used
                            for w in range(wx):
                                within2[v * wx + w] = _ALL
                        else:
                            _two_hop_row(indptr, indices, v, wx, C, W2)
                        w2_owner[v] = x
                wp = wx
                if has_twins:
                    n_snk = _merge_twins(e_snk, e_dem, n_snk, twin, slot)
                    n_kept = 0
                    for w in range(wx):
                        m = src_mask[w]
                        while m:
                            b = w * 64 + lowest_bit(m)
                            m &= m - _ONE
                            r = twin[indices[base + b]] if b < dx else twin[x]
                            if slot[r] < 0:
                                slot[r] = b
                                e_src[n_kept] = b
                                n_kept += 1
                            else:
                                supply[slot[r]] += supply[b]
                                src_mask[w] &= ~_bit(b)
                    for i in range(n_kept):
                        b = e_src[i]
                        slot[twin[indices[base + b]] if b < dx else twin[x]] = -1
                    if (n_kept + 63) // 64 < wx:
                        # renumber: bit i is the i-th kept position (increasing, so the copies below
                        # never overwrite what they have yet to read)
                        wp = (n_kept + 63) // 64
                        src_mask = mk[mk.shape[0] - wp:]
                        for w in range(wp):
                            src_mask[w] = _ZERO
                        new_supply = bflt[64 * wp:128 * wp]
                        for i in range(n_kept):
                            new_supply[i] = supply[e_src[i]]
                            src_mask[i >> 6] |= _bit(i)
                        supply = new_supply
                        for j in range(n_snk):
                            v = e_snk[j]
                            for w in range(wp):
                                cm[j * wp + w] = _ZERO
                                cm[(n_snk + j) * wp + w] = _ZERO
                            for i in range(n_kept):
                                b = e_src[i]
                                bb = _bit(b)
                                if closed[v * wx + (b >> 6)] & bb:
                                    cm[j * wp + (i >> 6)] |= _bit(i)
                                if within2[v * wx + (b >> 6)] & bb:
                                    cm[(n_snk + j) * wp + (i >> 6)] |= _bit(i)
                c1 = cm[0:n_snk * wp]
                c2 = cm[n_snk * wp:2 * n_snk * wp]
                if wp == wx:
                    c1v = c1.reshape((n_snk, wx))
                    c2v = c2.reshape((n_snk, wx))
                    for j in range(n_snk):
                        v = e_snk[j]
                        for w in range(wx):
                            c1v[j, w] = C[v, w] & src_mask[w]
                            c2v[j, w] = W2[v, w] & src_mask[w]
                total, status = solve(wp, src_mask, supply, n_snk, e_dem, c1, c2, mk, bint, bflt, lint, lflt, a_src,
                                      a_amt, a_next)
                src_mask = mk[mk.shape[0] - wx:]
                if status != STATUS_OK:
                    _toggle_owner_masks(indptr, indices, x, closed, wx)
                    if status == STATUS_ARENA:
                        need[NEED_ITEM] = t
                        need[NEED_Y] = y
                        need[NEED_ARENA] = 2 * a_src.shape[0]
                        return t
                    return -1 - t
                value = 1.0 - total / scale
            if has_twins:  # the swap of twins y, y' is an automorphism fixing x: kappa(x, y') = kappa(x, y)
                memo_owner[twin[y]] = x
                memo_value[twin[y]] = value
            out[p] = value
            out[find_sorted(indices, indptr[y], indptr[y + 1], x)] = value
        _toggle_owner_masks(indptr, indices, x, closed, wx)
    return stop


@njit(cache=True, nogil=True)
def edge_range(indptr, indices, alpha, owners, start, stop, out, closed, cm, mk, bint, bflt, lint, lflt, a_src, a_amt,
               a_next, e_src, e_sup, e_snk, e_dem, twin, slot, memo_owner, memo_value, has_twins, need, solve):
    """Exact curvature of every edge owned by owners[start:stop], owners of degree >= 64 * max_words: after
    shared mass cancels (and twins merge, see _merge_twins), the smaller side of each edge's problem
    becomes the bits (W1 is symmetric, so the sinks may play the sources) and its masks are built for that
    edge alone.  solve and the return value as in owner_range."""
    n_nodes = indptr.shape[0] - 1
    for t in range(start, stop):
        x = owners[t]
        dx = indptr[x + 1] - indptr[x]
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            dy = indptr[y + 1] - indptr[y]
            if dy > dx or (dy == dx and y < x):
                continue
            if has_twins and memo_owner[twin[y]] == x:
                value = memo_value[twin[y]]
                out[p] = value
                out[find_sorted(indices, indptr[y], indptr[y + 1], x)] = value
                continue
            n_src, n_snk, scale = edge_problem(indptr, indices, x, y, alpha, e_src, e_sup, e_snk, e_dem)
            if n_src == 0:
                value = 1.0
            else:
                if has_twins:
                    n_src = _merge_twins(e_src, e_sup, n_src, twin, slot)
                    n_snk = _merge_twins(e_snk, e_dem, n_snk, twin, slot)
                flip = n_src > n_snk
                n_b = n_snk if flip else n_src
                n_l = n_src if flip else n_snk
                wp = (n_b + 63) // 64
                ok = _fits(wp, n_l, cm, mk, bint, bflt, lint, lflt, need)
                if n_nodes * wp > closed.shape[0]:
                    ok = False
                    if n_nodes * wp > need[NEED_CLOSED]:
                        need[NEED_CLOSED] = n_nodes * wp
                if not ok:
                    need[NEED_ITEM] = t
                    need[NEED_Y] = y
                    return t
                c1 = cm[0:n_l * wp]
                c2 = cm[n_l * wp:2 * n_l * wp]
                src_mask = mk[mk.shape[0] - wp:]
                supply = bflt[64 * wp:128 * wp]
                for w in range(wp):
                    src_mask[w] = _ZERO
                for i in range(n_b):
                    src_mask[i >> 6] |= _bit(i)
                b_node, b_mass, l_node, l_mass = (e_snk, e_dem, e_src, e_sup) if flip else (e_src, e_sup, e_snk, e_dem)
                sink_cost_masks(indptr, indices, b_node, n_b, l_node, n_l, closed, wp, c1, c2)
                for i in range(n_b):
                    supply[i] = b_mass[i]
                total, status = solve(wp, src_mask, supply, n_l, l_mass, c1, c2, mk, bint, bflt, lint, lflt, a_src,
                                      a_amt, a_next)
                if status == STATUS_ARENA:
                    need[NEED_ITEM] = t
                    need[NEED_Y] = y
                    need[NEED_ARENA] = 2 * a_src.shape[0]
                    return t
                if status != STATUS_OK:
                    return -1 - t
                value = 1.0 - total / scale
            if has_twins:  # the swap of twins y, y' is an automorphism fixing x: kappa(x, y') = kappa(x, y)
                memo_owner[twin[y]] = x
                memo_value[twin[y]] = value
            out[p] = value
            out[find_sorted(indices, indptr[y], indptr[y + 1], x)] = value
    return stop
