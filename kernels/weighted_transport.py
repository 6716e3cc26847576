"""Weighted Ollivier-Ricci curvature: bounded Dijkstra ground costs, an exact float transport solver
(network simplex, successive shortest paths as its fallback) and log-domain Sinkhorn with a feasible
rounded plan.

Edge x-y is owned by the end with the smaller (degree, id).  The owned edges, owner by owner in a locality
order, are cut into groups (`plan_groups`) whose cost matrices ((deg x + 1) x (deg y + 1) per edge) fit
`budget` entries together.  Per group, ONE Dijkstra per source u (a node of some owner's N[x];
`group_searches`) settles nodes only until every target that u's edges need (their N[y]) is settled,
however many of u's neighbours own edges in the group, and writes u's rows of those matrices: a node is
searched once per group it is a source of, not once per owner next to it (2E + N searches before).
Shortest paths may run anywhere in the graph; a search never queues a length above the longest, over its
targets, of a target's shortest u - x - y - v path sum.  Then every group edge's transport problem reads its own
contiguous matrix (`group_transport`), optionally starting its simplex from the edge's basis of a
previous call (the discrete Ricci flow's steps).  Memory: O(edges) for the plan, <= budget cost entries (one edge
over it gets a group of its own) and O(N) scratch per thread."""

import numpy as np
from numba import njit

EXACT = 0
SINKHORN = 1

# _NOT_LITERAL: a counter that starts as `k = 0` (or -1) and is passed to another kernel is typed Literal[int](0)
# in Numba's first pass of type inference, which compiles the callee (and all it calls) for that literal
# signature before the counter settles to int64 and the callee is compiled again: np.int64(0) is typed
# int64 at once.  It halved the first weighted Ollivier-Ricci call's compile time (issue 15).


@njit(cache=True, nogil=True)
def _heap_push(hnode, hkey, hpos, size, v, key):
    """Insert v or lower its key (indexed 4-ary min-heap: half the depth of a binary heap, a node's four
    children side by side; searches took 18-28% less time than with a binary heap, same lengths); returns
    the new size."""
    i = hpos[v]
    if i < 0:
        i = size
        size += 1
    while i > 0:
        parent = (i - 1) >> 2
        if hkey[parent] <= key:
            break
        hnode[i] = hnode[parent]
        hkey[i] = hkey[parent]
        hpos[hnode[i]] = i
        i = parent
    hnode[i] = v
    hkey[i] = key
    hpos[v] = i
    return size


@njit(cache=True, nogil=True)
def _heap_pop(hnode, hkey, hpos, size):
    """Remove the root; returns the new size (root node/key must be read before)."""
    hpos[hnode[0]] = -1
    size -= 1
    if size == 0:
        return 0
    v = hnode[size]
    key = hkey[size]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best = first
        best_key = hkey[first]
        for c in range(first + 1, min(first + 4, size)):
            if hkey[c] < best_key:
                best_key = hkey[c]
                best = c
        if best_key >= key:
            break
        hnode[i] = hnode[best]
        hkey[i] = best_key
        hpos[hnode[i]] = i
        i = best
    hnode[i] = v
    hkey[i] = key
    hpos[v] = i
    return size


@njit(cache=True, nogil=True)
def search_to_targets(indptr, indices, weights, source, need, stamp, n_targets, dist, seen, hnode, hkey, hpos,
                      limit=np.inf):
    """Dijkstra from source that stops as soon as all n_targets nodes v with need[v] == stamp are settled:
    no node farther than the farthest target is expanded.  limit: a bound on every target's computed
    length (the float sum along some path to it); a tentative length above it is never queued, which
    changes no target's value: float sums only grow along a path, so no prefix of a path of computed
    length <= limit is above it.  Afterwards every target v has seen[v] == stamp and its exact length in
    dist[v], or seen[v] != stamp when it is unreachable.  Returns the number of targets settled."""
    if n_targets == 0:
        return 0
    size = np.int64(0)  # see _NOT_LITERAL
    seen[source] = stamp
    dist[source] = 0.0
    size = _heap_push(hnode, hkey, hpos, size, source, 0.0)
    found = 0
    while size > 0:
        v = hnode[0]
        dv = hkey[0]
        size = _heap_pop(hnode, hkey, hpos, size)
        if need[v] == stamp:
            found += 1
            if found == n_targets:
                break
        for q in range(indptr[v], indptr[v + 1]):
            u = indices[q]
            nd = dv + weights[q]
            if nd > limit:
                continue  # the frontier beyond the farthest target: never popped, so never pushed
            if seen[u] != stamp:
                seen[u] = stamp
                dist[u] = nd
                size = _heap_push(hnode, hkey, hpos, size, u, nd)
            elif nd < dist[u] and hpos[u] >= 0:
                dist[u] = nd
                size = _heap_push(hnode, hkey, hpos, size, u, nd)
    # leave the heap empty for the next search
    for i in range(size):
        hpos[hnode[i]] = -1
    return found


