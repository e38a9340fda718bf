"""The plain-JSON form of rule definitions: stored in the database, edited in the clinic admin's form."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from followup.enums import (
    Comparison,
    DayValue,
    DuePolicy,
    GlucoseContext,
    MeterFlag,
    ReadingKind,
    RuleType,
    Severity,
)
from followup.rules.definitions import (
    PARAMS_BY_TYPE,
    Bound,
    Condition,
    FieldError,
    LocalizedText,
    RuleDefinition,
    RuleInvalid,
    RuleParams,
    choices,
)

_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_RULE_FIELDS = {
    "code",
    "kind",
    "type",
    "params",
    "severity",
    "due",
    "due_policy",
    "contexts",
    "title",
    "reason",
}


def rule_to_dict(rule: RuleDefinition) -> dict[str, Any]:
    return {
        "code": rule.code,
        "kind": None if rule.kind is None else str(rule.kind),
        "type": str(rule.type),
        "params": _params_to_dict(rule.params),
        "severity": str(rule.severity),
        "due": format_duration(rule.due),
        "due_policy": str(rule.due_policy),
        "contexts": None if rule.contexts is None else [str(c) for c in rule.contexts],
        "title": _text_to_dict(rule.title),
        "reason": _text_to_dict(rule.reason),
    }


def rule_from_dict(data: Mapping[str, Any]) -> RuleDefinition:
    """Parse every field, report every bad one (by path) at once, then let the rule check itself."""
    if not isinstance(data, Mapping):
        raise RuleInvalid([FieldError("rule", "expected an object")])
    errors: list[FieldError] = []
    _no_unknown(errors, data, "", _RULE_FIELDS)
    rule_type = _field(errors, data, "", "type", lambda v: _enum(RuleType, v))
    fields = {
        "code": _field(errors, data, "", "code", _text),
        "kind": _field(errors, data, "", "kind", lambda v: _enum(ReadingKind, v), default=None),
        "type": rule_type,
        "severity": _field(errors, data, "", "severity", lambda v: _enum(Severity, v)),
        "due": _field(errors, data, "", "due", parse_duration),
        "due_policy": _field(errors, data, "", "due_policy", lambda v: _enum(DuePolicy, v), default=DuePolicy.after),
        "contexts": _field(errors, data, "", "contexts", _contexts, default=None),
        "title": _nested(errors, data, "", "title", _localized),
        "reason": _nested(errors, data, "", "reason", _localized),
    }
    if isinstance(rule_type, RuleType):
        fields["params"] = _nested(errors, data, "", "params", lambda v, at, errs: _params_from(rule_type, v, at, errs))
    if errors:
        raise RuleInvalid(errors)
    return RuleDefinition(**fields)


def format_duration(value: timedelta) -> str:
    """ISO 8601 duration (P14D, PT1H, PT30M), the form an admin edits and JSON stores."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "") if seconds else "PT0S"


def parse_duration(value: Any) -> timedelta:
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise _Bad(f"expected an ISO 8601 duration such as PT15M, PT1H or P14D (got {value!r})")
    weeks, days, hours, minutes, secs = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=secs)


def _params_to_dict(p: RuleParams) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in vars(p).items():
        if isinstance(value, Condition):
            out[name] = _condition_to_dict(value)
        elif isinstance(value, LocalizedText):
            out[name] = _text_to_dict(value)
        elif isinstance(value, timedelta):
            out[name] = format_duration(value)
        elif isinstance(value, StrEnum):
            out[name] = str(value)
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def _condition_to_dict(c: Condition) -> dict[str, Any]:
    def bound(b: Bound | None) -> dict[str, str] | None:
        return None if b is None else {"op": str(b.op), **{u: str(v) for u, v in b.values}}

    return {
        "bounds": [bound(b) for b in c.bounds],
        "systolic": bound(c.systolic),
        "diastolic": bound(c.diastolic),
        "meter_flags": [str(f) for f in c.meter_flags],
    }


def _text_to_dict(t: LocalizedText) -> dict[str, str]:
    return {"zh-CN": t.zh_cn, "en": t.en}


class _Bad(ValueError):
    """A leaf value is wrong; the message is shown after the field's path."""


_REQUIRED: Any = object()
_BAD: Any = object()
E = TypeVar("E", bound=StrEnum)


def _field(
    errors: list[FieldError],
    data: Mapping[str, Any],
    at: str,
    key: str,
    parse: Callable[[Any], Any],
    default: Any = _REQUIRED,
) -> Any:
    return _nested(errors, data, at, key, lambda v, _where, _errs: parse(v), default)


def _nested(
    errors: list[FieldError],
    data: Mapping[str, Any],
    at: str,
    key: str,
    parse: Callable[[Any, str, list[FieldError]], Any],
    default: Any = _REQUIRED,
) -> Any:
    where = f"{at}.{key}" if at else key
    value = data.get(key)
    if value is None:
        if default is _REQUIRED:
            errors.append(FieldError(where, "is required"))
            return _BAD
        return default
    try:
        return parse(value, where, errors)
    except _Bad as exc:
        errors.append(FieldError(where, str(exc)))
        return _BAD


