"""Blind rating of SR outputs by people: mean opinion scores and Bradley–Terry ranks.

PSNR and SSIM reward the blur that hides uncertainty; NIQE rewards any texture. What a
person sees is measured by asking people, as SRGAN's authors did (Ledig et al. 2017: 26
raters scored 1-5 each image of each method, the mean opinion score, MOS). A
:class:`RatingSession` draws the trials of such a study from the outputs of two or more
methods on the same image, so that nothing tells the rater which is which:

- ``mode="pairs"``: two crops of the same place from two methods side by side, the methods
  and their sides drawn at random; the rater picks the better one (or "same"). Each
  method's preference rate comes with a Wilson 95 % interval, and the Bradley–Terry model
  (Bradley & Terry 1952) turns all the pairs into one strength per method (fitted by
  Hunter's MM algorithm, 2004), with a bootstrap 95 % interval;
- ``mode="scores"``: one crop at a time, scored 1 (bad) to 5 (excellent), the absolute
  category rating of ITU-T P.910 that MOS studies use; each method's MOS comes with a
  Student-t 95 % interval.

Trials are drawn from ``seed``, so another rater can be shown the same ones; the session
is saved as CSV (one row per trial: crop, methods, answer) and read back to score again or
to go on rating (:meth:`RatingSession.read_csv`).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .utils.atomic import atomic_write

MODES = ("pairs", "scores")
"""What a rater does: pick the better of two crops, or score one crop 1-5."""

CHOICES = ("left", "right", "same")
"""Answers of a pair trial."""

SCORES = (1, 2, 3, 4, 5)
"""Answers of a score trial: bad, poor, fair, good, excellent (ITU-T P.910 ACR)."""

CSV_COLUMNS = ("trial", "mode", "y", "x", "size", "left", "right", "answer", "rater")
"""Columns of a saved session; ``right`` is empty in score trials, ``answer`` until rated."""

BOOTSTRAP_ROUNDS = 1000
"""Resamplings of the trials behind the Bradley–Terry intervals."""


@dataclasses.dataclass
class Trial:
    """One question of a rating session.

    Attributes
    ----------
    y, x : int
        Top-left corner of the crop, pixels of the outputs.
    size : int
        Side of the square crop, pixels.
    left : str
        The method shown on the left (or alone, in score trials).
    right : str or None
        The method shown on the right in pair trials.
    answer : str, int or None
        ``"left"``, ``"right"`` or ``"same"`` (pairs), 1-5 (scores); None until rated.
    rater : str
        Who answered (free text; empty when not given).
    """

    y: int
    x: int
    size: int
    left: str
    right: str | None = None
    answer: str | int | None = None
    rater: str = ""


@dataclasses.dataclass(frozen=True)
class MethodRating:
    """What the raters said about one method.

    Attributes
    ----------
    method : str
    trials : int
        Rated trials that showed it.
    mean : float or None
        ``scores``: the MOS (1-5); ``pairs``: the preference rate (wins plus half the
        "same" answers, over the comparisons), 0-1. None before any rated trial.
    low, high : float or None
        The 95 % interval of ``mean`` (Student t for MOS, Wilson for rates).
    strength : float or None
        ``pairs``: the Bradley–Terry log-strength (natural log; the methods' mean is 0: a
        method ``d`` above another is preferred with probability ``1 / (1 + exp(−d))``).
    strength_low, strength_high : float or None
        Its bootstrap 95 % interval.
    rank : int
        1 for the best (by ``strength`` for pairs, ``mean`` for scores).
    """

    method: str
    trials: int
    mean: float | None
    low: float | None
    high: float | None
    strength: float | None = None
    strength_low: float | None = None
    strength_high: float | None = None
    rank: int = 0


class RatingSession:
    """The trials of a blind rating study, and their answers.

    Parameters
    ----------
    methods : sequence of str
        Two or more method names (labels of the outputs; never shown to the rater).
    shape : (int, int)
        Height and width of the outputs, pixels (all outputs have it).
    trials : int
        How many questions to draw.
    mode : {'pairs', 'scores'}
        Pick the better of two, or score one 1-5.
    size : int
        Side of the square crops, pixels (at most the image's smaller side).
    seed : int
        Draws the crops, the methods and their sides: the same seed, methods, shape and
        options give the same trials.

    Notes
    -----
    Pair trials cycle through every pair of methods in turn (in a random order each
    round), so that each pair is compared about equally often; the side of each method is
    drawn per trial. Score trials cycle through the methods alike.
    """

    def __init__(
        self,
        methods: Sequence[str],
        shape: tuple[int, int],
        *,
        trials: int = 20,
        mode: str = "pairs",
        size: int = 128,
        seed: int = 0,
    ) -> None:
        methods = [str(m) for m in methods]
        if len(methods) < 2 or len(set(methods)) < len(methods):
            raise ValueError(
                f"rating needs two or more different methods to compare, not {methods}"
            )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        height, width = (int(n) for n in shape)
        size, trials = int(size), int(trials)
        if size < 8 or size > min(height, width):
            raise ValueError(
                f"crop size must be between 8 and the image's smaller side "
                f"({min(height, width)} pixels), not {size}"
            )
        if trials < 1:
            raise ValueError(f"trials must be at least 1, not {trials}")
        self.methods, self.mode, self.shape = methods, mode, (height, width)
        rng = np.random.default_rng(seed)
        if mode == "pairs":
            units = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1 :]]
        else:
            units = [(m,) for m in methods]
        drawn: list[tuple[str, ...]] = []
        while len(drawn) < trials:  # every pair (method) once per round, in random order
            drawn += [units[i] for i in rng.permutation(len(units))]
        self.trials: list[Trial] = []
        for unit in drawn[:trials]:
            y = int(rng.integers(0, height - size + 1))
            x = int(rng.integers(0, width - size + 1))
            if mode == "pairs":
                left, right = unit if rng.random() < 0.5 else unit[::-1]
                self.trials.append(Trial(y, x, size, left, right))
            else:
                self.trials.append(Trial(y, x, size, unit[0]))

    # ---- answering

    def next_trial(self) -> int | None:
        """The index of the first trial without an answer; None when all are rated."""
        for index, trial in enumerate(self.trials):
            if trial.answer is None:
                return index
        return None

    def crops(
        self, index: int, images: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The crops trial ``index`` shows: (left, right), right None in score trials.
        ``images`` maps each method to its output (Y, X or Y, X, C)."""
        trial = self.trials[index]
        window = (slice(trial.y, trial.y + trial.size), slice(trial.x, trial.x + trial.size))
        missing = [m for m in (trial.left, trial.right) if m is not None and m not in images]
        if missing:
            raise ValueError(f"no image of method(s) {', '.join(missing)} to crop")
        left = np.asarray(images[trial.left])[window]
        right = None if trial.right is None else np.asarray(images[trial.right])[window]
        return left, right

    def answer(self, index: int, answer: str | int, rater: str = "") -> None:
        """Record the answer to trial ``index``: ``"left"``, ``"right"``, ``"same"``
        (pairs) or a score 1-5."""
        trial = self.trials[index]
        if self.mode == "pairs":
            if answer not in CHOICES:
                raise ValueError(
                    f"a pair trial's answer is one of {', '.join(CHOICES)}, not {answer!r}"
                )
        elif isinstance(answer, bool) or answer not in SCORES:
            raise ValueError(f"a score trial's answer is a whole number 1-5, not {answer!r}")
        trial.answer = answer if self.mode == "pairs" else int(answer)
        trial.rater = str(rater)

    # ---- results

    def results(self, *, seed: int = 0) -> list[MethodRating]:
        """Per method: MOS or preference rate with its 95 % interval, and (pairs) the
        Bradley–Terry strength with a bootstrap interval drawn from ``seed``; best first."""
        rated = [t for t in self.trials if t.answer is not None]
        if self.mode == "scores":
            rows = [self._mos(m, [int(t.answer) for t in rated if t.left == m])
                    for m in self.methods]  # fmt: skip
            order = sorted(rows, key=lambda r: -math.inf if r.mean is None else r.mean,
                           reverse=True)  # fmt: skip
            return [dataclasses.replace(r, rank=i + 1) for i, r in enumerate(order)]
        wins, counts = self._tally(rated)
        strength = bradley_terry(wins, counts)
        bounds = self._bootstrap(rated, seed)
        rows = []
        for i, method in enumerate(self.methods):
            n = int(counts[i].sum())
            rate = float(wins[i].sum() / n) if n else None
            low, high = wilson_interval(wins[i].sum(), n) if n else (None, None)
            rows.append(MethodRating(
                method, n, rate, low, high, float(strength[i]),
                None if bounds is None else float(bounds[0][i]),
                None if bounds is None else float(bounds[1][i]),
            ))  # fmt: skip
        order = sorted(rows, key=lambda r: r.strength, reverse=True)
        return [dataclasses.replace(r, rank=i + 1) for i, r in enumerate(order)]

    def _mos(self, method: str, scores: list[int]) -> MethodRating:
        from scipy import stats

        if not scores:
            return MethodRating(method, 0, None, None, None)
        values = np.asarray(scores, dtype=np.float64)
        mean = float(values.mean())
        if len(values) < 2:
            return MethodRating(method, 1, mean, None, None)
        half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
        return MethodRating(method, len(values), mean, mean - half, mean + half)

    def _tally(self, rated: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
        """``wins[i, j]``: how often i was preferred to j ("same": half each);
        ``counts[i, j]``: how often they were compared."""
        k = len(self.methods)
        index = {m: i for i, m in enumerate(self.methods)}
        wins, counts = np.zeros((k, k)), np.zeros((k, k))
        for t in rated:
            a, b = index[t.left], index[t.right]
            counts[a, b] += 1
            counts[b, a] += 1
            share = {"left": 1.0, "right": 0.0, "same": 0.5}[t.answer]
            wins[a, b] += share
            wins[b, a] += 1 - share
        return wins, counts

    def _bootstrap(
        self, rated: Sequence[Trial], seed: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if len(rated) < 2:
            return None
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(BOOTSTRAP_ROUNDS):
            sample = [rated[i] for i in rng.integers(0, len(rated), len(rated))]
            draws.append(bradley_terry(*self._tally(sample)))
        return np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)

    # ---- files

    def write_csv(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save the trials and answers as CSV (:data:`CSV_COLUMNS`), atomically; an
        existing file only with ``overwrite``."""
        rows = [
            {"trial": i, "mode": self.mode, "y": t.y, "x": t.x, "size": t.size,
             "left": t.left, "right": t.right or "",
             "answer": "" if t.answer is None else t.answer, "rater": t.rater}
            for i, t in enumerate(self.trials)
        ]  # fmt: skip

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)

        return atomic_write(path, write, overwrite=overwrite)

    @classmethod
    def read_csv(
        cls, path: str | os.PathLike, shape: tuple[int, int] | None = None
    ) -> RatingSession:
        """A session saved by :meth:`write_csv`, answers included: to score again, or to
        go on rating where it stopped. ``shape`` (the outputs' height and width) is checked
        against the crops when given."""
        path = Path(path)
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = sorted(set(CSV_COLUMNS) - set(reader.fieldnames or ()))
            if missing:
                raise ValueError(
                    f"{str(path)!r} is not a napari-sr rating session: it lacks the "
                    f"column(s) {', '.join(missing)}"
                )
            rows = list(reader)
        if not rows:
            raise ValueError(f"{str(path)!r} holds no trials")
        modes = {r["mode"] for r in rows}
        if len(modes) != 1 or not modes <= set(MODES):
            raise ValueError(f"{str(path)!r} mixes or misnames modes: {sorted(modes)}")
        session = cls.__new__(cls)
        session.mode = modes.pop()
        session.trials = []
        methods: list[str] = []
        try:
            for r in rows:
                trial = Trial(int(r["y"]), int(r["x"]), int(r["size"]), r["left"],
                              r["right"] or None, rater=r["rater"])  # fmt: skip
                for m in (trial.left, trial.right):
                    if m is not None and m not in methods:
                        methods.append(m)
                session.trials.append(trial)
                if r["answer"] != "":
                    session.answer(len(session.trials) - 1,
                                   r["answer"] if session.mode == "pairs" else int(r["answer"]),
                                   r["rater"])  # fmt: skip
        except ValueError as err:
            raise ValueError(f"{str(path)!r}, trial {len(session.trials)}: {err}") from None
        session.methods = methods
        height = max(t.y + t.size for t in session.trials)
        width = max(t.x + t.size for t in session.trials)
        if shape is not None and (height > shape[0] or width > shape[1]):
            raise ValueError(
                f"the crops of {str(path)!r} reach ({height}, {width}) pixels, beyond images "
                f"of {tuple(shape)}: rate the images the session was made for"
            )
        session.shape = tuple(shape) if shape is not None else (height, width)
        return session


def bradley_terry(wins: np.ndarray, counts: np.ndarray, *, iterations: int = 10_000) -> np.ndarray:
    """Bradley–Terry log-strengths (mean 0) from a win matrix and a comparison matrix.

    Hunter's MM iteration (Ann. Statist. 32, 2004, doi:10.1214/aos/1079120141):
    ``p_i ← W_i / Σ_j n_ij / (p_i + p_j)``. Every compared pair also gets one virtual "same"
    (half a win each way), a weak prior that keeps the strengths finite when a method
    wins or loses every comparison (the maximum-likelihood estimate is infinite then).
    Methods never compared get strength 0.
    """
    k = len(wins)
    compared = counts > 0
    wins = wins + 0.5 * compared
    counts = counts + 1.0 * compared
    p = np.ones(k)
    for _ in range(iterations):
        denominator = (counts / (p[:, None] + p[None, :])).sum(axis=1)
        updated = np.where(
            denominator > 0, wins.sum(axis=1) / np.maximum(denominator, 1e-300), 1.0
        )
        updated = updated / np.exp(np.log(updated).mean())
        if np.max(np.abs(updated - p)) < 1e-12:
            p = updated
            break
        p = updated
    log = np.log(p)
    return log - log.mean()


def wilson_interval(
    successes: float, n: float, z: float = 1.959963984540054
) -> tuple[float, float]:
    """The Wilson score 95 % interval of a proportion ``successes / n`` (Wilson 1927)."""
    if n <= 0:
        raise ValueError("a proportion needs at least one trial")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def results_table(results: Sequence[MethodRating], mode: str) -> str:
    """The results as a fixed-width text table."""
    if mode == "scores":
        lines = [f"{'rank':>4}  {'method':<24} {'trials':>6} {'MOS':>6} {'95% CI':>15}"]
        for r in results:
            ci = "—" if r.low is None else f"{r.low:.2f}-{r.high:.2f}"
            mos = "—" if r.mean is None else f"{r.mean:.2f}"
            lines.append(f"{r.rank:>4}  {r.method:<24} {r.trials:>6} {mos:>6} {ci:>15}")
        return "\n".join(lines)
    lines = [f"{'rank':>4}  {'method':<24} {'trials':>6} {'preferred':>9} {'95% CI':>13} "
             f"{'BT':>6} {'95% CI':>15}"]  # fmt: skip
    for r in results:
        rate = "—" if r.mean is None else f"{r.mean:.2f}"
        ci = "—" if r.low is None else f"{r.low:.2f}-{r.high:.2f}"
        bt_ci = "—" if r.strength_low is None else f"{r.strength_low:+.2f}..{r.strength_high:+.2f}"
        lines.append(f"{r.rank:>4}  {r.method:<24} {r.trials:>6} {rate:>9} {ci:>13} "
                     f"{r.strength:>+6.2f} {bt_ci:>15}")  # fmt: skip
    return "\n".join(lines)
