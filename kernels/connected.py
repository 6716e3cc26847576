"""Connected components of an undirected CSR graph by breadth-first search, in O(N) memory beyond the
graph.  scipy's connected_components copies the matrix to float64 and builds its transpose first (about
25 bytes per CSR entry: 0.9 GB at N = 1,000,000, k = 30), which was the peak of a cluster driver that
holds only O(N k).

Labels follow scipy's convention: components are numbered in the order of their smallest node (node 0
is in component 0), so labels are interchangeable with scipy's.
"""

from numba import njit


@njit(cache=True, nogil=True)
def component_labels(indptr, indices, labels, queue):
    """Fill labels (int32, n) with each node's component and return the number of components.  indptr
    int64, indices int32 of a symmetric graph (checked or trusted); queue: int32 scratch of n."""
    n = labels.shape[0]
    for i in range(n):
        labels[i] = -1
    count = 0
    for start in range(n):
        if labels[start] >= 0:
            continue
        labels[start] = count
        queue[0] = start
        head = 0
        tail = 1
        while head < tail:
            u = queue[head]
            head += 1
            for p in range(indptr[u], indptr[u + 1]):
                v = indices[p]
                if labels[v] < 0:
                    labels[v] = count
                    queue[tail] = v
                    tail += 1
        count += 1
    return count