@njit(cache=True, nogil=True)
def transport_exact(a, b, C, m, n, flow, pot, dist, parent, done):
    """min <P, C> over P >= 0 with row sums a[:m] and column sums b[:n] (sum a = sum b), by successive
    shortest paths on the bipartite residual graph with Johnson potentials (dense Dijkstra, O((m+n)^2)
    per augmentation).  C is (m, n) C-ordered in a flat buffer.  Residual masses below 1e-15 of the total
    count as zero (the value then moves by at most that times the largest cost)."""
    total = 0.0
    for i in range(m):
        total += a[i]
    tol = 1e-15 * total
    supply = a[:m].copy()
    demand = b[:n].copy()
    nn = m + n
    for v in range(nn):
        pot[v] = 0.0
    for p in range(m * n):
        flow[p] = 0.0
    while True:
        remaining = 0.0
        for i in range(m):
            if supply[i] > tol:
                remaining += supply[i]
        if remaining <= tol:
            break
        for v in range(nn):
            dist[v] = np.inf
            done[v] = 0
            parent[v] = -1
        for i in range(m):
            if supply[i] > tol:
                dist[i] = 0.0
        target = -1
        while True:
            best = np.inf
            v = -1
            for u in range(nn):
                if done[u] == 0 and dist[u] < best:
                    best = dist[u]
                    v = u
            if v < 0:
                break
            done[v] = 1
            if v < m:
                base = best + pot[v]
                for j in range(n):
                    w = m + j
                    if done[w] == 0:
                        rc = C[v * n + j] + base - pot[w]
                        nd = rc if rc > best else best
                        if nd < dist[w]:
                            dist[w] = nd
                            parent[w] = v
            else:
                j = v - m
                if demand[j] > tol:
                    target = v
                    break
                base = best + pot[v]
                for i in range(m):
                    if done[i] == 0 and flow[i * n + j] > 0.0:
                        rc = base - C[i * n + j] - pot[i]
                        nd = rc if rc > best else best
                        if nd < dist[i]:
                            dist[i] = nd
                            parent[i] = v
        if target < 0:
            break  # cannot happen for balanced masses; guards against a corrupted input
        dt = dist[target]
        for v in range(nn):
            pot[v] += dist[v] if dist[v] < dt else dt
        # bottleneck along the path back to a source with supply left
        delta = demand[target - m]
        v = target
        while parent[v] >= 0:
            u = parent[v]
            if u >= m:  # reverse arc sink u -> source v cancels flow[v, u]
                f = flow[v * n + (u - m)]
                if f < delta:
                    delta = f
            v = u
        if supply[v] < delta:
            delta = supply[v]
        source = v
        v = target
        while parent[v] >= 0:
            u = parent[v]
            if u < m:
                flow[u * n + (v - m)] += delta
            else:
                p = v * n + (u - m)
                flow[p] -= delta
                if flow[p] <= tol:
                    flow[p] = 0.0
            v = u
        supply[source] -= delta
        demand[target - m] -= delta
    cost = 0.0
    for p in range(m * n):
        if flow[p] > 0.0:
            cost += flow[p] * C[p]
    return cost


@njit(cache=True, nogil=True)
def _close(i, j, supply, row_on, col_on, rows_left, cols_left):
    """After shipping on cell (i, j), close exactly one line: the row when its supply is used up (unless
    it is the last row), else the column.  Returns (rows_left, cols_left).  One line per cell keeps the
    m + n - 1 cells a spanning tree, degenerate ones included."""
    if (supply[i] <= 0.0 and rows_left > 1) or cols_left == 1:
        row_on[i] = False
        return rows_left - 1, cols_left
    col_on[j] = False
    return rows_left, cols_left - 1


@njit(cache=True, nogil=True)
def _ship(i, j, supply, demand, row_on, col_on, cr, cc, cf, k, rows_left, cols_left):
    """Basis cell k is (i, j) with as much as both lines have left; closes one line (`_close`).  Returns
    (k + 1, rows_left, cols_left)."""
    q = min(supply[i], demand[j])
    cr[k] = i
    cc[k] = j
    cf[k] = q
    supply[i] -= q
    demand[j] -= q
    rows_left, cols_left = _close(i, j, supply, row_on, col_on, rows_left, cols_left)
    return k + 1, rows_left, cols_left


@njit(cache=True, nogil=True)
def _fill_row_minimum(C, m, n, supply, demand, row_on, col_on, cr, cc, cf, k, rows_left, cols_left):
    """Basis cells k .. m + n - 2 by the row-minimum rule: the open row with the least supply left ships
    to its cheapest open column, closing one line per cell (`_close`): the lines `_crash_basis`'s chosen
    cells leave open.  Least supply first (rather than the lowest row) leaves the heavy rows, such as
    the owner's own mass at alpha = 0.5, to take what the light ones did not: 7% fewer pivots on a hub
    graph's problems and 16-18% less time, 6-10% less on the k-NN and BA graphs', no change on the
    planted partition's (bench/weighted_simplex.py --ab)."""
    i = np.int64(-1)  # see _NOT_LITERAL
    while k < m + n - 1:
        if i < 0 or not row_on[i]:
            # the open row with the least supply left: shipping only lowers it, so it stays the least
            # until it closes
            i = -1
            for r in range(m):
                if row_on[r] and (i < 0 or supply[r] < supply[i]):
                    i = r
        best = np.inf
        j = np.int64(-1)  # see _NOT_LITERAL
        base = i * n
        for c in range(n):
            if col_on[c] and (j < 0 or C[base + c] < best):
                best = C[base + c]
                j = c
        k, rows_left, cols_left = _ship(i, j, supply, demand, row_on, col_on, cr, cc, cf, k, rows_left, cols_left)


