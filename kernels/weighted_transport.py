"""Weighted Ollivier-Ricci curvature: bounded Dijkstra ground costs, an exact float transport solver
(successive shortest paths with potentials) and log-domain Sinkhorn with a feasible rounded plan.

Work is split by "owner" nodes: edge x-y is owned by the end with the smaller (degree, id), so hubs own
few edges and the Dijkstra searches start from the small side.  For an owner x, one Dijkstra from each
node of the closed neighbourhood N[x] runs until every node of N[y] (for a batch of owned edges x-y) is
settled: shortest paths may run anywhere in the graph, but no search goes past the farthest target, and
all scratch is O(N) per thread plus one (deg x + 1) x |targets| cost block (capped by `budget`).
"""

import numpy as np
from numba import njit

EXACT = 0
SINKHORN = 1


@njit(cache=True, nogil=True)
def _heap_push(hnode, hkey, hpos, size, v, key):
    """Insert v or lower its key (indexed binary min-heap); returns the new size."""
    i = hpos[v]
    if i < 0:
        i = size
        size += 1
    hnode[i] = v
    hkey[i] = key
    hpos[v] = i
    while i > 0:
        parent = (i - 1) >> 1
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
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and hkey[child + 1] < hkey[child]:
            child += 1
        if hkey[child] >= key:
            break
        hnode[i] = hnode[child]
        hkey[i] = hkey[child]
        hpos[hnode[i]] = i
        i = child
    hnode[i] = v
    hkey[i] = key
    hpos[v] = i
    return size


