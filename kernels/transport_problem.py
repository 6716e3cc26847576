"""The per-edge transport problem of Ollivier-Ricci curvature (docs/definitions.md section 2).

For an edge x-y, mu_x puts alpha on x and (1 - alpha)/deg x on each neighbour of x (mu_y likewise) and the
ground cost is the hop distance.  Only mu_x - mu_y matters, so shared mass cancels first; what is left
moves from the "sources" (net excess, inside N[x]) to the "sinks" (net deficit, inside N[y]), and every hop
distance between them is 1, 2 or 3 (adjacent, a common neighbour, or else through the edge x-y itself).

Masses are float64, scaled by deg x * deg y: alpha * dx * dy at the centre and (1 - alpha) * dy on each
neighbour of x.  With alpha = 0 every mass is an integer, with alpha = 1/2 a half-integer, so these common
cases are exact in float64; any other real alpha is rounded once per mass (relative error ~1e-16).
"""

import numpy as np
from numba import njit

from ricci_fast.kernels._bits import find_sorted

_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def max_degree(indptr):
    best = 0
    for v in range(indptr.shape[0] - 1):
        if indptr[v + 1] - indptr[v] > best:
            best = indptr[v + 1] - indptr[v]
    return best


@njit(cache=True, nogil=True)
def edge_problem(indptr, indices, x, y, alpha, src, supply, snk, demand):
    """Net masses of mu_x - mu_y for edge x-y (scale deg x * deg y).

    Writes source nodes/masses and sink nodes/masses (arrays of length >= max degree + 1); returns
    (n_sources, n_sinks, scale)."""
    dx = indptr[x + 1] - indptr[x]
    dy = indptr[y + 1] - indptr[y]
    centre = alpha * dx * dy
    per_x = (1.0 - alpha) * dy  # on each neighbour of x
    per_y = (1.0 - alpha) * dx  # on each neighbour of y
    n_src = 0
    n_snk = 0
    a = indptr[x]
    b = indptr[y]
    a_end = indptr[x + 1]
    b_end = indptr[y + 1]
    # merge N(x) and N(y); x appears only in N(y) and y only in N(x)
    while a < a_end or b < b_end:
        if b >= b_end or (a < a_end and indices[a] < indices[b]):
            node = indices[a]
            net = per_x
            a += 1
        elif a >= a_end or indices[b] < indices[a]:
            node = indices[b]
            net = -per_y
            b += 1
        else:
            node = indices[a]
            net = per_x - per_y
            a += 1
            b += 1
        if node == x:
            net += centre
        elif node == y:
            net -= centre
        if net > 0:
            src[n_src] = node
            supply[n_src] = net
            n_src += 1
        elif net < 0:
            snk[n_snk] = node
            demand[n_snk] = -net
            n_snk += 1
    return n_src, n_snk, float(dx) * float(dy)


@njit(cache=True, nogil=True)
def edge_problem_sizes(indptr, indices, edge_x, edge_y, alpha, out_src, out_snk, src, supply, snk, demand):
    """Numbers of sources and sinks of each edge (for sizing batched solvers)."""
    for e in range(edge_x.shape[0]):
        n_src, n_snk, _ = edge_problem(indptr, indices, edge_x[e], edge_y[e], alpha, src, supply, snk, demand)
        out_src[e] = n_src
        out_snk[e] = n_snk


@njit(cache=True, nogil=True)
def sink_cost_masks(indptr, indices, bit_nodes, n_bits, loop_nodes, n_loop, closed, n_words, c1, c2):
    """Hop distances between a set of "bit" nodes and a list of "loop" nodes, as bit sets.

    Bit b stands for bit_nodes[b]; for loop element j, c1[j * n_words: (j + 1) * n_words] gets the bits at
    distance <= 1 of loop_nodes[j] and c2 those at distance <= 2 (the rest are at 3: the two sets never
    share a node).  closed (>= N * n_words words) must be zero on entry and is left zero.  Work:
    sum of bit-node degrees + n_words * sum of loop-node degrees."""
    for i in range(n_bits):
        u = bit_nodes[i]
        word = i >> 6
        bit = _ONE << np.uint64(i & 63)
        closed[u * n_words + word] |= bit
        for q in range(indptr[u], indptr[u + 1]):
            closed[indices[q] * n_words + word] |= bit
    for j in range(n_loop):
        v = loop_nodes[j]
        base = j * n_words
        for w in range(n_words):
            c1[base + w] = closed[v * n_words + w]
            c2[base + w] = closed[v * n_words + w]
        for q in range(indptr[v], indptr[v + 1]):
            nb = indices[q] * n_words
            for w in range(n_words):
                c2[base + w] |= closed[nb + w]
    for i in range(n_bits):
        u = bit_nodes[i]
        for w in range(n_words):
            closed[u * n_words + w] = np.uint64(0)
        for q in range(indptr[u], indptr[u + 1]):
            for w in range(n_words):
                closed[indices[q] * n_words + w] = np.uint64(0)