@njit(cache=True, nogil=True)
def _mutual_minima(C, m, n, row_min, out_r, out_c):
    """The cells that are cheapest in their row and in their column (Houthakker's mutual preference; a
    column's first cheapest row), at most one per column; returns how many were written to out_r/out_c.
    Shipped on first (`_crash_basis`), they cut the simplex's pivots by 39% on the planted partition's
    problems (time per problem -21%) and 6% on the k-NN graph's (-3%), none on the BA graph's, for one
    extra pass over the costs."""
    for i in range(m):
        best = np.inf
        base = i * n
        for j in range(n):
            if C[base + j] < best:
                best = C[base + j]
        row_min[i] = best
    k = 0
    for j in range(n):
        best = np.inf
        at = -1
        for i in range(m):
            if C[i * n + j] < best:
                best = C[i * n + j]
                at = i
        if at >= 0 and best == row_min[at]:
            out_r[k] = at
            out_c[k] = j
            k += 1
    return k


@njit(cache=True, nogil=True)
def _crash_basis(C, m, n, supply, demand, row_on, col_on, cr, cc, cf, old_r, old_c, n_old):
    """A basic feasible solution that ships on the n_old cells old_r/old_c first (cheapest first, each
    while its row and column are open), then by the row-minimum rule on the lines left: the cold start
    (the mutual minima) and the warm one (an old basis whose flows are infeasible for these marginals).
    Any order of shipping on open cells closes one line per cell, so this is a spanning tree of
    m + n - 1 cells, degenerate ones included."""
    # insertion sort of the old cells by cost (m + n - 1 of them: a few dozen)
    for t in range(1, n_old):
        r = old_r[t]
        c = old_c[t]
        key = C[r * n + c]
        u = t - 1
        while u >= 0 and C[old_r[u] * n + old_c[u]] > key:
            old_r[u + 1] = old_r[u]
            old_c[u + 1] = old_c[u]
            u -= 1
        old_r[u + 1] = r
        old_c[u + 1] = c
    rows_left = m
    cols_left = n
    k = np.int64(0)  # see _NOT_LITERAL
    for t in range(n_old):
        i = old_r[t]
        j = old_c[t]
        if not (row_on[i] and col_on[j]):
            continue
        k, rows_left, cols_left = _ship(i, j, supply, demand, row_on, col_on, cr, cc, cf, k, rows_left, cols_left)
    _fill_row_minimum(C, m, n, supply, demand, row_on, col_on, cr, cc, cf, k, rows_left, cols_left)


@njit(cache=True, nogil=True)
def simplex_scratch(cap_nodes):
    """Work arrays for `simplex_core` with m + n <= cap_nodes."""
    ints = np.empty((16, cap_nodes + 1), np.int64)
    floats = np.empty((4, cap_nodes + 1))
    flags = np.empty((2, cap_nodes + 1), np.bool_)
    adj = np.empty(2 * cap_nodes, np.int64)  # adjacency lists of the basis tree, 2 (m + n - 1) slots
    return ints, floats, flags, adj


@njit(cache=True, nogil=True)
def transport_simplex(a, b, C, m, n, max_pivots):
    """The same problem by the transportation (network) simplex: a basic solution shipping on the mutual
    minima first, then row minima (a spanning tree of m + n - 1 cells, degenerate cells included), then pivots on the most negative
    reduced cost of a rotating block of rows until no reduced cost is below -1e-13 x the largest cost.
    Returns (cost, pivots), pivots = -1 when max_pivots was reached (the caller then falls back to
    `transport_exact`, which cannot cycle)."""
    ints, floats, flags, adj = simplex_scratch(m + n)
    return simplex_core(a, b, C, m, n, max_pivots, ints, floats, flags, adj)


@njit(cache=True, nogil=True)
def _tree_flows(a, b, m, n, cr, cc, cf, head, adj, resid, tdeg, queue, cdone):
    """Flows of the basis tree cr/cc[:m + n - 1] for the marginals a, b, by peeling leaves (a leaf's one
    cell carries its whole remaining mass).  False when the cells are not a spanning tree of the m + n
    nodes or some flow is negative beyond rounding (the basis is then not primal feasible for these
    marginals); rounding negatives are set to 0."""
    nn = m + n
    k = nn - 1
    total = 0.0
    for v in range(nn):
        tdeg[v] = head[v + 1] - head[v]
        resid[v] = a[v] if v < m else b[v - m]
        if v < m:
            total += a[v]
    for c in range(k):
        cdone[c] = 0
    qt = 0
    for v in range(nn):
        if tdeg[v] == 1:
            queue[qt] = v
            qt += 1
    qh = 0
    placed = 0
    while qh < qt:
        v = queue[qh]
        qh += 1
        if tdeg[v] != 1:
            continue  # the last node of the tree (degree 0 once its last cell is placed)
        c = -1
        for e in range(head[v], head[v + 1]):
            if cdone[adj[e]] == 0:
                c = adj[e]
                break
        f = resid[v]
        cf[c] = f
        cdone[c] = 1
        placed += 1
        w = m + cc[c] if v < m else cr[c]
        resid[w] -= f
        tdeg[v] = 0
        tdeg[w] -= 1
        if tdeg[w] == 1:
            queue[qt] = w
            qt += 1
    if placed != k:
        return False
    floor = -1e-14 * total
    for c in range(k):
        if cf[c] < 0.0:
            if cf[c] < floor:
                return False
            cf[c] = 0.0
    return True


@njit(cache=True, nogil=True)
def _tree_adjacency(m, n, cr, cc, head, fill, adj):
    """CSR adjacency (head, adj) of the basis tree's m + n nodes over its m + n - 1 cells."""
    nn = m + n
    for v in range(nn + 1):
        head[v] = 0
    for c in range(nn - 1):
        head[cr[c] + 1] += 1
        head[m + cc[c] + 1] += 1
    for v in range(nn):
        head[v + 1] += head[v]
        fill[v] = head[v]
    for c in range(nn - 1):
        adj[fill[cr[c]]] = c
        fill[cr[c]] += 1
        adj[fill[m + cc[c]]] = c
        fill[m + cc[c]] += 1


