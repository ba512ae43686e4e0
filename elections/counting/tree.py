"""Ballots as a prefix tree, so a count does work per distinct prefix rather than per paper.

Node 0 is the root. Every other node stands for a prefix of one or more rankings: ``cand[n]`` is its last
candidate, ``weight[n]`` how many papers start with that prefix and ``ends[n]`` how many stop exactly there.
Nodes are stored in preorder in flat integer arrays, so a node's subtree is the slice
``n .. n + size[n] - 1``: moving past a subtree is ``n += size[n]``, stepping into it is ``n += 1``.

All the papers that pass through a node travel together through a count (they were transferred by the same
steps at the same values), so a bundle of papers is just a node and a value.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate
from operator import sub

from .types import Ranking, no_gc_pauses


class BallotTree:
    __slots__ = ("cand", "weight", "ends", "size", "total")

    def __init__(self, cand: array, weight: array, ends: array, size: array, total: int) -> None:
        self.cand = cand
        self.weight = weight
        self.ends = ends
        self.size = size
        self.total = total

    @classmethod
    def build(cls, ballots: Mapping[Ranking, int], candidates: int = 256) -> BallotTree:
        with no_gc_pauses():
            return cls._build(ballots, candidates)

    @classmethod
    def _build(cls, ballots: Mapping[Ranking, int], candidates: int) -> BallotTree:
        # Sorted rankings put every prefix just before its extensions, so one pass lays the tree out in
        # preorder: each ranking adds the nodes for the part it does not share with the ranking before it.
        # Flat machine-integer arrays: a few bytes a node instead of a Python object each.
        cand = array("i", [-1])
        ends = array("q", [0])
        stop = array("q", [0])  # one past the last node of each subtree
        path: list[int] = []  # nodes of the previous ranking, root excluded
        previous: Ranking = ()
        total = 0
        for ranking, count in sorted(ballots.items(), key=_sort_key(candidates)):
            if not ranking:
                continue
            total += count
            shared = 0
            limit = min(len(previous), len(ranking))
            while shared < limit and previous[shared] == ranking[shared]:
                shared += 1
            here = len(cand)
            if len(path) > shared:
                for node in path[shared:]:
                    stop[node] = here
                del path[shared:]
            added = len(ranking) - shared
            cand.extend(ranking[shared:])
            ends.frombytes(bytes(8 * added))
            stop.frombytes(bytes(8 * added))
            path.extend(range(here, here + added))
            ends[-1] = count
            previous = ranking
        here = len(cand)
        for node in path:
            stop[node] = here
        stop[0] = here
        # weight = papers ending anywhere in the subtree; size = nodes in it (both without a Python loop).
        running = array("q", accumulate(ends, initial=0))
        weight = array("q", map(sub, map(running.__getitem__, stop), running))
        size = array("q", map(sub, stop, range(here)))
        return cls(cand, weight, ends, size, total)

    def route(self, node: int, continuing: Sequence[bool]) -> tuple[list[int], int]:
        """Where the papers held at ``node`` go next: the nodes of their next continuing preference, and how
        many papers have no further preference for a continuing candidate (non-transferable)."""
        cand, ends, size = self.cand, self.ends, self.size
        destinations: list[int] = []
        exhausted = ends[node] if node else 0
        i = node + 1
        end = node + size[node]
        while i < end:
            if continuing[cand[i]]:
                destinations.append(i)
                i += size[i]
            else:
                exhausted += ends[i]
                i += 1
        return destinations, exhausted

    def first_preferences(self) -> list[int]:
        """The root's children: one node per first preference."""
        nodes = []
        i, end, size = 1, len(self.cand), self.size
        while i < end:
            nodes.append(i)
            i += size[i]
        return nodes

    def __len__(self) -> int:
        return len(self.cand)


def _sort_key(candidates: int) -> Callable[[tuple[Ranking, int]], bytes]:
    """Rankings as fixed-width bytes: memcmp order keeps each prefix just before its extensions, and sorts
    several times faster than tuples. (Any fixed width will do; with more than 255 candidates children are
    simply visited in byte order.)"""
    if candidates <= 256:
        return lambda item: bytes(item[0])
    return lambda item: array("I", item[0]).tobytes()