@njit(cache=True, nogil=True)
def dense_costs(indptr, indices, src, n_src, snk, n_snk, closed, c1, c2, cost):
    """Hop distances (1, 2 or 3) between the sources and sinks of one edge into cost[:n_src, :n_snk] (int8).

    closed: >= N * ceil(n_src / 64) zeroed words (left zero); c1, c2: >= n_snk * ceil(n_src / 64) words."""
    n_words = (n_src + 63) // 64
    sink_cost_masks(indptr, indices, src, n_src, snk, n_snk, closed, n_words, c1, c2)
    for j in range(n_snk):
        base = j * n_words
        for i in range(n_src):
            word = base + (i >> 6)
            bit = _ONE << np.uint64(i & 63)
            if c1[word] & bit:
                cost[i, j] = 1
            elif c2[word] & bit:
                cost[i, j] = 2
            else:
                cost[i, j] = 3


@njit(cache=True, nogil=True)
def extract_problems(indptr, indices, edge_x, edge_y, alpha, side_src, side_snk, closed, c1, c2, src, supply, snk,
                     demand, cost, a, b, costs, moved):
    """Padded per-edge problems for a batched solver: normalised source and sink masses a (E, side_src),
    b (E, side_snk), costs (E, side_src, side_snk) int8 (0 where padded), the mass moved (0 when the measures
    agree) and the scale of each edge.  Every output slot is written.  Returns the number of edges whose
    problem did not fit the padding (0 when the sizes came from edge_problem_sizes)."""
    n_bad = 0
    for e in range(edge_x.shape[0]):
        for i in range(side_src):
            a[e, i] = 0.0
            for j in range(side_snk):
                costs[e, i, j] = 0
        for j in range(side_snk):
            b[e, j] = 0.0
        moved[e] = 0.0
        n_src, n_snk, scale = edge_problem(indptr, indices, edge_x[e], edge_y[e], alpha, src, supply, snk, demand)
        if n_src == 0:
            continue
        if n_src > side_src or n_snk > side_snk:
            n_bad += 1
            moved[e] = np.nan
            continue
        dense_costs(indptr, indices, src, n_src, snk, n_snk, closed, c1, c2, cost)
        mass = 0.0
        for i in range(n_src):
            mass += supply[i]
        moved[e] = mass / scale
        for i in range(n_src):
            a[e, i] = supply[i] / mass
            for j in range(n_snk):
                costs[e, i, j] = cost[i, j]
        for j in range(n_snk):
            b[e, j] = demand[j] / mass
    return n_bad


@njit(cache=True, nogil=True)
def upper_entries(indptr, indices):
    """Every undirected edge once: (x, y, position of y in row x, position of x in row y) with x < y."""
    n_nodes = indptr.shape[0] - 1
    count = 0
    for x in range(n_nodes):
        for p in range(indptr[x], indptr[x + 1]):
            if indices[p] > x:
                count += 1
    edge_x = np.empty(count, np.int64)
    edge_y = np.empty(count, np.int64)
    pos = np.empty(count, np.int64)
    mirror = np.empty(count, np.int64)
    e = 0
    for x in range(n_nodes):
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            if y > x:
                edge_x[e] = x
                edge_y[e] = y
                pos[e] = p
                lo = find_sorted(indices, indptr[y], indptr[y + 1], x)
                mirror[e] = lo
                e += 1
    return edge_x, edge_y, pos, mirror