@njit(cache=True, nogil=True)
def _link_child(v, p, first_child, next_sib, prev_sib):
    """Make v the first child of p."""
    head = first_child[p]
    next_sib[v] = head
    prev_sib[v] = -1
    if head >= 0:
        prev_sib[head] = v
    first_child[p] = v


@njit(cache=True, nogil=True)
def _unlink_child(v, p, first_child, next_sib, prev_sib):
    """Take v out of p's children."""
    if prev_sib[v] >= 0:
        next_sib[prev_sib[v]] = next_sib[v]
    else:
        first_child[p] = next_sib[v]
    if next_sib[v] >= 0:
        prev_sib[next_sib[v]] = prev_sib[v]


@njit(cache=True, nogil=True)
def simplex_core(a, b, C, m, n, max_pivots, ints, floats, flags, adj, warm=False):
    """`transport_simplex` on caller-owned scratch (`simplex_scratch`), so that a loop over many small
    problems allocates nothing.  warm=True: ints[0][:m + n - 1] / ints[1][:m + n - 1] (rows / columns)
    hold a basis to start from (the Ricci flow passes an edge's optimal basis of the previous step); it
    is used when it is a spanning tree whose flows for a, b are >= 0, else the cold start is.
    Either way ints[0] / ints[1] hold the final basis on return."""
    nn = m + n
    k_cells = nn - 1
    cr = ints[0]
    cc = ints[1]
    head = ints[2]
    fill = ints[3]
    parent = ints[4]
    pcell = ints[5]
    depth = ints[6]
    queue = ints[7]
    side = ints[8]
    path_cells = ints[9]
    nodes_j = ints[10]
    nodes_i = ints[11]
    state = ints[12]
    # the basis tree's children as doubly linked sibling lists, so that a pivot walks only the subtree it
    # re-hangs (a hub's problem has hundreds of nodes, most of them leaves, and the cut-off subtree is
    # usually a few of them) instead of every node, several times
    first_child = ints[13]
    next_sib = ints[14]
    prev_sib = ints[15]
    cf = floats[0]
    supply = floats[1]
    demand = floats[2]
    pot = floats[3]
    row_on = flags[0]
    col_on = flags[1]
    for i in range(m):
        supply[i] = a[i]
        row_on[i] = True
    for j in range(n):
        demand[j] = b[j]
        col_on[j] = True
    cmax = 0.0
    for p in range(m * n):
        if C[p] > cmax:
            cmax = C[p]
    started = False
    if warm:
        valid = True
        for c in range(k_cells):
            if cr[c] < 0 or cr[c] >= m or cc[c] < 0 or cc[c] >= n:
                valid = False
        if valid:
            _tree_adjacency(m, n, cr, cc, head, fill, adj)
            started = _tree_flows(a, b, m, n, cr, cc, cf, head, adj, pot, depth, queue, state)
            if not started:
                for c in range(k_cells):
                    nodes_i[c] = cr[c]
                    nodes_j[c] = cc[c]
                _crash_basis(C, m, n, supply, demand, row_on, col_on, cr, cc, cf, nodes_i, nodes_j, k_cells)
                _tree_adjacency(m, n, cr, cc, head, fill, adj)
                started = True
    if not started:
        # Vogel's approximation halved the pivots on the k-NN graph's problems but cost as much as it saved;
        # the mutual minima, then row minima, cost one pass over the costs (pot is free until the tree is)
        n_pref = _mutual_minima(C, m, n, pot, nodes_i, nodes_j)
        _crash_basis(C, m, n, supply, demand, row_on, col_on, cr, cc, cf, nodes_i, nodes_j, n_pref)
        _tree_adjacency(m, n, cr, cc, head, fill, adj)
    tol = 1e-13 * max(cmax, 1e-300)
    block = max(32, int(np.sqrt(m * n)))
    start = 0  # the row the next pricing starts at
    pivots = 0
    # potentials u_i + v_j = C_ij along the first basis tree from node 0; each pivot then updates parents,
    # depths and potentials of the re-hung subtree only
    for v in range(nn):
        depth[v] = -1
    depth[0] = 0
    parent[0] = -1
    pcell[0] = -1
    pot[0] = 0.0
    queue[0] = 0
    qh = 0
    qt = 1
    while qh < qt:
        v = queue[qh]
        qh += 1
        for e in range(head[v], head[v + 1]):
            c = adj[e]
            w = m + cc[c] if v < m else cr[c]
            if depth[w] < 0:
                depth[w] = depth[v] + 1
                parent[w] = v
                pcell[w] = c
                pot[w] = C[cr[c] * n + cc[c]] - pot[v]
                queue[qt] = w
                qt += 1
    for v in range(nn):
        first_child[v] = -1
    for t in range(1, qt):
        _link_child(queue[t], parent[queue[t]], first_child, next_sib, prev_sib)
    while True:
        # pricing: whole rows in rotating order, until a block's worth of cells is scanned and one prices
        # out; the best of those enters.  Row by row, the inner loop is a plain scan with the row's
        # potential held (22% faster per problem on the k-NN graph's than stepping (i, j) along a flat index)
        best = -tol
        enter = -1
        scanned = 0
        i = start
        for t in range(m):
            ui = pot[i]
            base = i * n
            for j in range(n):
                r = C[base + j] - ui - pot[m + j]
                if r < best:
                    best = r
                    enter = base + j
            scanned += n
            i += 1
            if i == m:
                i = 0
            if enter >= 0 and scanned >= block:
                break
        if enter < 0:
            break
        start = i
        pivots += 1
        if pivots > max_pivots:
            return 0.0, -1
        ei = enter // n
        ej = enter - ei * n
        # tree path from column node J up and row node I up to their common ancestor
        x = m + ej
        y = ei
        na = 0
        nb = 0
        while depth[x] > depth[y]:
            path_cells[na] = pcell[x]
            nodes_j[na] = x
            na += 1
            x = parent[x]
        while depth[y] > depth[x]:
            side[nb] = pcell[y]
            nodes_i[nb] = y
            nb += 1
            y = parent[y]
        while x != y:
            path_cells[na] = pcell[x]
            nodes_j[na] = x
            na += 1
            x = parent[x]
            side[nb] = pcell[y]
            nodes_i[nb] = y
            nb += 1
            y = parent[y]
        for t in range(nb):
            path_cells[na + t] = side[nb - 1 - t]
        total = na + nb
        # cells at even positions from J lose theta, odd ones gain it
        theta = np.inf
        leave = -1
        leave_t = -1
        for t in range(0, total, 2):
            c = path_cells[t]
            if cf[c] < theta:
                theta = cf[c]
                leave = c
                leave_t = t
        for t in range(total):
            c = path_cells[t]
            if t % 2 == 0:
                cf[c] -= theta
            else:
                cf[c] += theta
        # the leaving cell cuts off the subtree below `child`; it holds J when the cell lies on J's side
        if leave_t < na:
            child = nodes_j[leave_t]
            e_in = m + ej
            e_out = ei
            shift = -best  # rows of the subtree gain -r, its columns r: then u_I + v_J = C_IJ
        else:
            child = nodes_i[nb - 1 - (leave_t - na)]
            e_in = ei
            e_out = m + ej
            shift = best
        # re-hang the subtree from e_in on the entering cell (which takes the leaving cell's slot): the
        # stem from e_in up to child turns around
        v = e_in
        prev = e_out
        prev_cell = leave
        while True:
            nxt = parent[v]
            nxt_cell = pcell[v]
            _unlink_child(v, nxt, first_child, next_sib, prev_sib)
            parent[v] = prev
            pcell[v] = prev_cell
            _link_child(v, prev, first_child, next_sib, prev_sib)
            if v == child:
                break
            prev = v
            prev_cell = nxt_cell
            v = nxt
        # the subtree's nodes (the same set as before the re-hang), from e_in: rows gain shift, columns
        # lose it (then u_I + v_J = C_IJ), and depths count from e_out, which lies outside it
        depth[e_in] = depth[e_out] + 1
        queue[0] = e_in
        top = 1
        while top > 0:
            top -= 1
            v = queue[top]
            if v < m:
                pot[v] += shift
            else:
                pot[v] -= shift
            c = first_child[v]
            while c >= 0:
                depth[c] = depth[v] + 1
                queue[top] = c
                top += 1
                c = next_sib[c]
        cr[leave] = ei
        cc[leave] = ej
        cf[leave] = theta
    cost = 0.0
    for c in range(k_cells):
        if cf[c] > 0.0:
            cost += cf[c] * C[cr[c] * n + cc[c]]
    return cost, pivots


