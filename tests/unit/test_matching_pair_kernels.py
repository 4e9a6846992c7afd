"""The compiled pair loops give pairwise's totals and verdicts to the last bit, and keep
working where numba cannot cache what it compiles."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from services.matching import pair_kernels, pairwise
from services.matching.pair_kernels import (
    Batch,
    ByMentee,
    Columns,
    Spans,
    among_best,
    best_first,
    pool_marks,
    promises,
    ranked,
    spelled,
    weigh_mentees,
)
from services.matching.pairwise import Ints, Round, build_round
from services.matching.pricing import Offers, auction
from services.matching.scoring import ineligibility, score
from services.matching.shortlist import _BUCKET_BITS, _BUCKETS, _CEILING, _cut
from tests.support.population import organisation
from tests.unit.auction_reference import NumpyAuction
from tests.unit.test_matching_shortlist import CAREER, Round_, rounds


def _built(round_: Round_) -> tuple[Round, Round_] | None:
    mentees, mentors, programme, managers, declined = round_
    active = [m for m in mentees if m.active]
    able = [m for m in mentors if m.mentor]
    if not active or not able:
        return None
    built = build_round(active, able, programme, managers=managers, declined=declined)
    return built, (active, able, programme, managers, declined)


@settings(max_examples=40, deadline=None)
@given(round_=rounds())
def test_compiled_scores_and_verdicts_are_the_numpy_ones_and_the_scalar_ones_for_every_pair(
    round_: Round_,
) -> None:
    built = _built(round_)
    if built is None:
        return
    columns, (active, able, programme, managers, declined) = built
    e = np.repeat(np.arange(len(active)), len(able))
    m = np.tile(np.arange(len(able)), len(active))
    for looked_up in (columns, replace(columns, coverage=None)):
        expected, expected_ok = pairwise.score_pairs(looked_up, e, m)
        found, ok = pair_kernels.score_pairs(looked_up, Columns.of(looked_up), e, m)
        assert found.tolist() == expected.tolist()
        assert ok.tolist() == expected_ok.tolist()
        for i, j, total, allowed in zip(e.tolist(), m.tolist(), found.tolist(), ok.tolist(), strict=True):
            assert allowed == (
                ineligibility(able[j], active[i], managers=managers, declined=declined) is None
            )
            assert total / 1_000_000 == score(able[j], active[i], programme).total


@settings(max_examples=40, deadline=None)
@given(round_=rounds(), data=st.data())
def test_weighing_repeated_candidate_keys_keeps_each_eligible_pair_once_in_order_with_its_score(
    round_: Round_, data: st.DataObject
) -> None:
    built = _built(round_)
    if built is None:
        return
    columns, (active, able, *_) = built
    low = data.draw(st.integers(0, len(active) - 1))
    high = data.draw(st.integers(low + 1, len(active)))
    pairs = data.draw(
        st.lists(st.tuples(st.integers(low, high - 1), st.integers(0, len(able) - 1)), max_size=60)
    )
    e = np.array([p[0] for p in pairs], dtype=np.int64)
    m = np.array([p[1] for p in pairs], dtype=np.int64)
    for looked_up in (columns, replace(columns, coverage=None)):
        keys = pairwise.distinct(e * len(able) + m)
        ue, um = keys // len(able), keys % len(able)
        expected, ok = pairwise.score_pairs(looked_up, ue, um)
        grouped = ByMentee.of([(e, m)], len(active))
        for by_mentor in (False, True):
            found = weigh_mentees(looked_up, Columns.of(looked_up), grouped, low, high, by_mentor=by_mentor)
            assert [x.tolist() for x in found] == [ue[ok].tolist(), um[ok].tolist(), expected[ok].tolist()]


@settings(max_examples=60, deadline=None)
@given(mentees=st.integers(1, 30), data=st.data())
def test_candidate_batches_grouped_by_mentee_keep_each_mentees_mentors_in_the_order_generated(
    mentees: int, data: st.DataObject
) -> None:
    pair = st.tuples(st.integers(0, mentees - 1), st.integers(0, 99))
    batches: list[Batch] = []
    for listed in data.draw(st.lists(st.lists(pair, max_size=40), max_size=12)):
        e = np.array([p[0] for p in listed], dtype=np.int64)
        m = np.array([p[1] for p in listed], dtype=np.int64)
        if len(listed) and data.draw(st.booleans()):
            # The same mentors by reference: each mentee of the batch with a run of them.
            three = st.lists(st.integers(0, len(m)), min_size=3, max_size=3)
            lo = np.array(data.draw(three))
            hi = np.minimum(lo + np.array(data.draw(three)) % 10, len(m))
            batches.append(Spans(e[:3], lo[: len(e[:3])], hi[: len(e[:3])], m))
        else:
            batches.append((e, m))
    grouped = ByMentee.of(batches, mentees)
    pairs = [spelled(batch) for batch in batches]
    e = np.concatenate([np.zeros(0, np.int64), *(batch[0] for batch in pairs)])
    m = np.concatenate([np.zeros(0, np.int64), *(batch[1] for batch in pairs)])
    # What a stable sort of the batches spelled out and put side by side gives.
    order = np.argsort(e, kind="stable")
    assert grouped.mentors.tolist() == m[order].tolist()
    assert grouped.starts.tolist() == np.searchsorted(e[order], np.arange(mentees + 1)).tolist()


def test_mentors_listed_by_reference_are_the_pairs_spelled_out() -> None:
    spans = Spans(np.array([4, 2, 4]), np.array([1, 0, 3]), np.array([3, 0, 4]), np.array([7, 8, 9, 5]))
    e, m = spans.spelled()
    assert list(zip(e.tolist(), m.tolist(), strict=True)) == [(4, 8), (4, 9), (4, 5)]
    assert len(spans) == 3


def test_a_generated_organisations_candidate_pairs_weigh_as_pairwise_scores_them() -> None:
    org = organisation(600, 150, capacity=4)
    mentors = sorted(org.mentors, key=lambda p: p.person_id)
    round_ = build_round(org.mentees, mentors, CAREER, managers=org.managers, declined=org.declined)
    rng = np.random.default_rng(5)
    e = rng.integers(100, 500, 40_000)
    m = rng.integers(0, len(mentors), 40_000)
    keys = pairwise.distinct(e * len(mentors) + m)
    ue, um = keys // len(mentors), keys % len(mentors)
    expected, ok = pairwise.score_pairs(round_, ue, um)
    assert 0 < ok.sum() < len(ok)  # some pairs ruled out, many not
    # In key order, and mentor by mentor in blocks as a round with many mentors is scored.
    grouped = ByMentee.of([(e[:15_000], m[:15_000]), (e[15_000:], m[15_000:])], len(org.mentees))
    for by_mentor in (False, True):
        found = weigh_mentees(round_, Columns.of(round_), grouped, 100, 500, by_mentor=by_mentor)
        assert [x.tolist() for x in found] == [ue[ok].tolist(), um[ok].tolist(), expected[ok].tolist()]


# Every place numba could cache compiled code in made unwritable, as on a read-only install
# run by a user without a home directory: numba then refuses caching when the loops are
# declared, so they must be declared without it and still score.
_READ_ONLY = """
from numba.core import caching

