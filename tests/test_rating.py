"""Blind rating sessions: trials drawn fairly and reproducibly, answers checked, MOS with
Student-t intervals, preference rates with Wilson intervals, Bradley–Terry strengths that
solve the model's likelihood equations, and the CSV round trip."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import optimize, stats

from napari_sr.rating import RatingSession, bradley_terry, results_table, wilson_interval

METHODS = ["bicubic", "quality", "perceptual"]


def test_trials_are_blind_balanced_and_reproducible():
    session = RatingSession(METHODS, (100, 140), trials=30, size=32, seed=3)
    again = RatingSession(METHODS, (100, 140), trials=30, size=32, seed=3)
    other = RatingSession(METHODS, (100, 140), trials=30, size=32, seed=4)
    assert [vars(t) for t in session.trials] == [vars(t) for t in again.trials]
    assert [vars(t) for t in session.trials] != [vars(t) for t in other.trials]
    pairs = [frozenset((t.left, t.right)) for t in session.trials]
    counts = {pair: pairs.count(pair) for pair in set(pairs)}
    assert set(counts.values()) == {10}  # every pair equally often (10 rounds of 3)
    sides = [t.left for t in session.trials]
    assert all(sides.count(m) > 3 for m in METHODS)  # every method on the left sometimes
    assert all(0 <= t.y <= 100 - 32 and 0 <= t.x <= 140 - 32 for t in session.trials)


def test_crops_show_the_same_place_of_each_method():
    rng = np.random.default_rng(0)
    images = {m: rng.random((64, 64)) for m in METHODS}
    session = RatingSession(METHODS, (64, 64), trials=4, size=16, seed=0)
    trial = session.trials[0]
    left, right = session.crops(0, images)
    window = (slice(trial.y, trial.y + 16), slice(trial.x, trial.x + 16))
    np.testing.assert_array_equal(left, images[trial.left][window])
    np.testing.assert_array_equal(right, images[trial.right][window])
    with pytest.raises(ValueError, match="no image of method"):
        session.crops(0, {trial.left: images[trial.left]})


def test_pair_preferences_recover_the_raters_ranking():
    """Simulated raters who follow a Bradley–Terry model with known strengths: the fitted
    order is theirs, and each true strength difference lies in the bootstrap intervals."""
    truth = {"bicubic": -1.0, "quality": 0.0, "perceptual": 1.0}
    session = RatingSession(METHODS, (200, 200), trials=300, size=32, seed=1)
    rng = np.random.default_rng(2)
    for i, t in enumerate(session.trials):
        d = truth[t.left] - truth[t.right]
        session.answer(i, "left" if rng.random() < 1 / (1 + math.exp(-d)) else "right")
    results = session.results(seed=0)
    assert [r.method for r in results] == ["perceptual", "quality", "bicubic"]
    assert [r.rank for r in results] == [1, 2, 3]
    for r in results:
        assert r.strength_low < truth[r.method] < r.strength_high
        assert r.low < r.mean < r.high and r.trials == 200
    assert "perceptual" in results_table(results, "pairs").splitlines()[1]


def test_bradley_terry_solves_its_likelihood_equations():
    """With the prior's virtual ties added, the strengths maximise the Bradley–Terry
    likelihood: equal to a general-purpose optimiser's answer."""
    wins = np.array([[0, 7, 9], [3, 0, 6], [1, 4, 0]], dtype=float)
    counts = wins + wins.T
    got = bradley_terry(wins, counts)
    w = wins + 0.5 * (counts > 0)  # the prior's virtual ties (each pair once more)

    def negative_log_likelihood(theta):
        theta = np.concatenate([[0.0], theta])
        d = theta[:, None] - theta[None, :]
        return -np.sum(w * -np.logaddexp(0, -d))

    best = optimize.minimize(negative_log_likelihood, np.zeros(2), tol=1e-12).x
    expected = np.concatenate([[0.0], best])
    np.testing.assert_allclose(got, expected - expected.mean(), atol=1e-5)
    # two methods: the log of the odds, exactly
    two = bradley_terry(np.array([[0, 8.0], [2.0, 0]]), np.array([[0, 10.0], [10.0, 0]]))
    assert two[0] - two[1] == pytest.approx(math.log(8.5 / 2.5))
    assert np.all(np.isfinite(bradley_terry(np.array([[0, 5.0], [0, 0]]),
                                            np.array([[0, 5.0], [5.0, 0]]))))  # fmt: skip