@njit(cache=True, nogil=True)
def transport_sinkhorn(a, b, C, m, n, epsilon, tol, max_iter, f, g, rows, cols):
    """Log-domain Sinkhorn with epsilon scaling (from max C down to epsilon, halving) on the same problem,
    then the rounding of Altschuler et al. (2017) to a plan with exactly the marginals a, b.  Returns
    (<P, C> of that feasible plan, final L1 row-marginal error before rounding, converged)."""
    cmax = 0.0
    for p in range(m * n):
        if C[p] > cmax:
            cmax = C[p]
    for i in range(m):
        f[i] = 0.0
    for j in range(n):
        g[j] = 0.0
    eps = max(cmax, epsilon)
    err = np.inf
    converged = False
    la = np.empty(m)
    lb = np.empty(n)
    for i in range(m):
        la[i] = np.log(a[i])
    for j in range(n):
        lb[j] = np.log(b[j])
    while True:
        converged = False
        inv = 1.0 / eps
        for it in range(max_iter):
            for i in range(m):
                big = -np.inf
                for j in range(n):
                    s = (g[j] - C[i * n + j]) * inv + lb[j]
                    if s > big:
                        big = s
                acc = 0.0
                for j in range(n):
                    acc += np.exp((g[j] - C[i * n + j]) * inv + lb[j] - big)
                f[i] = -eps * (big + np.log(acc))
            for j in range(n):
                big = -np.inf
                for i in range(m):
                    s = (f[i] - C[i * n + j]) * inv + la[i]
                    if s > big:
                        big = s
                acc = 0.0
                for i in range(m):
                    acc += np.exp((f[i] - C[i * n + j]) * inv + la[i] - big)
                g[j] = -eps * (big + np.log(acc))
            if it % 8 != 7 and it != max_iter - 1:
                continue
            # columns now match b; measure the rows
            err = 0.0
            for i in range(m):
                r = 0.0
                for j in range(n):
                    r += np.exp((f[i] + g[j] - C[i * n + j]) * inv + la[i] + lb[j])
                err += abs(r - a[i])
            if err < tol:
                converged = True
                break
        if eps <= epsilon:
            break
        eps = max(eps * 0.5, epsilon)
    # rounding to the transport polytope: shrink rows, then columns, then add the rank-one remainder
    for i in range(m):
        r = 0.0
        for j in range(n):
            r += a[i] * b[j] * np.exp((f[i] + g[j] - C[i * n + j]) / eps)
        rows[i] = min(1.0, a[i] / r) if r > 0 else 1.0
    for j in range(n):
        c = 0.0
        for i in range(m):
            c += rows[i] * a[i] * b[j] * np.exp((f[i] + g[j] - C[i * n + j]) / eps)
        cols[j] = min(1.0, b[j] / c) if c > 0 else 1.0
    row_left = np.empty(m)
    col_left = np.empty(n)
    for i in range(m):
        row_left[i] = a[i]
    for j in range(n):
        col_left[j] = b[j]
    cost = 0.0
    for i in range(m):
        for j in range(n):
            pij = rows[i] * cols[j] * a[i] * b[j] * np.exp((f[i] + g[j] - C[i * n + j]) / eps)
            row_left[i] -= pij
            col_left[j] -= pij
            cost += pij * C[i * n + j]
    left = 0.0
    for i in range(m):
        row_left[i] = max(row_left[i], 0.0)
        left += row_left[i]
    if left > 0:
        for i in range(m):
            for j in range(n):
                cost += row_left[i] * max(col_left[j], 0.0) / left * C[i * n + j]
    return cost, err, converged