def unwritable(self):
    raise PermissionError("read-only file system")

caching._CacheLocator.ensure_cache_path = unwritable
import numpy as np
from contracts.programmes import DEFAULT_PROGRAMMES
from services.matching import pair_kernels, pairwise, warm_up
from tests.support.population import organisation

warm_up.warm()
org = organisation(200, 50)
round_ = pairwise.build_round(
    org.mentees, org.mentors, DEFAULT_PROGRAMMES[0], managers=org.managers, declined=org.declined
)
e, m = np.repeat(np.arange(200), 50), np.tile(np.arange(50), 200)
compiled = pair_kernels.score_pairs(round_, pair_kernels.Columns.of(round_), e, m)
same = all(np.array_equal(a, b) for a, b in zip(compiled, pairwise.score_pairs(round_, e, m)))
print(pair_kernels._score_in_order._cache.__class__.__name__, same)
"""


def test_the_loops_compile_and_score_where_no_cache_directory_can_be_written() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _READ_ONLY], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "NullCache True"


def _buckets(score: Ints) -> NDArray[np.uint8]:
    """Each score's bucket, 0 for the best, in numpy."""
    return (_BUCKETS - 1 - (np.clip(score, 0, _CEILING) >> _BUCKET_BITS)).astype(np.uint8)


