"""The demo flies learned rates a mission would choose: one for the picture, one for the masks."""

from __future__ import annotations

from workbench.demo.scenario import choose_qualities, learned_qualities

PSNR = {1: 26.6, 2: 31.0, 3: 33.9, 4: 35.0, 5: 35.5, 6: 35.6}


def test_the_segmentation_rate_is_the_cheapest_keeping_most_of_the_clean_f1() -> None:
    f1 = {1: 0.02, 2: 0.30, 3: 0.42, 4: 0.57, 5: 0.60, 6: 0.61}
    assert choose_qualities(PSNR, f1, 0.69) == [2, 4]  # 0.57 >= 0.8 x 0.69; q2 keeps 30 dB


def test_without_a_rate_keeping_it_the_best_f1_is_flown() -> None:
    f1 = {1: 0.02, 2: 0.30, 3: 0.42, 4: 0.45, 5: 0.46, 6: 0.45}
    assert choose_qualities(PSNR, f1, 0.69) == [2, 5]


def test_a_rate_below_the_psnr_floor_is_never_flown_even_if_its_masks_are_good() -> None:
    f1 = {1: 0.75, 2: 0.78, 3: 0.79, 4: 0.79, 5: 0.79, 6: 0.79}  # fire-like: flat F1
    assert choose_qualities(PSNR, f1, 0.81) == [2, 3]  # both picks are q2: the next one up


def test_without_measurements_the_two_cheapest_good_pictures_or_the_ends() -> None:
    assert choose_qualities(PSNR, {}, None) == [2, 3]
    assert choose_qualities({1: 20.0, 2: 22.0, 3: 25.0}, {}, None) == [1, 3]


def test_the_shipped_figures_give_every_task_two_distinct_rates() -> None:
    for task in ("fire", "cloud", "building"):
        qualities = learned_qualities(task)
        assert len(qualities) == 2 and qualities == sorted(set(qualities))