@njit(cache=True, nogil=True)
def _owns(indptr, x, y):
    """Edge x-y is owned by the end with the smaller (degree, id): hubs own few edges."""
    dx = indptr[x + 1] - indptr[x]
    dy = indptr[y + 1] - indptr[y]
    return dy > dx or (dy == dx and y > x)


@njit(cache=True, nogil=True)
def plan_groups(indptr, indices, owners, budget, entries, entry_row, group_ptr, group_targets):
    """Split the owned CSR entries, taken owner by owner in the order `owners` (a locality order), into
    consecutive groups whose ground costs fit `budget` entries; an edge larger than the budget is a group
    of its own.  A group's costs are held in the smaller of two layouts: one (deg x + 1) x (deg y + 1)
    matrix per edge x-y, or one table of sources x targets (the union of its N[x] by the union of its
    N[y]), which is far smaller where the edges' neighbourhoods overlap (hubs: a hub's N[y] is a column
    block of every one of its edges' matrices), so that such a group holds many more edges and a node is
    searched from in fewer groups.  Fills entries[:n_owned] (CSR positions), entry_row (their owner x),
    group_ptr[:n_groups + 1] and group_targets[:n_groups] (the number of targets of a table group, 0 for
    per-edge matrices); returns (n_owned, n_groups).  Topology only: the Ricci flow plans once for all
    its steps."""
    n_nodes = indptr.shape[0] - 1
    smark = np.zeros(n_nodes, np.int64)
    tmark = np.zeros(n_nodes, np.int64)
    omark = np.zeros(n_nodes, np.int64)  # owners whose N[x] is in the group's sources
    stamp = np.int64(1)  # see _NOT_LITERAL
    n_e = 0
    n_g = 0
    cells = np.int64(0)
    n_src = np.int64(0)
    n_tgt = np.int64(0)
    group_ptr[0] = 0
    for i in range(owners.shape[0]):
        x = owners[i]
        size_x = indptr[x + 1] - indptr[x] + 1
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            if not _owns(indptr, x, y):
                continue
            size = size_x * (indptr[y + 1] - indptr[y] + 1)
            new_src = np.int64(0)
            if omark[x] != stamp:
                for q in range(indptr[x] - 1, indptr[x + 1]):
                    u = x if q < indptr[x] else indices[q]
                    if smark[u] != stamp:
                        new_src += 1
            new_tgt = np.int64(0)
            for r in range(indptr[y] - 1, indptr[y + 1]):
                v = y if r < indptr[y] else indices[r]
                if tmark[v] != stamp:
                    new_tgt += 1
            table = (n_src + new_src) * (n_tgt + new_tgt)
            if n_e > group_ptr[n_g] and min(cells + size, table) > budget:
                group_targets[n_g] = n_tgt if n_src * n_tgt < cells else 0
                n_g += 1
                group_ptr[n_g] = n_e
                cells = 0
                n_src = 0
                n_tgt = 0
                stamp += 1
            cells += size
            if omark[x] != stamp:
                omark[x] = stamp
                for q in range(indptr[x] - 1, indptr[x + 1]):
                    u = x if q < indptr[x] else indices[q]
                    if smark[u] != stamp:
                        smark[u] = stamp
                        n_src += 1
            for r in range(indptr[y] - 1, indptr[y + 1]):
                v = y if r < indptr[y] else indices[r]
                if tmark[v] != stamp:
                    tmark[v] = stamp
                    n_tgt += 1
            entries[n_e] = p
            entry_row[n_e] = x
            n_e += 1
    if n_e > group_ptr[n_g]:
        group_targets[n_g] = n_tgt if n_src * n_tgt < cells else 0
        n_g += 1
        group_ptr[n_g] = n_e
    return n_e, n_g