def _bucket_counts(owner: Ints, bucket: NDArray[np.uint8], owners: int) -> Ints:
    """(owners, buckets): how many pairs each owner has in each bucket, in numpy."""
    return np.bincount(owner * _BUCKETS + bucket, minlength=owners * _BUCKETS).reshape(owners, _BUCKETS)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 5), st.integers(-20_000, 1_100_000)), max_size=120
    ),
    keep=st.integers(1, 12),
)
def test_pool_marks_are_the_bucket_counts_and_cuts_numpy_takes_a_pass_each_for(
    pairs: list[tuple[int, int, int]], keep: int
) -> None:
    pairs.sort(key=lambda p: p[0])
    e, m, score = (np.array([p[i] for p in pairs], dtype=np.int64) for i in range(3))
    bucket, among, counts = pool_marks(
        e, m, score, 6, keep=keep, bits=_BUCKET_BITS, buckets=_BUCKETS, ceiling=_CEILING
    )
    expected_bucket = _buckets(score)
    cut = _cut(_bucket_counts(e, expected_bucket, 10), keep)
    assert bucket.tolist() == expected_bucket.tolist()
    assert among.tolist() == (expected_bucket <= cut[e]).tolist()
    assert counts.tolist() == _bucket_counts(m, expected_bucket, 6).tolist()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    owners=st.integers(1, 40),
    pairs=st.integers(0, 2_000),
    keep=st.integers(1, 30),
    spread=st.sampled_from([3, 1_000, 1_100_000]),
)
def test_among_best_marks_what_numpys_buckets_and_cuts_mark(
    seed: int, owners: int, pairs: int, keep: int, spread: int
) -> None:
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, owners, size=pairs)
    score = rng.integers(-5, spread, size=pairs)
    bucket = _buckets(score)
    expected = bucket <= _cut(_bucket_counts(owner, bucket, owners), keep)[owner]
    found = among_best(owner, score, owners, keep=keep, bits=_BUCKET_BITS, buckets=_BUCKETS, ceiling=_CEILING)
    assert found.tolist() == expected.tolist()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    owners=st.integers(1, 40),
    others=st.integers(1, 60),
    pairs=st.integers(0, 2_000),
    keep=st.integers(1, 30),
    spread=st.sampled_from([3, 1_000, 1_100_000]),
    shuffled=st.booleans(),
)
def test_the_compiled_ranking_ranks_each_owners_best_as_one_sort_of_them_all_does(
    seed: int, owners: int, others: int, pairs: int, keep: int, spread: int, shuffled: bool
) -> None:
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, owners * others, size=pairs))
    if shuffled:  # else in owner order, as a mentee's pairs come
        keys = rng.permutation(keys)
    owner, other = keys // others, keys % others
    score = rng.integers(-5, spread, size=len(keys))
    # The reference: numpy's buckets and cuts, then every kept pair sorted by owner, score
    # descending (clipped as the buckets clip it) and the other side's row.
    bucket = _buckets(score)
    kept = bucket <= _cut(_bucket_counts(owner, bucket, owners), keep)[owner]
    order = np.lexsort((other[kept], -np.clip(score[kept], 0, _CEILING), owner[kept]))
    expected_owner, expected_other = owner[kept][order], other[kept][order]
    expected_place = np.arange(len(order)) - np.searchsorted(expected_owner, expected_owner)
    found = ranked(
        owner, other, score, owners, keep=keep, bits=_BUCKET_BITS, buckets=_BUCKETS, ceiling=_CEILING
    )
    assert found[0].tolist() == expected_owner.tolist()
    assert found[1].tolist() == expected_other.tolist()
    assert found[2].tolist() == expected_place.tolist()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    members=st.integers(1, 40),
    clusters=st.integers(1, 6),
    columns=st.integers(0, 30),
    terms=st.integers(1, 17),
    share=st.floats(0.05, 0.9),
)
def test_compiled_promises_are_to_the_bit_the_cluster_means_products_and_estimates_of_numpy(
    seed: int, members: int, clusters: int, columns: int, terms: int, share: float
) -> None:
    rng = np.random.default_rng(seed)
    clusters = min(clusters, members)
    # Every cluster has a member (numbered densely, as ``_clusters`` numbers them).
    of = rng.permutation(np.concatenate([np.arange(clusters), rng.integers(0, clusters, members - clusters)]))
    left = (rng.random((members, terms)) / rng.integers(1, 9, (members, terms))).astype(np.float32)
    # Skill weights, as candidate generation multiplies them; and plain random floats, whose
    # sums round more often.
    weights = rng.choice(np.array([0, 0.25, 0.5, 0.8, 1], dtype=np.float32), (columns, terms))
    estimate = rng.standard_normal((50, 8)).astype(np.float32)
    estimate[rng.random(estimate.shape) < 0.1] = -np.inf
    rows, profile = rng.integers(0, 50, columns), rng.choice(8, clusters, replace=False)
    # The numpy the compiled call replaces: 64-bit sums by ``reduceat`` in member order,
    # their means in 32 bits, the products term by term, the estimate gathered and added.
    order = np.argsort(of, kind="stable")
    starts = np.searchsorted(of[order], np.arange(clusters))
    sums = np.add.reduceat(left[order].astype(np.float64), starts, axis=0)
    means = (sums / np.bincount(of, minlength=clusters).astype(np.float64)[:, None]).astype(np.float32)
    for right in (weights, rng.standard_normal((columns, terms)).astype(np.float32)):
        product = np.zeros((clusters, columns), dtype=np.float32)
        for term in range(terms):
            product += means[:, term, None] * right[None, :, term]
        expected = share * product
        expected += estimate[rows][:, profile].T
        found = promises(share, left, of, right, estimate, rows, profile)
        assert found.dtype == np.float32
        assert found.view(np.int32).tolist() == expected.view(np.int32).tolist()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 12),
    columns=st.integers(0, 60),
    keep=st.integers(1, 70),
    tied=st.booleans(),
)
def test_compiled_best_first_orders_each_rows_kept_columns_as_numpys_stable_sort(
    seed: int, rows: int, columns: int, keep: int, tied: bool
) -> None:
    rng = np.random.default_rng(seed)
    # Promises tie often (mentors with the same profile and skills) and are minus infinity
    # where a pair is ruled out; plain random floats tie rarely.
    choices = np.array([-np.inf, -0.0, 0.0, 0.25, 0.5, 1.5], dtype=np.float32)
    matrix = (rng.choice(choices, (rows, columns)) if tied else rng.standard_normal((rows, columns))).astype(
        np.float32
    )
    if columns > keep:
        part = np.argpartition(-matrix, keep - 1, axis=1)[:, :keep]
    else:
        part = np.broadcast_to(np.arange(columns), matrix.shape)
    order = np.argsort(-np.take_along_axis(matrix, part, axis=1), axis=1, kind="stable")
    expected = np.take_along_axis(part, order, axis=1)
    found = best_first(matrix, part)
    assert found.dtype == np.int64
    assert found.tolist() == expected.tolist()
    if columns <= keep:
        assert best_first(matrix).tolist() == expected.tolist()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mentees=st.integers(1, 60),
    mentors=st.integers(1, 20),
    pairs=st.integers(0, 400),
    spread=st.sampled_from([5, 1_000, 1_000_000]),
    increment=st.sampled_from([1, 100, 10_000]),
    rounds=st.sampled_from([1, 5, 300]),
)
def test_the_compiled_auction_ends_with_the_prices_and_seats_of_the_numpy_one(
    seed: int, mentees: int, mentors: int, pairs: int, spread: int, increment: int, rounds: int
) -> None:
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, mentees, pairs) * mentors + rng.integers(0, mentors, pairs))
    e, m = keys // mentors, keys % mentors
    score = rng.integers(0, spread, len(keys))
    seats = rng.integers(0, 4, mentors)
    reference = NumpyAuction(Offers.of(e, m, score, seats, mentees), seats)
    reference.bid_rounds(increment, rounds)
    expected = reference.outcome()
    found = auction(Offers.of(e, m, score, seats, mentees), seats, increment=increment, rounds=rounds)
    for field in ("price", "seat", "unseated", "open_seats"):
        assert getattr(found, field).tolist() == getattr(expected, field).tolist()
