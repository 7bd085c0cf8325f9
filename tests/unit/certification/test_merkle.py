"""RFC 6962 / 9162 Merkle log: vectors, and plan->fetch->compute proofs checked against an
independent reference written here from the RFC definitions (not importing merkle's verifiers)."""

from __future__ import annotations

import hashlib
import json
import math
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.certification import merkle
from market.certification.merkle import InMemoryNodeStore, NodeRef

VECTORS = Path("/work/shared/testdata/merkle_rfc6962_roots.json")
MAX_N = 64


# --------------------------------------------------------------------------- independent reference


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """Largest power of two smaller than n (n > 1), as in RFC 6962 2.1."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


LEAF_DATA = [f"leaf-{i}".encode() for i in range(MAX_N)]
LEAF_HASHES = [ref_leaf(d) for d in LEAF_DATA]


@cache
def ref_mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over LEAF_DATA, straight from RFC 6962 2.1."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return ref_leaf(LEAF_DATA[start])
    k = ref_k(n)
    return ref_node(ref_mth(start, start + k), ref_mth(start + k, end))


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) (RFC 6962 2.1.1)."""
    n = end - start
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, start, start + k), ref_mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) (RFC 6962 2.1.2)."""
    n = end - start
    if m == n:
        return [] if b else [ref_mth(start, end)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, start, start + k, b), ref_mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), ref_mth(start, start + k)]


def ref_verify_inclusion(
    leaf: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2, transcribed."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = ref_node(p, r)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = ref_node(r, p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def ref_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, transcribed (with first == second handled as in 2.1.4.1)."""
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = ref_node(c, fr)
            sr = ref_node(c, sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = ref_node(sr, c)
        fn //= 2
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0


def plan_bound(n: int) -> int:
    return 2 * math.ceil(math.log2(n)) + 2 if n > 1 else 2


@pytest.fixture(scope="module")
def store() -> InMemoryNodeStore:
    s = InMemoryNodeStore()
    for h in LEAF_HASHES:
        s.append(h)  # one leaf at a time: exercises append_plan / append_nodes
    return s


def tamper(proof: list[bytes], i: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ 0x01]) + out[i][1:]
    return out


# --------------------------------------------------------------------------- vectors


def test_rfc6962_roots_from_vector() -> None:
    vec = json.loads(VECTORS.read_text())
    leaves = [bytes.fromhex(h) for h in vec["leaves_hex"]]
    s = InMemoryNodeStore()
    for d in leaves:
        s.append_data(d)
    for size_text, root_hex in vec["roots_by_tree_size"].items():
        size = int(size_text)
        assert s.root(size).hex() == root_hex
        fetched = {ref: s.nodes[ref] for ref in merkle.root_plan(size)}
        assert merkle.root_from(size, fetched).hex() == root_hex
    # Batch append gives the same tree.
    b = InMemoryNodeStore()
    b.append_many([merkle.leaf_hash(d) for d in leaves])
    assert b.nodes == s.nodes


def test_hash_primitives() -> None:
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.root_from(0, {}) == merkle.EMPTY_ROOT
    assert merkle.root_plan(0) == []


# --------------------------------------------------------------------------- store model


def test_store_holds_exactly_complete_aligned_nodes(store: InMemoryNodeStore) -> None:
    expected: dict[NodeRef, bytes] = {}
    level = 0
    while (1 << level) <= MAX_N:
        width = 1 << level
        for index in range(MAX_N // width):
            expected[NodeRef(level, index)] = ref_mth(index * width, (index + 1) * width)
        level += 1
    assert store.nodes == expected


def test_roots_match_reference(store: InMemoryNodeStore) -> None:
    for n in range(MAX_N + 1):
        assert store.root(n) == ref_mth(0, n)
        assert len(merkle.root_plan(n)) == bin(n).count("1")


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 7, 8, 13, 64])
def test_append_many_equals_single_appends(store: InMemoryNodeStore, batch: int) -> None:
    s = InMemoryNodeStore()
    for start in range(0, MAX_N, batch):
        chunk = LEAF_HASHES[start : start + batch]
        plan = merkle.append_many_plan(s.size, len(chunk))
        assert len(plan) <= max(1, math.ceil(math.log2(s.size + 1)))
        new = merkle.append_many(s.size, chunk, s.fetch(plan))
        assert all(ref not in s.nodes for ref, _ in new)  # append-only
        s.nodes.update(new)
        s.size += len(chunk)
    assert s.nodes == store.nodes


def test_append_plan_single(store: InMemoryNodeStore) -> None:
    for t in range(MAX_N):
        plan = merkle.append_plan(t)
        new = merkle.append_nodes(t, LEAF_HASHES[t], {r: store.nodes[r] for r in plan})
        assert new[0] == (NodeRef(0, t), LEAF_HASHES[t])
        # number of new nodes = 1 + trailing ones of t
        trailing = (t ^ (t + 1)).bit_length() - 1
        assert len(new) == 1 + trailing == 1 + len(plan)
        for ref, h in new:
            assert store.nodes[ref] == h


# --------------------------------------------------------------------------- inclusion