def test_scores_give_mean_opinion_scores_with_t_intervals():
    session = RatingSession(["a", "b"], (50, 50), trials=10, mode="scores", size=16, seed=0)
    given = {"a": iter([5, 4, 5, 4, 5]), "b": iter([2, 1, 3, 2, 2])}
    for i, t in enumerate(session.trials):
        assert t.right is None
        session.answer(i, next(given[t.left]), rater="ana")
    a, b = session.results()
    assert (a.method, a.rank, b.rank) == ("a", 1, 2)
    values = np.array([5, 4, 5, 4, 5.0])
    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert a.mean == pytest.approx(4.6) and a.low == pytest.approx(4.6 - half)
    assert b.mean == pytest.approx(2.0) and a.strength is None
    assert "MOS" in results_table([a, b], "scores")


def test_wilson_interval_matches_its_formula():
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((0.4901625, 0.9433178), abs=1e-6)  # Wilson 1927
    assert wilson_interval(0, 5)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("answer", "mode", "message"),
    [("better", "pairs", "one of left, right, same"), (6, "scores", "whole number 1-5"),
     (True, "scores", "whole number 1-5")],
)  # fmt: skip
def test_answers_are_checked(answer, mode, message):
    session = RatingSession(["a", "b"], (40, 40), trials=2, mode=mode, size=16)
    with pytest.raises(ValueError, match=message):
        session.answer(0, answer)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"methods": ["a"]}, "two or more different methods"),
     ({"methods": ["a", "a"]}, "two or more different methods"),
     ({"mode": "ranking"}, "mode must be one of"), ({"size": 64}, "between 8 and"),
     ({"trials": 0}, "at least 1")],
)  # fmt: skip
def test_sessions_are_checked(kwargs, message):
    options = {"methods": ["a", "b"], "shape": (40, 40), "size": 16, **kwargs}
    with pytest.raises(ValueError, match=message):
        RatingSession(options.pop("methods"), options.pop("shape"), **options)


def test_csv_round_trip_scores_again_and_goes_on(tmp_path):
    session = RatingSession(METHODS, (80, 80), trials=9, size=16, seed=5)
    for i, answer in zip(range(6), itertools.cycle(["left", "same", "right"])):
        session.answer(i, answer, rater="bo")
    path = session.write_csv(tmp_path / "ratings.csv")
    with pytest.raises(FileExistsError):
        session.write_csv(path)
    again = RatingSession.read_csv(path, shape=(80, 80))
    assert again.mode == "pairs" and sorted(again.methods) == sorted(METHODS)
    assert [vars(t) for t in again.trials] == [vars(t) for t in session.trials]
    assert again.next_trial() == 6
    for mine, theirs in zip(again.results(), session.results(), strict=True):
        assert (mine.method, mine.rank, mine.trials) == (theirs.method, theirs.rank, theirs.trials)
        assert mine.strength == pytest.approx(theirs.strength)
        assert mine.strength_high == pytest.approx(theirs.strength_high)
    with pytest.raises(ValueError, match="beyond images"):
        RatingSession.read_csv(path, shape=(40, 40))
    (tmp_path / "bad.csv").write_text("trial,left\n0,a\n")
    with pytest.raises(ValueError, match="not a napari-sr rating session"):
        RatingSession.read_csv(tmp_path / "bad.csv")
