"""General exact transport for one Ollivier-Ricci edge problem: a primal-dual min-cost flow on explicit
matrices (docs/definitions.md, "How it is computed").

Every source-sink arc has unlimited capacity and costs 1, 2 or 3, so a shortest augmenting path is never
longer than 3: there are at most two phases, each a Dijkstra over four distance buckets (reduced costs are
small integers) followed by a max flow on the zero-reduced-cost arcs, and once paths reach length 3 the
rest moves at cost 3 per unit.  Masses are float64 (exact for integer masses).

Its scratch is quadratic in the problem size (an explicit cost and flow matrix), so the library solves
edges with the word-parallel kernel (bitset_transport.py); this one is the independent second
implementation the tests compare it with.
"""

import numpy as np
from numba import njit

from ricci_fast.kernels._bits import find_sorted
from ricci_fast.kernels.transport_problem import dense_costs, edge_problem, max_degree

_BIG = np.int64(1 << 40)


@njit(cache=True, nogil=True)
def _blocking_flow(n_src, n_snk, tight_j, n_tight_u, tight_i, n_tight_v, flow, rs, rd, level_u, level_v,
                   ptr_u, ptr_v, queue, stack):
    """One Dinic round on the zero-reduced-cost ("tight") arcs, given as lists per source (tight_j) and
    per sink (tight_i): BFS levels from every source with supply left, then augmenting paths along
    level-increasing arcs with current-arc pointers.  Returns the amount pushed (0 when no sink with
    demand left is reachable, i.e. the phase's max flow is reached)."""
    for i in range(n_src):
        level_u[i] = 0 if rs[i] > 0 else -1
        ptr_u[i] = 0
    for j in range(n_snk):
        level_v[j] = -1
        ptr_v[j] = 0
    head = 0
    tail = 0
    for i in range(n_src):
        if rs[i] > 0:
            queue[tail] = i
            tail += 1
    found_at = -1
    while head < tail:
        node = queue[head]
        head += 1
        if node < n_src:
            i = node
            if found_at >= 0 and level_u[i] >= found_at:
                break
            for t in range(n_tight_u[i]):
                j = tight_j[i, t]
                if level_v[j] < 0:
                    level_v[j] = level_u[i] + 1
                    if rd[j] > 0:
                        found_at = level_v[j]
                    queue[tail] = n_src + j
                    tail += 1
        else:
            j = node - n_src
            if rd[j] > 0:
                continue  # a terminal: no need to go past it
            if found_at >= 0 and level_v[j] >= found_at:
                break
            for t in range(n_tight_v[j]):
                i = tight_i[j, t]
                if level_u[i] < 0 and flow[i, j] > 0:
                    level_u[i] = level_v[j] + 1
                    queue[tail] = i
                    tail += 1
    if found_at < 0:
        return 0.0
    pushed = 0.0
    for i0 in range(n_src):
        while rs[i0] > 0 and level_u[i0] == 0:
            # iterative DFS; stack holds the path, sources as i, sinks as n_src + j
            top = 0
            stack[0] = i0
            reached = -1
            while top >= 0:
                node = stack[top]
                advanced = False
                if node < n_src:
                    i = node
                    while ptr_u[i] < n_tight_u[i]:
                        j = tight_j[i, ptr_u[i]]
                        if level_v[j] == level_u[i] + 1:
                            if rd[j] > 0:
                                reached = j
                                advanced = True
                                break
                            top += 1
                            stack[top] = n_src + j
                            advanced = True
                            break
                        ptr_u[i] += 1
                    if reached >= 0:
                        break
                    if not advanced:
                        level_u[i] = -1  # dead end for the rest of the round
                        top -= 1
                        if top >= 0:
                            ptr_v[stack[top] - n_src] += 1
                else:
                    j = node - n_src
                    while ptr_v[j] < n_tight_v[j]:
                        i = tight_i[j, ptr_v[j]]
                        if level_u[i] == level_v[j] + 1 and flow[i, j] > 0:
                            top += 1
                            stack[top] = i
                            advanced = True
                            break
                        ptr_v[j] += 1
                    if not advanced:
                        level_v[j] = -1
                        top -= 1
                        ptr_u[stack[top]] += 1
            if reached < 0:
                break  # i0 is a dead end now
            # stack[0..top] is source, sink, source, ..., source; reached is the final sink
            amount = rd[reached]
            if rs[i0] < amount:
                amount = rs[i0]
            for s in range(1, top + 1, 2):
                back = flow[stack[s + 1], stack[s] - n_src]
                if back < amount:
                    amount = back
            flow[stack[top], reached] += amount
            for s in range(1, top + 1, 2):
                j = stack[s] - n_src
                flow[stack[s - 1], j] += amount
                flow[stack[s + 1], j] -= amount
            rs[i0] -= amount
            rd[reached] -= amount
            pushed += amount
    return pushed