def test_inclusion_all_leaves_all_sizes(store: InMemoryNodeStore) -> None:
    for n in range(1, MAX_N + 1):
        root = ref_mth(0, n)
        for m in range(n):
            plan = merkle.inclusion_plan(m, n)
            assert len(plan) <= plan_bound(n)
            assert len(set(plan)) == len(plan)
            proof = merkle.inclusion_proof(m, n, store.fetch(plan))
            assert proof == ref_path(m, 0, n)
            leaf = LEAF_HASHES[m]
            assert ref_verify_inclusion(leaf, m, n, proof, root)
            assert merkle.verify_inclusion(leaf, m, n, proof, root)
            # rejections
            for i in range(len(proof)):
                assert not merkle.verify_inclusion(leaf, m, n, tamper(proof, i), root)
            assert not merkle.verify_inclusion(leaf, m, n, [*proof, root], root)
            if proof:
                assert not merkle.verify_inclusion(leaf, m, n, proof[:-1], root)
            if n > 1:
                other = (m + 1) % n
                assert not merkle.verify_inclusion(leaf, other, n, proof, root)
                assert not merkle.verify_inclusion(LEAF_HASHES[other], m, n, proof, root)
            assert not merkle.verify_inclusion(leaf, m, n, proof, ref_mth(0, n - 1))


def test_inclusion_bad_arguments() -> None:
    for m, n in [(0, 0), (3, 3), (5, 2), (-1, 4)]:
        with pytest.raises(ValueError):
            merkle.inclusion_plan(m, n)
        with pytest.raises(ValueError):
            merkle.inclusion_proof(m, n, {})
    root = ref_mth(0, 4)
    assert not merkle.verify_inclusion(LEAF_HASHES[0], 4, 4, [], root)
    assert not merkle.verify_inclusion(LEAF_HASHES[0], -1, 4, [], root)
    assert not merkle.verify_inclusion(b"short", 0, 1, [], root)


def test_missing_fetched_node_raises_keyerror() -> None:
    with pytest.raises(KeyError):
        merkle.inclusion_proof(0, 5, {})


# --------------------------------------------------------------------------- consistency


def test_consistency_all_pairs(store: InMemoryNodeStore) -> None:
    for n in range(1, MAX_N + 1):
        second_root = ref_mth(0, n)
        for m in range(1, n + 1):
            first_root = ref_mth(0, m)
            plan = merkle.consistency_plan(m, n)
            assert len(plan) <= plan_bound(n)
            assert len(set(plan)) == len(plan)
            proof = merkle.consistency_proof(m, n, store.fetch(plan))
            assert proof == ref_subproof(m, 0, n, True)
            assert ref_verify_consistency(m, n, first_root, second_root, proof)
            assert merkle.verify_consistency(m, n, first_root, second_root, proof)
            if m == n:
                assert proof == []
                continue
            for i in range(len(proof)):
                assert not merkle.verify_consistency(
                    m, n, first_root, second_root, tamper(proof, i)
                )
            assert not merkle.verify_consistency(m, n, first_root, second_root, proof[:-1])
            assert not merkle.verify_consistency(m, n, first_root, second_root, [*proof, proof[0]])
            assert not merkle.verify_consistency(m, n, first_root, ref_mth(0, n - 1), proof)
            assert not merkle.verify_consistency(m, n, ref_mth(0, m - 1), second_root, proof)
            assert not merkle.verify_consistency(m, n, first_root, second_root, [])


def test_consistency_edges() -> None:
    for first, second in [(0, 0), (0, 5), (3, 2), (-1, 2)]:
        with pytest.raises(ValueError):
            merkle.consistency_plan(first, second)
        with pytest.raises(ValueError):
            merkle.consistency_proof(first, second, {})
    empty = merkle.EMPTY_ROOT
    # documented: the empty tree is consistent with anything, with an empty proof
    assert merkle.verify_consistency(0, 5, empty, ref_mth(0, 5), [])
    assert not merkle.verify_consistency(0, 5, ref_mth(0, 1), ref_mth(0, 5), [])
    assert not merkle.verify_consistency(0, 5, empty, ref_mth(0, 5), [empty])
    assert not merkle.verify_consistency(4, 3, ref_mth(0, 4), ref_mth(0, 3), [])
    assert not merkle.verify_consistency(4, 4, ref_mth(0, 4), ref_mth(0, 3), [])
    assert not merkle.verify_consistency(4, 4, ref_mth(0, 4), ref_mth(0, 4), [ref_mth(0, 4)])


# --------------------------------------------------------------------------- property tests


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12),
    data=st.data(),
)
def test_random_batches_and_proofs(batches: list[int], data: st.DataObject) -> None:
    s = InMemoryNodeStore()
    leaves: list[bytes] = []
    for k in batches:
        chunk = [merkle.leaf_hash(f"{len(leaves) + i}".encode()) for i in range(k)]
        leaves.extend(chunk)
        s.append_many(chunk)
    n = s.size
    size = data.draw(st.integers(min_value=1, max_value=n))
    idx = data.draw(st.integers(min_value=0, max_value=size - 1))
    first = data.draw(st.integers(min_value=1, max_value=size))
    root = s.root(size)
    before = s.reads
    proof = s.inclusion_proof(idx, size)
    assert s.reads - before <= plan_bound(size)
    assert ref_verify_inclusion(leaves[idx], idx, size, proof, root)
    before = s.reads
    cproof = s.consistency_proof(first, size)
    assert s.reads - before <= plan_bound(size)
    assert ref_verify_consistency(first, size, s.root(first), root, cproof)


@pytest.mark.parametrize("n", [2**20, 2**20 + 1, 1_000_000, 2**40 - 1, 2**40 + 12345])
def test_plan_sizes_logarithmic_for_large_trees(n: int) -> None:
    bound = plan_bound(n)
    for m in {0, 1, n // 3, n // 2, n - 2, n - 1}:
        if 0 <= m < n:
            assert len(merkle.inclusion_plan(m, n)) <= bound
        if 1 <= m <= n:
            assert len(merkle.consistency_plan(m, n)) <= bound
