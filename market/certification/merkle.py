"""RFC 6962 / RFC 9162 Merkle tree, designed around a node store that holds only complete nodes.

Pure module: no database, no HTTP, no clock.

Hashing (RFC 6962 section 2.1)::

    leaf_hash(d)   = SHA-256(0x00 || d)
    node_hash(l,r) = SHA-256(0x01 || l || r)
    MTH({})        = SHA-256("")

Storage model
-------------
Only **complete, aligned subtree nodes** are stored. ``NodeRef(level, index)`` is the hash of
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Such a node
never changes once all its leaves exist, so the store is append-only and answers proofs for any
earlier tree size as well.

Every (possibly incomplete) subtree of the RFC 6962 tree of size ``n`` covers a range
``[start, end)`` whose ``start`` is a multiple of a power of two ``>= end - start``; its hash is
recomputed from the complete aligned nodes of the binary decomposition of ``end - start``
(largest first), folded right to left. Only the right edge of the tree is incomplete, so every
proof needs O(log n) stored nodes.

Plan -> fetch -> compute
------------------------
Every operation is split so that a database layer can load all the nodes it needs with ONE query::

    refs = inclusion_plan(i, n)          # list[NodeRef], O(log n)
    fetched = {ref: load(ref) for ref in refs}
    path = inclusion_proof(i, n, fetched)

The compute functions raise ``KeyError`` if ``fetched`` lacks a planned node, and ``ValueError``
for out-of-range arguments.

Conventions at the edges
------------------------
* inclusion: ``0 <= leaf_index < tree_size`` else ``ValueError``.
* consistency: ``0 < first <= second`` else ``ValueError``. ``first == second`` gives the empty
  proof (RFC 9162). ``first == 0`` is rejected by the prover (RFC 6962 defines no proof for it; the
  empty tree is trivially a prefix of every tree); the verifier accepts ``first == 0`` only with an
  empty proof and ``first_root == EMPTY_ROOT`` (as transparency-dev/merkle does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

__all__ = [
    "EMPTY_ROOT",
    "HASH_LEN",
    "InMemoryNodeStore",
    "NodeRef",
    "append_many",
    "append_many_plan",
    "append_nodes",
    "append_plan",
    "consistency_plan",
    "consistency_proof",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
]

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class NodeRef(NamedTuple):
    """A complete aligned node: the hash of leaves ``[index << level, (index + 1) << level)``.

    A plain ``(level, index)`` tuple (hashable, equal to ``(level, index)``); the ``index`` field
    deliberately shadows ``tuple.index``.
    """

    level: int
    index: int  # type: ignore[assignment]


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


# --------------------------------------------------------------------------- helpers


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_refs(start: int, end: int) -> list[NodeRef]:
    """Complete aligned nodes covering ``[start, end)``, left to right (largest first).

    ``start`` must be a multiple of a power of two ``>= end - start`` (true for every subtree of
    the RFC 6962 tree), which makes every piece of the binary decomposition aligned.
    """
    size = end - start
    if size & (size - 1) == 0:  # complete node: the common case
        level = size.bit_length() - 1
        return [NodeRef(level, start >> level)]
    refs: list[NodeRef] = []
    pos = start
    while size:
        level = size.bit_length() - 1
        refs.append(NodeRef(level, pos >> level))
        pos += 1 << level
        size ^= 1 << level
    return refs


def _range_hash(start: int, end: int, fetched: Mapping[NodeRef, bytes]) -> bytes:
    """MTH of leaves ``[start, end)`` from its complete aligned nodes (folded right to left)."""
    refs = _range_refs(start, end)
    if len(refs) == 1:
        return fetched[refs[0]]
    acc = fetched[refs[-1]]
    for ref in reversed(refs[:-1]):
        acc = node_hash(fetched[ref], acc)
    return acc


def _plan_for_ranges(ranges: Iterable[tuple[int, int]]) -> list[NodeRef]:
    # Proof ranges are pairwise disjoint, so their decompositions never repeat a node.
    plan: list[NodeRef] = []
    for start, end in ranges:
        plan.extend(_range_refs(start, end))
    return plan


# --------------------------------------------------------------------------- root


def root_plan(tree_size: int) -> list[NodeRef]:
    """Nodes needed for the root of a tree of ``tree_size`` leaves (one per set bit)."""
    _check_size("tree_size", tree_size)
    return _range_refs(0, tree_size) if tree_size else []


def root_from(tree_size: int, fetched: Mapping[NodeRef, bytes]) -> bytes:
    """The RFC 6962 root (MTH) of the first ``tree_size`` leaves; ``EMPTY_ROOT`` for 0."""
    _check_size("tree_size", tree_size)
    if tree_size == 0:
        return EMPTY_ROOT
    return _range_hash(0, tree_size, fetched)


# --------------------------------------------------------------------------- append


def append_many_plan(start_size: int, count: int) -> list[NodeRef]:
    """Existing nodes needed to append ``count`` leaves to a tree of ``start_size`` leaves.

    These are the peaks (root decomposition nodes) of the old tree that become the left child of a
    node completed by the new leaves.
    """
    _check_size("start_size", start_size)
    _check_size("count", count)
    if count == 0 or start_size == 0:
        return []
    new_size = start_size + count
    plan: list[NodeRef] = []
    for ref in _range_refs(0, start_size):
        parent_index = ref.index >> 1
        if (parent_index + 1) << (ref.level + 1) <= new_size:
            plan.append(ref)
    return plan


def append_many(
    start_size: int, leaf_hashes: Sequence[bytes], fetched: Mapping[NodeRef, bytes]
) -> list[tuple[NodeRef, bytes]]:
    """New nodes to store when ``leaf_hashes`` are appended to a tree of ``start_size`` leaves.

    Returns every leaf node (level 0) and every newly completed parent, in creation order.
    ``fetched`` must hold the nodes of :func:`append_many_plan`.
    """
    _check_size("start_size", start_size)
    for h in leaf_hashes:
        if len(h) != HASH_LEN:
            raise ValueError("leaf hashes must be 32 bytes")
    created: dict[NodeRef, bytes] = {}
    out: list[tuple[NodeRef, bytes]] = []
    for offset, h in enumerate(leaf_hashes):
        index = start_size + offset
        ref = NodeRef(0, index)
        created[ref] = h
        out.append((ref, h))
        acc = h
        level = 0
        # While the node just completed is a right child, its parent is now complete too.
        while index & 1:
            left_ref = NodeRef(level, index - 1)
            left = created.get(left_ref)
            if left is None:
                left = fetched[left_ref]
            acc = node_hash(left, acc)
            level += 1
            index >>= 1
            ref = NodeRef(level, index)
            created[ref] = acc
            out.append((ref, acc))
    return out


def append_plan(tree_size: int) -> list[NodeRef]:
    """Existing nodes needed to append the leaf with 0-based index ``tree_size``."""
    return append_many_plan(tree_size, 1)


def append_nodes(
    tree_size: int, leaf_hash_value: bytes, fetched: Mapping[NodeRef, bytes]
) -> list[tuple[NodeRef, bytes]]:
    """New nodes to store when the leaf with index ``tree_size`` is appended."""
    return append_many(tree_size, [leaf_hash_value], fetched)


# --------------------------------------------------------------------------- inclusion


def _inclusion_ranges(leaf_index: int, tree_size: int) -> list[tuple[int, int]]:
    """Ranges whose MTH form PATH(leaf_index, D[0:tree_size]), bottom (leaf side) first."""
    _check_size("leaf_index", leaf_index)
    _check_size("tree_size", tree_size)
    if leaf_index >= tree_size:
        raise ValueError("leaf_index must be < tree_size")
    ranges: list[tuple[int, int]] = []
    level = 0
    while (1 << level) < tree_size:
        sibling = (leaf_index >> level) ^ 1
        start = sibling << level
        if start < tree_size:
            ranges.append((start, min(start + (1 << level), tree_size)))
        level += 1
    return ranges


def inclusion_plan(leaf_index: int, tree_size: int) -> list[NodeRef]:
    """Nodes needed for the audit path of ``leaf_index`` in a tree of ``tree_size`` leaves."""
    return _plan_for_ranges(_inclusion_ranges(leaf_index, tree_size))


def inclusion_proof(
    leaf_index: int, tree_size: int, fetched: Mapping[NodeRef, bytes]
) -> list[bytes]:
    """RFC 6962 2.1.1 PATH(leaf_index, D[0:tree_size]), leaf-side sibling first (RFC 9162)."""
    return [_range_hash(s, e, fetched) for s, e in _inclusion_ranges(leaf_index, tree_size)]


# --------------------------------------------------------------------------- consistency


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Ranges whose MTH form PROOF(first, D[0:second]) (RFC 6962 2.1.2), in proof order."""
    _check_size("first", first)
    _check_size("second", second)
    if first == 0:
        raise ValueError("first must be > 0 (no consistency proof is defined for the empty tree)")
    if first > second:
        raise ValueError("first must be <= second")
    # SUBPROOF(m, D[offset:offset+n], b), unrolled. Appends happen after the recursive call, so
    # collect them in a list and reverse at the end.
    tail: list[tuple[int, int]] = []
    m, offset, n, b = first, 0, second, True
    while m != n:
        k = _largest_pow2_below(n)
        if m <= k:
            tail.append((offset + k, offset + n))
            n = k
        else:
            tail.append((offset, offset + k))
            m -= k
            offset += k
            n -= k
            b = False
    head = [] if b else [(offset, offset + n)]
    return head + tail[::-1]