@njit(cache=True, nogil=True)
def _shortest_paths(n_src, n_snk, cost, pi_u, pi_v, flow, rs, rd, dist_u, dist_v, done, queue):
    """Dijkstra on reduced costs from every source with supply left to the nearest sink with demand
    left, with four buckets (only distances 0..3 can matter), then the potential update
    pi += min(dist, reach).  Returns reach (-1 if no sink is reachable)."""
    n_nodes = n_src + n_snk
    for i in range(n_src):
        dist_u[i] = 0 if rs[i] > 0 else _BIG
    for j in range(n_snk):
        dist_v[j] = _BIG
    for v in range(n_nodes):
        done[v] = 0
    reach = _BIG
    for level in range(4):
        # the nodes at this tentative distance, then those that zero-cost relaxations add
        head = 0
        tail = 0
        for i in range(n_src):
            if done[i] == 0 and dist_u[i] == level:
                queue[tail] = i
                tail += 1
        for j in range(n_snk):
            if done[n_src + j] == 0 and dist_v[j] == level:
                queue[tail] = n_src + j
                tail += 1
        while head < tail:
            node = queue[head]
            head += 1
            if done[node]:
                continue
            done[node] = 1
            if node < n_src:
                i = node
                for j in range(n_snk):
                    nd = level + cost[i, j] + pi_u[i] - pi_v[j]
                    if nd < dist_v[j]:
                        dist_v[j] = nd
                        if nd == level and done[n_src + j] == 0:
                            queue[tail] = n_src + j
                            tail += 1
            else:
                j = node - n_src
                if rd[j] > 0:
                    reach = level
                    break
                for i in range(n_src):
                    if flow[i, j] > 0:
                        nd = level - (cost[i, j] + pi_u[i] - pi_v[j])
                        if nd < dist_u[i]:
                            dist_u[i] = nd
                            if nd == level and done[i] == 0:
                                queue[tail] = i
                                tail += 1
        if reach != _BIG:
            break
    if reach == _BIG:
        return -1
    for i in range(n_src):
        pi_u[i] += dist_u[i] if done[i] and dist_u[i] < reach else reach
    for j in range(n_snk):
        pi_v[j] += dist_v[j] if done[n_src + j] and dist_v[j] < reach else reach
    return reach


