"""The consumer's tuning of the garbage collector: start-up objects frozen, young collections
only once more is alive than two batches hold, full collections rarer, and an operator's own
thresholds left alone."""

import gc

from hearth_platform.consumer import _tune_garbage_collector


def test_from_the_interpreter_defaults_young_collections_wait_for_two_batches_and_full_ones_run_ten_times_less_often():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        _tune_garbage_collector(2000)
        assert gc.get_threshold() == (200_000, 10, 100)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_thresholds_an_operator_chose_are_kept():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(5000, 20, 30)
        _tune_garbage_collector(2000)
        assert gc.get_threshold() == (5000, 20, 30)
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_a_small_batch_never_makes_young_collections_more_frequent_than_the_default():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        _tune_garbage_collector(5)
        assert gc.get_threshold() == (700, 10, 100)
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
