"""A questionnaire as data: question definitions (stored as JSON on each template version), their answer
choices in either language, and the reading of a submitted form value into a stored answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from surveys.defaults import NOT_APPLICABLE, NPS_ENDS, SCALES, YES_NO
from surveys.enums import Dimension, LikertScale, QuestionType
from surveys.scoring import Scored, score_answer

NA = "na"
TEXT_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class OptionDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    zh: str = Field(min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=120)


class QuestionDef(BaseModel):
    """One question. `key` is stable across versions: results for a key are pooled over versions, which is
    why a key's answer type and scale may not change once answered."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    type: QuestionType
    dimension: Dimension
    required: bool = True
    zh: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)
    scale: LikertScale | None = None
    allow_na: bool = False
    favourable: Literal["yes", "no"] = "yes"  # yes/no: which answer is the good one
    options: list[OptionDef] = []

    @model_validator(mode="after")
    def _consistent(self) -> QuestionDef:
        if self.type is QuestionType.likert and self.scale is None:
            raise ValueError("a rating-scale question needs a scale")
        if self.type is not QuestionType.likert:
            self.scale = None
        if self.type is QuestionType.choice:
            values = [o.value for o in self.options]
            if len(values) < 2 or len(set(values)) != len(values) or NA in values:
                raise ValueError("a single-choice question needs at least two distinct options")
        else:
            self.options = []
        if self.type not in (QuestionType.likert, QuestionType.yes_no):
            self.allow_na = False
        return self

    @property
    def points(self) -> int:
        return len(SCALES[self.scale]) if self.scale else 0

    @property
    def scored(self) -> bool:
        return self.type in (QuestionType.likert, QuestionType.nps, QuestionType.yes_no)

    def text(self, language: str) -> str:
        return self.zh if language == "zh-CN" else self.en

    def choices(self, language: str) -> list[tuple[str, str]]:
        """(form value, label) pairs in display order, most favourable last for scales."""
        pick = 0 if language == "zh-CN" else 1
        if self.type is QuestionType.likert:
            found = [(str(i), labels[pick]) for i, labels in enumerate(SCALES[self.scale or ""], start=1)]
        elif self.type is QuestionType.nps:
            found = [(str(i), str(i)) for i in range(11)]
        elif self.type is QuestionType.yes_no:
            found = [("1", YES_NO[0][pick]), ("0", YES_NO[1][pick])]
        elif self.type is QuestionType.choice:
            found = [(o.value, o.zh if pick == 0 else o.en) for o in self.options]
        else:
            found = []
        if self.allow_na:
            found.append((NA, NOT_APPLICABLE[pick]))
        return found

    def label_of(self, answer: Answer, language: str) -> str:
        """What the patient chose, as they saw it (for exports and comment lists)."""
        if self.type is QuestionType.text:
            return answer.text
        wanted = answer.choice or ("" if answer.value is None else str(answer.value))
        return dict(self.choices(language)).get(wanted, wanted)

    def nps_ends(self, language: str) -> tuple[str, str]:
        pick = 0 if language == "zh-CN" else 1
        return NPS_ENDS[0][pick], NPS_ENDS[1][pick]

    def read(self, raw: str | None) -> Answer | None:
        """A submitted form value as an answer; None when left empty. Raises ValueError when out of range."""
        raw = (raw or "").strip()
        if not raw:
            return None
        if self.type is QuestionType.text:
            text = _CONTROL.sub("", raw)[:TEXT_MAX].strip()
            return Answer(text=text) if text else None
        if raw == NA and self.allow_na:
            return Answer(choice=NA)
        if self.type is QuestionType.choice:
            if raw not in {o.value for o in self.options}:
                raise ValueError(raw)
            return Answer(choice=raw)
        if not raw.isdigit() or raw not in dict(self.choices("en")):
            raise ValueError(raw)
        return Answer(value=int(raw))

    def score(self, answer: Answer) -> Scored:
        if not self.scored or answer.value is None:
            return Scored()
        return score_answer(self.type, answer.value, points=self.points, favourable_yes=self.favourable == "yes")


@dataclass(frozen=True)
class Answer:
    value: int | None = None  # likert 1..k, 0–10, yes 1 / no 0
    choice: str = ""  # a single-choice option, or "na"
    text: str = ""


def parse_questions(raw: list[dict[str, object]]) -> list[QuestionDef]:
    return [QuestionDef.model_validate(q) for q in raw]