@njit(cache=True, nogil=True)
def build_group(indptr, indices, entries, entry_row, e0, e1, stamp, table, smark, slist, spos, omark, ofirst, olast,
                eoff, tmark, tpos):
    """Index group entries[e0:e1] (marks carry `stamp`, unique per group): slist lists its sources (the
    N[x] of its owners; spos[u] is u's place in it), ofirst/olast give each owner's run of group edges.
    Per-edge layout (table False): eoff[e - e0] is the offset of edge e's (deg x + 1) x (deg y + 1) cost
    matrix (rows x then x's neighbours, columns y then y's).  Table layout: the costs are one
    n_sources x n_targets table, row spos[u], column tpos[v] over the union of the edges' N[y].
    Returns (n_sources, n_targets (0 per edge), total cost entries)."""
    n_s = np.int64(0)  # see _NOT_LITERAL
    n_t = np.int64(0)
    cells = np.int64(0)
    for e in range(e0, e1):
        x = entry_row[e]
        y = indices[entries[e]]
        if omark[x] != stamp:
            omark[x] = stamp
            ofirst[x] = e
            for q in range(indptr[x] - 1, indptr[x + 1]):
                u = x if q < indptr[x] else indices[q]
                if smark[u] != stamp:
                    smark[u] = stamp
                    slist[n_s] = u
                    spos[u] = n_s
                    n_s += 1
        olast[x] = e + 1
        if table:
            for r in range(indptr[y] - 1, indptr[y + 1]):
                v = y if r < indptr[y] else indices[r]
                if tmark[v] != stamp:
                    tmark[v] = stamp
                    tpos[v] = n_t
                    n_t += 1
        else:
            eoff[e - e0] = cells
            cells += (indptr[x + 1] - indptr[x] + 1) * (indptr[y + 1] - indptr[y] + 1)
    if table:
        cells = n_s * n_t
    else:
        eoff[e1 - e0] = cells
    return n_s, n_t, cells


@njit(cache=True, nogil=True)
def group_searches(indptr, indices, weights, twin, entries, slist, omark, ofirst, olast, stamp, e0, eoff, n_t, tpos,
                   s0, s1, costs, need, seen, dist, hnode, hkey, hpos, bound, tlist):
    """One Dijkstra per group source u = slist[s], s in [s0, s1), to exactly the targets u's problems need
    (N[y] for every group edge x-y with x in N[u]); then u's row of each of those edges' cost matrices
    is written from it (n_t > 0: row s of the group's table, at its targets' columns tpos; see
    build_group).  need/seen are this thread's stamps; s + 1 is unique per search within one scratch;
    bound (float) and tlist (int) are per-thread scratch of N entries.  Rows of different sources never
    overlap, so threads may split the sources."""
    for s in range(s0, s1):
        u = slist[s]
        mark = s + 1
        count = np.int64(0)  # typed, not literal: see _NOT_LITERAL
        # limit: over the targets, the longest of their shortest u - x - y - v path sums (each summed in the
        # order the search sums it); bound[v] holds target v's shortest.  After flow steps spread the
        # lengths, this queues fewer nodes than the longest path sum over all targets did (5-10% less
        # search time on the flowed planted partition, 2-4% on the k-NN graph; no change at step 0)
        for q in range(indptr[u] - 1, indptr[u + 1]):
            x = u if q < indptr[u] else indices[q]
            if omark[x] != stamp:
                continue
            wux = 0.0 if q < indptr[u] else weights[q]
            for e in range(ofirst[x], olast[x]):
                y = indices[entries[e]]
                wuy = wux + weights[entries[e]]
                for r in range(indptr[y] - 1, indptr[y + 1]):
                    v = y if r < indptr[y] else indices[r]
                    path = wuy if r < indptr[y] else wuy + weights[r]
                    if need[v] != mark:
                        need[v] = mark
                        bound[v] = path
                        tlist[count] = v
                        count += 1
                    elif path < bound[v]:
                        bound[v] = path
        limit = 0.0
        for t in range(count):
            if bound[tlist[t]] > limit:
                limit = bound[tlist[t]]
        search_to_targets(indptr, indices, weights, u, need, mark, count, dist, seen, hnode, hkey, hpos, limit)
        if n_t > 0:
            row = s * n_t
            for t in range(count):
                v = tlist[t]
                costs[row + tpos[v]] = dist[v] if seen[v] == mark else np.inf
            continue
        for q in range(indptr[u] - 1, indptr[u + 1]):
            x = u if q < indptr[u] else indices[q]
            if omark[x] != stamp:
                continue
            row = 0 if q < indptr[u] else twin[q] - indptr[x] + 1  # u's place in N[x]
            for e in range(ofirst[x], olast[x]):
                y = indices[entries[e]]
                width = indptr[y + 1] - indptr[y] + 1
                at = eoff[e - e0] + row * width
                costs[at] = dist[y] if seen[y] == mark else np.inf
                for r in range(indptr[y], indptr[y + 1]):
                    v = indices[r]
                    costs[at + 1 + r - indptr[y]] = dist[v] if seen[v] == mark else np.inf
    return 0