@njit(cache=True, nogil=True)
def min_cost_transport(supply, n_src, demand, n_snk, cost, work_flow, work_tight, work_int, work_stack, work_float):
    """Exact minimum of sum f_ij cost_ij over transport plans (float64 masses, costs in {1, 2, 3}).

    work_flow: (>= n_src, >= n_snk) float64 scratch; work_tight: (2, cap, cap) int64 scratch with
    cap >= n_src, n_snk; work_int: (14, >= n_src + n_snk) int64 scratch; work_stack: (2, >= n_src +
    n_snk + 1) int64 scratch; work_float: (2, >= n_src + n_snk) float64 scratch.  Returns the optimal
    total cost.
    """
    n_nodes = n_src + n_snk
    flow = work_flow
    for i in range(n_src):
        for j in range(n_snk):
            flow[i, j] = 0.0
    rs = work_float[0]
    rd = work_float[1]
    pi_u = work_int[2]
    pi_v = work_int[3]
    dist_u = work_int[4]
    dist_v = work_int[5]
    level_u = work_int[6]
    level_v = work_int[7]
    ptr_u = work_int[8]
    ptr_v = work_int[9]
    done = work_int[10]
    queue = work_int[11]
    n_tight_u = work_int[12]
    n_tight_v = work_int[13]
    tight_j = work_tight[0]
    tight_i = work_tight[1]
    stack = work_stack[0]
    remaining = 0.0
    for i in range(n_src):
        rs[i] = supply[i]
        pi_u[i] = 0
        remaining += supply[i]
    for j in range(n_snk):
        rd[j] = demand[j]
        pi_v[j] = 0
    first_phase = True
    path_length = 1  # the length of the current shortest augmenting paths
    while remaining > 0:
        if first_phase:
            # every cost is at least 1, so potentials 0 on sources and 1 on sinks are feasible and make
            # exactly the cost-1 arcs tight: the first phase needs no shortest-path search
            for j in range(n_snk):
                pi_v[j] = 1
            first_phase = False
        else:
            reach = _shortest_paths(n_src, n_snk, cost, pi_u, pi_v, flow, rs, rd, dist_u, dist_v, done, queue)
            if reach < 0:  # only a rounding residue of an unbalanced float problem is left
                break
            path_length += reach
            if path_length >= 3:
                break
        for i in range(n_src):
            n_tight_u[i] = 0
        for j in range(n_snk):
            n_tight_v[j] = 0
        for i in range(n_src):
            for j in range(n_snk):
                if cost[i, j] + pi_u[i] == pi_v[j]:
                    tight_j[i, n_tight_u[i]] = j
                    n_tight_u[i] += 1
                    tight_i[j, n_tight_v[j]] = i
                    n_tight_v[j] += 1
        # max flow over the arcs that are now tight: direct pushes first, then augmenting paths
        for i in range(n_src):
            if rs[i] == 0:
                continue
            for t in range(n_tight_u[i]):
                j = tight_j[i, t]
                if rd[j] > 0:
                    amount = rs[i] if rs[i] < rd[j] else rd[j]
                    flow[i, j] += amount
                    rs[i] -= amount
                    rd[j] -= amount
                    remaining -= amount
                    if rs[i] == 0:
                        break
        while True:
            amount = _blocking_flow(n_src, n_snk, tight_j, n_tight_u, tight_i, n_tight_v, flow, rs, rd, level_u,
                                    level_v, ptr_u, ptr_v, queue, stack)
            if amount == 0:
                break
            remaining -= amount
        if path_length == 2:
            break
    # Shortest augmenting paths never get shorter, and never longer than 3 (every source-sink arc is
    # uncapacitated and costs at most 3): once they reach 3, whatever is left moves at cost 3 per unit,
    # so the last phase needs neither a search nor a flow.
    remaining = 0.0
    for i in range(n_src):
        remaining += rs[i]
    total = 3.0 * remaining
    for i in range(n_src):
        for j in range(n_snk):
            total += flow[i, j] * cost[i, j]
    return total




@njit(cache=True)
def ollivier_general(indptr, indices, alpha):
    """Exact curvature of every CSR entry by min_cost_transport on explicit matrices, serially.

    An independent second implementation for the tests (it allocates per problem, quadratic in its size)."""
    n_nodes = indptr.shape[0] - 1
    cap = max_degree(indptr) + 1
    out = np.full(indices.shape[0], np.nan)
    src = np.empty(cap, np.int64)
    snk = np.empty(cap, np.int64)
    supply = np.empty(cap)
    demand = np.empty(cap)
    for x in range(n_nodes):
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            if y < x:
                continue
            n_src, n_snk, scale = edge_problem(indptr, indices, x, y, alpha, src, supply, snk, demand)
            if n_src == 0:
                value = 1.0
            else:
                n_words = (n_src + 63) // 64
                closed = np.zeros(n_nodes * n_words, np.uint64)
                c1 = np.zeros(n_snk * n_words, np.uint64)
                c2 = np.zeros(n_snk * n_words, np.uint64)
                cost = np.empty((n_src, n_snk), np.int8)
                dense_costs(indptr, indices, src, n_src, snk, n_snk, closed, c1, c2, cost)
                side = max(n_src, n_snk)
                total = min_cost_transport(supply, n_src, demand, n_snk, cost, np.empty((n_src, n_snk)),
                                           np.empty((2, side, side), np.int64), np.empty((14, n_src + n_snk), np.int64),
                                           np.empty((2, n_src + n_snk + 1), np.int64), np.empty((2, n_src + n_snk)))
                value = 1.0 - total / scale
            out[p] = value
            lo = find_sorted(indices, indptr[y], indptr[y + 1], x)
            out[lo] = value
    return out
