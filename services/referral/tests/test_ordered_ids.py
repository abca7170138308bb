"""Referral ids are time-ordered UUIDs, so new referrals append to the right edge of each index."""

import time
import uuid

from hearth_referral import ordered_ids
from hearth_referral.ordered_ids import new_ordered_ids


def test_referral_ids_are_version_7_uuids_that_only_increase_across_batches():
    first, second = new_ordered_ids(3), new_ordered_ids(2)
    ids = first + second
    assert [uuid.UUID(i).version for i in ids] == [7] * 5
    assert [uuid.UUID(i).variant for i in ids] == [uuid.RFC_4122] * 5
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_a_referral_id_begins_with_the_millisecond_it_was_minted():
    before = time.time_ns() // 1_000_000
    (minted,) = new_ordered_ids(1)
    after = time.time_ns() // 1_000_000
    assert before <= uuid.UUID(minted).int >> 80 <= after


def test_a_batch_formats_like_single_ids_even_when_its_sequence_carries_into_the_next_bits():
    batch = new_ordered_ids(5)
    assert [uuid.UUID(i).int for i in batch] == list(
        range(uuid.UUID(batch[0]).int, uuid.UUID(batch[0]).int + 5)
    )
    # Start just below a carry out of the last 62 bits: the ids still follow one another.
    ordered_ids._last = ((time.time_ns() // 1_000_000 + 1000) << 74) | ((1 << 62) - 3)
    carried = new_ordered_ids(5)
    assert carried == sorted(carried) and len(set(carried)) == 5
    assert {uuid.UUID(i).version for i in carried} == {7}
    assert len({i[:19] for i in carried}) == 2