def consistency_plan(first: int, second: int) -> list[NodeRef]:
    """Nodes needed for the consistency proof between tree sizes ``first`` and ``second``."""
    return _plan_for_ranges(_consistency_ranges(first, second))


def consistency_proof(first: int, second: int, fetched: Mapping[NodeRef, bytes]) -> list[bytes]:
    """RFC 6962 2.1.2 PROOF(first, D[0:second]); empty when ``first == second``."""
    return [_range_hash(s, e, fetched) for s, e in _consistency_ranges(first, second)]


# --------------------------------------------------------------------------- verification


def _valid_hashes(values: Iterable[bytes]) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_LEN for v in values)


def verify_inclusion(
    leaf_hash_value: bytes,
    leaf_index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root: bytes,
) -> bool:
    """RFC 9162 section 2.1.3.2: verify an inclusion proof (audit path). Never raises."""
    if not (_valid_hashes([leaf_hash_value, root, *proof])):
        return False
    if isinstance(leaf_index, bool) or isinstance(tree_size, bool):
        return False
    if not isinstance(leaf_index, int) or not isinstance(tree_size, int):
        return False
    if leaf_index < 0 or leaf_index >= tree_size:
        return False
    fn = leaf_index
    sn = tree_size - 1
    r = leaf_hash_value
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 section 2.1.4.2: verify a consistency proof. Never raises.

    ``first == second`` requires an empty proof and equal roots; ``first == 0`` requires an empty
    proof and ``first_root == EMPTY_ROOT``.
    """
    if not _valid_hashes([first_root, second_root, *proof]):
        return False
    if isinstance(first, bool) or isinstance(second, bool):
        return False
    if not isinstance(first, int) or not isinstance(second, int):
        return False
    if first < 0 or first > second:
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if (first & (first - 1)) == 0:  # exact power of two
        path.insert(0, first_root)
    fn = first - 1
    sn = second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# --------------------------------------------------------------------------- in-memory store


class InMemoryNodeStore:
    """A dict-backed node store using the plan -> fetch -> compute API (tests, benchmarks).

    ``reads`` counts nodes fetched through :meth:`fetch`.
    """

    def __init__(self) -> None:
        self.nodes: dict[NodeRef, bytes] = {}
        self.size = 0
        self.reads = 0

    def fetch(self, refs: Iterable[NodeRef]) -> dict[NodeRef, bytes]:
        """Load the given nodes (what the database layer does with one query)."""
        out: dict[NodeRef, bytes] = {}
        nodes = self.nodes
        for ref in refs:
            out[ref] = nodes[ref]
        self.reads += len(out)
        return out

    def append(self, leaf_hash_value: bytes) -> int:
        """Append one leaf hash; returns its index."""
        index = self.size
        self.append_many([leaf_hash_value])
        return index

    def append_data(self, data: bytes) -> int:
        """Append ``leaf_hash(data)``; returns its index."""
        return self.append(leaf_hash(data))

    def append_many(self, leaf_hashes: Sequence[bytes]) -> None:
        fetched = self.fetch(append_many_plan(self.size, len(leaf_hashes)))
        new_nodes = append_many(self.size, leaf_hashes, fetched)
        self.nodes.update(new_nodes)
        self.size += len(leaf_hashes)

    def _check_tree_size(self, tree_size: int | None) -> int:
        size = self.size if tree_size is None else tree_size
        if size > self.size:
            raise ValueError("tree_size exceeds the number of stored leaves")
        return size

    def root(self, tree_size: int | None = None) -> bytes:
        size = self._check_tree_size(tree_size)
        return root_from(size, self.fetch(root_plan(size)))

    def inclusion_proof(self, leaf_index: int, tree_size: int | None = None) -> list[bytes]:
        size = self._check_tree_size(tree_size)
        return inclusion_proof(leaf_index, size, self.fetch(inclusion_plan(leaf_index, size)))

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        size = self._check_tree_size(second)
        return consistency_proof(first, size, self.fetch(consistency_plan(first, size)))