@njit(cache=True, nogil=True)
def group_transport(indptr, indices, nbr_mass, self_mass, twin, entries, entry_row, e0, eoff, n_t, spos, tpos, costs,
                    a0, a1, solver, epsilon, tol, max_iter, zero_below, max_deg, out_kappa, out_dist, out_err, out_ok,
                    basis_ptr, basis_cells, basis_count, warm):
    """Curvature 1 - W1(mu_x, mu_y) / d(x, y) of the group edges entries[e0 + a0:e0 + a1] from their cost
    matrices in costs, or from the group's table when n_t > 0 (see build_group), written to both CSR
    entries.  mu_x puts self_mass[x] on x and nbr_mass[p] on the neighbour of entry p.  An edge with d(x, y) < zero_below gets 0 (GRC's rule).
    With warm=True (exact solver), plan edge e's optimal basis is kept in basis_cells[basis_ptr[e]:] (cell
    codes row * (deg y + 1) + column over the full N[x] x N[y] matrix, basis_count[e] of them, 0 = none)
    and the next call on the same edges starts its simplex from it: the Ricci flow's lengths move little
    per step, so the old basis is usually still feasible and close to optimal."""
    n_nodes = indptr.shape[0] - 1
    cap = max_deg + 1
    a_full = np.empty(cap, np.int64)
    rmap = np.full(cap, -1, np.int64)
    cmap = np.full(cap, -1, np.int64)
    mstamp = np.zeros(n_nodes, np.int64)
    mval = np.zeros(n_nodes)
    a = np.empty(cap)
    b = np.empty(cap)
    a_row = np.empty(cap, np.int64)
    b_col = np.empty(cap, np.int64)
    b_at = np.empty(cap, np.int64)  # where column j's costs are read: b_col[j] (per edge) or tpos (table)
    pot = np.empty(2 * cap)
    sdist = np.empty(2 * cap)
    parent = np.empty(2 * cap, np.int64)
    done = np.empty(2 * cap, np.int8)
    f = np.empty(cap)
    g = np.empty(cap)
    rows = np.empty(cap)
    cols = np.empty(cap)
    cost = np.empty(64)
    flow = np.empty(64)
    ints, floats, flags, adj = simplex_scratch(2 * cap)
    for k in range(a0, a1):
        e = e0 + k
        p = entries[e]
        x = entry_row[e]
        y = indices[p]
        width = indptr[y + 1] - indptr[y] + 1
        at = eoff[k] if n_t == 0 else 0
        dxy = costs[at] if n_t == 0 else costs[spos[x] * n_t + tpos[y]]  # row x, column y
        if dxy < zero_below:
            out_kappa[p] = 0.0
            out_kappa[twin[p]] = 0.0
            out_dist[p] = dxy
            out_dist[twin[p]] = dxy
            out_err[p] = 0.0
            out_err[twin[p]] = 0.0
            out_ok[p] = 1
            out_ok[twin[p]] = 1
            continue
        # mu_y on N[y]; mass shared with mu_x stays in place at no cost (W1 depends on mu_x - mu_y)
        ms = e + 1
        mstamp[y] = ms
        mval[y] = self_mass[y]
        for q in range(indptr[y], indptr[y + 1]):
            mstamp[indices[q]] = ms
            mval[indices[q]] = nbr_mass[q]
        m = np.int64(0)  # see _NOT_LITERAL
        for q in range(indptr[x] - 1, indptr[x + 1]):
            node = x if q < indptr[x] else indices[q]
            mass = self_mass[x] if q < indptr[x] else nbr_mass[q]
            if mstamp[node] == ms:
                shared = min(mass, mval[node])
                mass -= shared
                mval[node] -= shared
            if mass > 0.0:
                a[m] = mass
                a_full[m] = q - indptr[x] + 1
                a_row[m] = at + a_full[m] * width if n_t == 0 else spos[node] * n_t
                m += 1
        n = np.int64(0)
        for q in range(indptr[y] - 1, indptr[y + 1]):
            node = y if q < indptr[y] else indices[q]
            if mval[node] > 0.0:
                b[n] = mval[node]
                b_col[n] = q - indptr[y] + 1
                b_at[n] = b_col[n] if n_t == 0 else tpos[node]
                n += 1
            mval[node] = 0.0
        value = 0.0
        err = 0.0
        ok = 1
        if m > 0 and n > 0:
            if cost.shape[0] < m * n:
                cost = np.empty(max(m * n, 2 * cost.shape[0]))
                flow = np.empty(cost.shape[0])
            for i in range(m):
                base = a_row[i]
                for j in range(n):
                    cost[i * n + j] = costs[base + b_at[j]] / dxy
            if solver == EXACT:
                start = False
                if warm and basis_count[e] == m + n - 1:
                    for i in range(m):
                        rmap[a_full[i]] = i
                    for j in range(n):
                        cmap[b_col[j]] = j
                    bp = basis_ptr[e]
                    for c in range(m + n - 1):
                        code = basis_cells[bp + c]
                        # a cell of a row or column that is empty now maps to -1: simplex_core then starts cold
                        ints[0, c] = rmap[code // width]
                        ints[1, c] = cmap[code % width]
                    for i in range(m):
                        rmap[a_full[i]] = -1
                    for j in range(n):
                        cmap[b_col[j]] = -1
                    start = True
                value, pivots = simplex_core(a, b, cost, m, n, 50 * (m + n) * (m + n) + 1000, ints, floats, flags,
                                             adj, start)
                if pivots < 0:
                    value = transport_exact(a, b, cost, m, n, flow, pot, sdist, parent, done)
                if warm:
                    # codes are int32: a matrix of 2^31 cells or more (two adjacent nodes of degree > 46,000)
                    # keeps no basis
                    if pivots < 0 or (indptr[x + 1] - indptr[x] + 1) * width >= 2147483647:
                        basis_count[e] = 0
                    else:
                        bp = basis_ptr[e]
                        for c in range(m + n - 1):
                            basis_cells[bp + c] = a_full[ints[0, c]] * width + b_col[ints[1, c]]
                        basis_count[e] = m + n - 1
            else:
                value, err, conv = transport_sinkhorn(a, b, cost, m, n, epsilon, tol, max_iter, f, g, rows, cols)
                ok = 1 if conv else 0
        kappa = 1.0 - value
        out_kappa[p] = kappa
        out_kappa[twin[p]] = kappa
        out_dist[p] = dxy
        out_dist[twin[p]] = dxy
        out_err[p] = err
        out_err[twin[p]] = err
        out_ok[p] = ok
        out_ok[twin[p]] = ok
    return 0
