"""Survey scoring as the field does it (qi-methods.md §7): top/bottom box, linear 0–100 mean, NPS.

Pure functions over plain values: the database stores each answer's classification (top, bottom, linear
score) at submission, SQL sums those columns, and the sums come back here to become percentages — so the
numbers on a page and in a unit test are computed by the same code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from surveys.defaults import COMPLAINT_NEGATIONS, COMPLAINT_WORDS
from surveys.enums import QuestionType

NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
LIKERT_BOTTOM_MAX = 2  # the two least favourable answers: Never/Sometimes, (Very) dissatisfied, (Strongly) disagree


@dataclass(frozen=True)
class Scored:
    """One answer's place in the boxes; None for answers that are not scored (choice, text, N/A)."""

    top: bool | None = None
    bottom: bool | None = None
    score: float | None = None  # linear 0–100

    @property
    def scored(self) -> bool:
        return self.score is not None


UNSCORED = Scored()


def score_answer(qtype: QuestionType, value: int | None, *, points: int = 4, favourable_yes: bool = True) -> Scored:
    """Classify one answer. Likert values run 1..points (points = most favourable), NPS 0..10, yes/no 1/0.

    Linear means follow the HCAHPS star-rating mapping: Never/Sometimes/Usually/Always → 0/33⅓/66⅔/100,
    No/Yes → 0/100, a 0–10 rating × 10.
    """
    if value is None:
        return UNSCORED
    if qtype is QuestionType.likert:
        if not 1 <= value <= points or points < 2:
            raise ValueError(f"likert answer {value} outside 1..{points}")
        return Scored(top=value == points, bottom=value <= LIKERT_BOTTOM_MAX,
                      score=(value - 1) * 100 / (points - 1))
    if qtype is QuestionType.nps:
        if not 0 <= value <= 10:
            raise ValueError(f"0–10 answer {value} outside 0..10")
        return Scored(top=value >= NPS_PROMOTER_MIN, bottom=value <= NPS_DETRACTOR_MAX, score=value * 10.0)
    if qtype is QuestionType.yes_no:
        if value not in (0, 1):
            raise ValueError(f"yes/no answer {value} is not 0 or 1")
        favourable = (value == 1) == favourable_yes
        return Scored(top=favourable, bottom=not favourable, score=100.0 if favourable else 0.0)
    return UNSCORED


@dataclass(frozen=True)
class BoxSummary:
    """Box percentages and the linear mean of a set of valid (scored) answers."""

    n: int
    top: int
    bottom: int
    score_sum: float

    @property
    def top_pct(self) -> float | None:
        return self.top * 100 / self.n if self.n else None

    @property
    def bottom_pct(self) -> float | None:
        return self.bottom * 100 / self.n if self.n else None

    @property
    def middle_pct(self) -> float | None:
        return (self.n - self.top - self.bottom) * 100 / self.n if self.n else None

    @property
    def mean(self) -> float | None:
        return self.score_sum / self.n if self.n else None


def summarise(answers: Iterable[Scored]) -> BoxSummary:
    """top_box% = count(top answers) / count(valid answers) × 100; unscored answers are not valid answers."""
    n = top = bottom = 0
    total = 0.0
    for a in answers:
        if not a.scored:
            continue
        n += 1
        top += bool(a.top)
        bottom += bool(a.bottom)
        total += a.score or 0.0
    return BoxSummary(n=n, top=top, bottom=bottom, score_sum=total)


@dataclass(frozen=True)
class Composite:
    """A dimension's score: the mean of its items' percentages (standard CMS composite practice)."""

    n: int  # answers behind it
    items: int  # questions with at least one answer
    top_pct: float | None
    bottom_pct: float | None
    mean: float | None


def composite(items: Sequence[BoxSummary]) -> Composite:
    answered = [i for i in items if i.n]
    if not answered:
        return Composite(n=0, items=0, top_pct=None, bottom_pct=None, mean=None)
    k = len(answered)
    return Composite(
        n=sum(i.n for i in answered), items=k,
        top_pct=sum(i.top_pct or 0.0 for i in answered) / k,
        bottom_pct=sum(i.bottom_pct or 0.0 for i in answered) / k,
        mean=sum(i.mean or 0.0 for i in answered) / k,
    )


@dataclass(frozen=True)
class NpsSummary:
    n: int
    promoters: int
    detractors: int

    @property
    def passives(self) -> int:
        return self.n - self.promoters - self.detractors

    @property
    def promoter_pct(self) -> float | None:
        return self.promoters * 100 / self.n if self.n else None

    @property
    def detractor_pct(self) -> float | None:
        return self.detractors * 100 / self.n if self.n else None

    @property
    def score(self) -> float | None:
        """NPS = %promoters (9–10) − %detractors (0–6); passives count only in the denominator."""
        return (self.promoters - self.detractors) * 100 / self.n if self.n else None

    @property
    def standard_error(self) -> float | None:
        """√((pP(1−pP) + pD(1−pD) + 2·pP·pD)/N) × 100: the trinomial variance of P − D."""
        if not self.n:
            return None
        p, d = self.promoters / self.n, self.detractors / self.n
        return math.sqrt((p * (1 - p) + d * (1 - d) + 2 * p * d) / self.n) * 100


def nps(values: Iterable[int]) -> NpsSummary:
    n = promoters = detractors = 0
    for v in values:
        if not 0 <= v <= 10:
            raise ValueError(f"0–10 answer {v} outside 0..10")
        n += 1
        promoters += v >= NPS_PROMOTER_MIN
        detractors += v <= NPS_DETRACTOR_MAX
    return NpsSummary(n=n, promoters=promoters, detractors=detractors)


def response_rate(responses: int, invitations: int) -> float | None:
    """Responses / invitations sent, in percent; None when nothing was sent."""
    return responses * 100 / invitations if invitations else None


# --- complaint words -----------------------------------------------------------------------------------

_ASCII_WORD = re.compile(r"[a-z]")


def complaint_words(text: str, *, words: Sequence[str] = COMPLAINT_WORDS,
                    negations: Sequence[str] = COMPLAINT_NEGATIONS) -> list[str]:
    """The lexicon entries found in a free-text answer ("态度差", "rude"…), in lexicon order.

    Phrases that deny a complaint ("没有不满意", "no complaints") are removed first. English entries match
    at word starts ("complain" finds "complained"), Chinese ones anywhere.
    """
    folded = " ".join(text.lower().split())
    for phrase in negations:
        folded = folded.replace(phrase.lower(), " ")
    found = []
    for word in words:
        w = word.lower()
        if _ASCII_WORD.match(w):
            if re.search(r"(?<![a-z])" + re.escape(w), folded):
                found.append(word)
        elif w in folded:
            found.append(word)
    return found


# --- reporting periods ---------------------------------------------------------------------------------


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def week_key(day: date) -> str:
    """ISO week, e.g. 2026-W48 (weeks start on Monday, as in China and most of Europe)."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def period_keys(start: date, end: date, *, granularity: str) -> list[str]:
    """Every month or ISO week touching [start, end], oldest first, so empty periods show as gaps."""
    if end < start:
        return []
    keys: list[str] = []
    key = month_key if granularity == "month" else week_key
    day = start
    while day <= end:
        k = key(day)
        if not keys or keys[-1] != k:
            keys.append(k)
        day += timedelta(days=1 if granularity == "month" else 7)
    last = key(end)
    if keys[-1] != last:
        keys.append(last)
    return keys