def _no_unknown(errors: list[FieldError], data: Mapping[str, Any], at: str, known: set[str]) -> None:
    for key in data:
        if key not in known:
            where = f"{at}.{key}" if at else str(key)
            errors.append(FieldError(where, f"unknown field; expected one of {', '.join(sorted(known))}"))


def _object(value: Any, where: str, errors: list[FieldError], known: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad("expected an object")
    _no_unknown(errors, value, where, known)
    return value


def _enum(enum: type[E], value: Any) -> E:
    try:
        return enum(value)
    except ValueError:
        raise _Bad(f"{value!r} is not one of {choices(enum)}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("expected text")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise _Bad(f"expected a whole number (got {value!r})")
    return int(value)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"expected a number such as 16.7 (got {value!r})")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Bad(f"expected a number such as 16.7 (got {value!r})") from None
    if not number.is_finite():
        raise _Bad(f"expected a finite number (got {value!r})")
    return number


def _contexts(value: Any) -> tuple[GlucoseContext, ...] | None:
    if not isinstance(value, list):
        raise _Bad(f"expected a list of {choices(GlucoseContext)}")
    # An empty selection in the admin's form means "any context", the same as leaving the field out.
    return tuple(_enum(GlucoseContext, v) for v in value) or None


def _localized(value: Any, where: str, errors: list[FieldError]) -> LocalizedText:
    data = _object(value, where, errors, {"zh-CN", "en"})
    return LocalizedText(zh_cn=_field(errors, data, where, "zh-CN", _text), en=_field(errors, data, where, "en", _text))


def _bound(value: Any, where: str, errors: list[FieldError]) -> Bound:
    if not isinstance(value, Mapping):
        raise _Bad('expected an object such as {"op": "ge", "mmol/L": "16.7", "mg/dL": "300"}')
    op = _field(errors, value, where, "op", lambda v: _enum(Comparison, v))
    values = tuple((str(u), _field(errors, value, where, str(u), _decimal)) for u in value if u != "op")
    return Bound(op=op, values=values)


def _condition(value: Any, where: str, errors: list[FieldError]) -> Condition:
    data = _object(value, where, errors, {"bounds", "systolic", "diastolic", "meter_flags"})
    bounds = _field(errors, data, where, "bounds", lambda v: v if isinstance(v, list) else _fail("a list"), default=[])
    flags = _field(
        errors,
        data,
        where,
        "meter_flags",
        lambda v: tuple(_enum(MeterFlag, f) for f in (v if isinstance(v, list) else _fail("a list"))),
        default=(),
    )
    parsed = []
    for i, item in enumerate(bounds if isinstance(bounds, list) else []):
        try:
            parsed.append(_bound(item, f"{where}.bounds[{i}]", errors))
        except _Bad as exc:
            errors.append(FieldError(f"{where}.bounds[{i}]", str(exc)))
    return Condition(
        bounds=tuple(parsed),
        meter_flags=flags,
        systolic=_nested(errors, data, where, "systolic", _bound, default=None),
        diastolic=_nested(errors, data, where, "diastolic", _bound, default=None),
    )


def _fail(expected: str) -> Any:
    raise _Bad(f"expected {expected}")


_PARAM_FIELDS: dict[RuleType, dict[str, tuple[Callable[..., Any], bool, Any]]] = {
    # name: (parser, nested?, default) — _REQUIRED marks a field the admin must give
    RuleType.single_threshold: {"condition": (_condition, True, _REQUIRED)},
    RuleType.consecutive_days: {
        "condition": (_condition, True, _REQUIRED),
        "days": (_int, False, _REQUIRED),
        "day_value": (lambda v: _enum(DayValue, v), False, DayValue.max),
    },
    RuleType.k_of_n: {
        "condition": (_condition, True, _REQUIRED),
        "k": (_int, False, _REQUIRED),
        "n": (_int, False, None),
        "within": (parse_duration, False, None),
    },
    RuleType.window_mean: {
        "condition": (_condition, True, _REQUIRED),
        "within": (parse_duration, False, _REQUIRED),
        "min_readings": (_int, False, _REQUIRED),
        "min_days": (_int, False, _REQUIRED),
    },
    RuleType.persistent: {
        "condition": (_condition, True, _REQUIRED),
        "count": (_int, False, _REQUIRED),
        "min_spacing": (parse_duration, False, _REQUIRED),
        "within": (parse_duration, False, _REQUIRED),
        "recheck_reason": (_localized, True, _REQUIRED),
    },
    RuleType.missing_data: {
        "reminder_after": (parse_duration, False, None),
        "callback_after": (parse_duration, False, None),
    },
    RuleType.symptom: {
        "terms": (lambda v: tuple(_text(t) for t in v) if isinstance(v, list) else _fail("a list"), False, ())
    },
}


def _params_from(rule_type: RuleType, value: Any, where: str, errors: list[FieldError]) -> RuleParams:
    spec = _PARAM_FIELDS[rule_type]
    data = _object(value, where, errors, set(spec))
    kwargs = {
        name: (_nested if nested else _field)(errors, data, where, name, parse, default)
        for name, (parse, nested, default) in spec.items()
    }
    params: RuleParams = PARAMS_BY_TYPE[rule_type](**kwargs)
    return params