@njit(cache=True, nogil=True)
def bounded_dijkstra(indptr, indices, weights, source, tstamp, stamp, tpos, n_targets, row, dist, seen, dstamp,
                     hnode, hkey, hpos):
    """Shortest-path lengths from source to the nodes marked tstamp == stamp, written to row[tpos[v]];
    stops as soon as all n_targets are settled.  Unreached targets stay inf."""
    for t in range(n_targets):
        row[t] = np.inf
    size = 0
    seen[source] = dstamp
    dist[source] = 0.0
    size = _heap_push(hnode, hkey, hpos, size, source, 0.0)
    found = 0
    while size > 0:
        v = hnode[0]
        dv = hkey[0]
        size = _heap_pop(hnode, hkey, hpos, size)
        if tstamp[v] == stamp:
            row[tpos[v]] = dv
            found += 1
            if found == n_targets:
                break
        for q in range(indptr[v], indptr[v + 1]):
            u = indices[q]
            nd = dv + weights[q]
            if seen[u] != dstamp:
                seen[u] = dstamp
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
def transport_simplex(a, b, C, m, n, max_pivots):
    """The same problem by the transportation (network) simplex: a least-cost-first basic solution (a
    spanning tree of m + n - 1 cells, degenerate cells included), then pivots on the most negative
    reduced cost of a rotating block of cells until no reduced cost is below -1e-13 x the largest cost.
    Returns (cost, pivots), pivots = -1 when max_pivots was reached (the caller then falls back to
    `transport_exact`, which cannot cycle)."""
    nn = m + n
    k_cells = nn - 1
    cr = np.empty(k_cells, np.int64)
    cc = np.empty(k_cells, np.int64)
    cf = np.empty(k_cells)
    supply = a[:m].copy()
    demand = b[:n].copy()
    row_on = np.ones(m, np.bool_)
    col_on = np.ones(n, np.bool_)
    rows_left = m
    cols_left = n
    order = np.argsort(C[:m * n], kind="mergesort")
    k = 0
    cmax = 0.0
    for p in range(m * n):
        if C[p] > cmax:
            cmax = C[p]
    for t in range(m * n):
        if k == k_cells:
            break
        p = order[t]
        i = p // n
        j = p - i * n
        if not row_on[i] or not col_on[j]:
            continue
        q = min(supply[i], demand[j])
        cr[k] = i
        cc[k] = j
        cf[k] = q
        k += 1
        supply[i] -= q
        demand[j] -= q
        if (supply[i] <= 0.0 and rows_left > 1) or cols_left == 1:
            row_on[i] = False
            rows_left -= 1
        else:
            col_on[j] = False
            cols_left -= 1
    # tree scratch
    head = np.empty(nn + 1, np.int64)
    adj = np.empty(2 * k_cells, np.int64)
    fill = np.empty(nn, np.int64)
    parent = np.empty(nn, np.int64)
    pcell = np.empty(nn, np.int64)
    depth = np.empty(nn, np.int64)
    pot = np.empty(nn)
    queue = np.empty(nn, np.int64)
    path_cells = np.empty(nn, np.int64)
    side = np.empty(nn, np.int64)
    tol = 1e-13 * max(cmax, 1e-300)
    block = max(32, int(np.sqrt(m * n)))
    start = 0
    pivots = 0
    while True:
        # adjacency of the basis tree, then potentials u_i + v_j = C_ij along it from node 0
        for v in range(nn + 1):
            head[v] = 0
        for c in range(k_cells):
            head[cr[c] + 1] += 1
            head[m + cc[c] + 1] += 1
        for v in range(nn):
            head[v + 1] += head[v]
            fill[v] = head[v]
        for c in range(k_cells):
            adj[fill[cr[c]]] = c
            fill[cr[c]] += 1
            adj[fill[m + cc[c]]] = c
            fill[m + cc[c]] += 1
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
        # pricing over rotating blocks
        best = -tol
        enter = -1
        scanned = 0
        while scanned < m * n:
            stop = min(scanned + block, m * n)
            for t in range(scanned, stop):
                p = start + t
                if p >= m * n:
                    p -= m * n
                i = p // n
                j = p - i * n
                r = C[p] - pot[i] - pot[m + j]
                if r < best:
                    best = r
                    enter = p
            scanned = stop
            if enter >= 0:
                break
        if enter < 0:
            break
        start = enter + 1
        if start >= m * n:
            start = 0
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
            na += 1
            x = parent[x]
        while depth[y] > depth[x]:
            side[nb] = pcell[y]
            nb += 1
            y = parent[y]
        while x != y:
            path_cells[na] = pcell[x]
            na += 1
            x = parent[x]
            side[nb] = pcell[y]
            nb += 1
            y = parent[y]
        for t in range(nb):
            path_cells[na + t] = side[nb - 1 - t]
        total = na + nb
        # cells at even positions from J lose theta, odd ones gain it
        theta = np.inf
        leave = -1
        for t in range(0, total, 2):
            c = path_cells[t]
            if cf[c] < theta:
                theta = cf[c]
                leave = c
        for t in range(total):
            c = path_cells[t]
            if t % 2 == 0:
                cf[c] -= theta
            else:
                cf[c] += theta
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
def weighted_ollivier_range(indptr, indices, weights, nbr_mass, self_mass, twin, start, stop, solver,
                            epsilon, tol, max_iter, zero_below, budget, out_kappa, out_dist, out_err, out_ok):
    """Curvature 1 - W1(mu_x, mu_y) / d(x, y) of every edge owned by x in [start, stop), written to both
    CSR entries.  mu_x puts self_mass[x] on x and nbr_mass[p] on the neighbour of entry p; the ground
    cost is the weighted shortest-path length.  An edge with d(x, y) < zero_below gets 0 (GRC's rule)."""
    n_nodes = indptr.shape[0] - 1
    dist = np.empty(n_nodes)
    seen = np.zeros(n_nodes, np.int64)
    hnode = np.empty(n_nodes, np.int32)
    hkey = np.empty(n_nodes)
    hpos = np.full(n_nodes, -1, np.int32)
    tstamp = np.zeros(n_nodes, np.int64)
    tpos = np.zeros(n_nodes, np.int32)
    mstamp = np.zeros(n_nodes, np.int64)
    mval = np.zeros(n_nodes)
    dstamp = 0
    stamp = 0
    max_deg = 0
    for v in range(n_nodes):
        d = indptr[v + 1] - indptr[v]
        if d > max_deg:
            max_deg = d
    cap = max_deg + 1
    a = np.empty(cap)
    b = np.empty(cap)
    a_row = np.empty(cap, np.int64)
    b_col = np.empty(cap, np.int64)
    b_node = np.empty(cap, np.int64)
    pot = np.empty(2 * cap)
    sdist = np.empty(2 * cap)
    parent = np.empty(2 * cap, np.int64)
    done = np.empty(2 * cap, np.int8)
    f = np.empty(cap)
    g = np.empty(cap)
    rows = np.empty(cap)
    cols = np.empty(cap)
    cost = np.empty(16)
    flow = np.empty(16)
    block = np.empty(16)
    targets = np.empty(n_nodes, np.int64)
    for x in range(start, stop):
        deg_x = indptr[x + 1] - indptr[x]
        n_src = deg_x + 1
        p = indptr[x]
        while p < indptr[x + 1]:
            # a batch of owned edges x-y whose target union fits the budget
            stamp += 1
            n_t = 0
            first = p
            while p < indptr[x + 1]:
                y = indices[p]
                deg_y = indptr[y + 1] - indptr[y]
                if deg_y < deg_x or (deg_y == deg_x and y < x):
                    p += 1
                    continue
                extra = 0
                if tstamp[y] != stamp:
                    extra += 1
                for q in range(indptr[y], indptr[y + 1]):
                    if tstamp[indices[q]] != stamp:
                        extra += 1
                if n_t > 0 and (n_t + extra) * n_src > budget:
                    break
                if tstamp[y] != stamp:
                    tstamp[y] = stamp
                    tpos[y] = n_t
                    targets[n_t] = y
                    n_t += 1
                for q in range(indptr[y], indptr[y + 1]):
                    z = indices[q]
                    if tstamp[z] != stamp:
                        tstamp[z] = stamp
                        tpos[z] = n_t
                        targets[n_t] = z
                        n_t += 1
                p += 1
            last = p
            if n_t == 0:
                continue
            if block.shape[0] < n_src * n_t:
                block = np.empty(max(n_src * n_t, 2 * block.shape[0]))
            for s in range(n_src):
                source = x if s == 0 else indices[indptr[x] + s - 1]
                dstamp += 1
                bounded_dijkstra(indptr, indices, weights, source, tstamp, stamp, tpos, n_t,
                                 block[s * n_t:(s + 1) * n_t], dist, seen, dstamp, hnode, hkey, hpos)
            for e in range(first, last):
                y = indices[e]
                deg_y = indptr[y + 1] - indptr[y]
                if deg_y < deg_x or (deg_y == deg_x and y < x):
                    continue
                dxy = block[tpos[y]]  # row 0 is the source x
                if dxy < zero_below:
                    out_kappa[e] = 0.0
                    out_kappa[twin[e]] = 0.0
                    out_dist[e] = dxy
                    out_dist[twin[e]] = dxy
                    out_err[e] = 0.0
                    out_err[twin[e]] = 0.0
                    out_ok[e] = 1
                    out_ok[twin[e]] = 1
                    continue
                # mu_y on N[y]; mass shared with mu_x stays in place at no cost (W1 depends on mu_x - mu_y)
                ms = dstamp + 1  # a stamp no earlier edge used
                dstamp += 1
                mstamp[y] = ms
                mval[y] = self_mass[y]
                for q in range(indptr[y], indptr[y + 1]):
                    mstamp[indices[q]] = ms
                    mval[indices[q]] = nbr_mass[q]
                m = 0
                for s in range(n_src):
                    node = x if s == 0 else indices[indptr[x] + s - 1]
                    mass = self_mass[x] if s == 0 else nbr_mass[indptr[x] + s - 1]
                    if mstamp[node] == ms:
                        shared = min(mass, mval[node])
                        mass -= shared
                        mval[node] -= shared
                    if mass > 0.0:
                        a[m] = mass
                        a_row[m] = s
                        m += 1
                n = 0
                for q in range(indptr[y] - 1, indptr[y + 1]):
                    node = y if q < indptr[y] else indices[q]
                    if mval[node] > 0.0:
                        b[n] = mval[node]
                        b_col[n] = tpos[node]
                        b_node[n] = node
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
                        base = a_row[i] * n_t
                        for j in range(n):
                            cost[i * n + j] = block[base + b_col[j]] / dxy
                    if solver == EXACT:
                        value, pivots = transport_simplex(a, b, cost, m, n, 50 * (m + n) * (m + n) + 1000)
                        if pivots < 0:
                            value = transport_exact(a, b, cost, m, n, flow, pot, sdist, parent, done)
                    else:
                        value, err, conv = transport_sinkhorn(a, b, cost, m, n, epsilon, tol, max_iter, f, g,
                                                              rows, cols)
                        ok = 1 if conv else 0
                kappa = 1.0 - value
                out_kappa[e] = kappa
                out_kappa[twin[e]] = kappa
                out_dist[e] = dxy
                out_dist[twin[e]] = dxy
                out_err[e] = err
                out_err[twin[e]] = err
                out_ok[e] = ok
                out_ok[twin[e]] = ok
    return 0
