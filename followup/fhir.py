"""FHIR R4 for readings, both ways (clinical-rules.md §4): a stored reading as an Observation, Observations
in a searchset Bundle, and an incoming Observation as a Submission — or a clear error naming what is unusable.

Pure functions over plain values and reading rows; no database, no HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from core.errors import FieldErrors
from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.submission import Submission, fit_external_id, unit_name
from followup.units import Unit, ucum_code

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# No standard element says when a home glucose was taken relative to a meal (§8 item 7), so the context
# travels in an extension; the fasting codes carry it in the code as well.
GLUCOSE_CONTEXT_EXTENSION = "urn:careloop:fhir:StructureDefinition:glucose-context"
PROFILES = {
    ReadingKind.blood_pressure: "http://hl7.org/fhir/StructureDefinition/bp",
    ReadingKind.heart_rate: "http://hl7.org/fhir/StructureDefinition/heartrate",
    ReadingKind.weight: "http://hl7.org/fhir/StructureDefinition/bodyweight",
}
DISPLAY = {
    "14743-9": "Glucose [Moles/volume] in Capillary blood by Glucometer",
    "41653-7": "Glucose [Mass/volume] in Capillary blood by Glucometer",
    "14770-2": "Fasting glucose [Moles/volume] in Capillary blood by Glucometer",
    "41604-0": "Fasting glucose [Mass/volume] in Capillary blood by Glucometer",
    "85354-9": "Blood pressure panel with all children optional",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "8867-4": "Heart rate",
    "29463-7": "Body weight",
}
CONTEXT_TEXT = {
    GlucoseContext.fasting: "fasting", GlucoseContext.before_meal: "before a meal",
    GlucoseContext.after_meal_1h: "1 h after a meal", GlucoseContext.after_meal_2h: "2 h after a meal",
    GlucoseContext.bedtime: "at bedtime", GlucoseContext.random: "random",
}
UNIT_DISPLAY = {Unit.mmhg: "mmHg", Unit.per_min: "beats/minute"}

# Incoming codes: capillary home-meter codes and whole-blood codes of unknown specimen (US Core's example
# uses 2339-0). Value: (unit when the quantity names none, fasting).
GLUCOSE_CODES = {
    "14743-9": (Unit.mmol_l, False), "41653-7": (Unit.mg_dl, False), "14770-2": (Unit.mmol_l, True),
    "41604-0": (Unit.mg_dl, True), "1556-0": (Unit.mg_dl, True), "2339-0": (Unit.mg_dl, False),
    "15074-8": (Unit.mmol_l, False),
}
LAB_GLUCOSE_CODES = {"2345-7", "14749-6", "1558-6", "14771-0", "1521-4", "6689-4", "40287-5"}
BP_CODES = {"85354-9", "55284-4"}
HEART_RATE_CODES = {"8867-4"}
WEIGHT_CODES = {"29463-7", "3141-9"}
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
USABLE_STATUSES = {"final", "amended", "corrected"}


class ReadingLike(Protocol):
    """What an Observation is made from (followup.models.Reading fits)."""

    id: int | None
    patient_id: int
    kind: ReadingKind
    context: GlucoseContext | None
    meter_flag: MeterFlag | None
    value_original: Decimal | None
    unit_original: str
    systolic: int | None
    diastolic: int | None
    value_canonical: Decimal | None
    taken_at: datetime
    received_at: datetime
    entered_by_kind: str

    @property
    def loinc(self) -> str: ...


def reading_identifier_system(public_url: str) -> str:
    """The identifier system of this deployment's readings: a reading id means nothing without it."""
    return public_url.rstrip("/") + "/fhir/sid/reading"


def number(value: Decimal) -> int | float:
    """JSON number for a stored decimal: 200 for mg/dL, 11.2 for mmol/L (never "11.20" as text)."""
    return int(value) if value == value.to_integral_value() else float(value.normalize())


def _coding(code: str) -> dict[str, Any]:
    return {"system": LOINC, "code": code, "display": DISPLAY[code]}


def _quantity(value: Decimal, unit: Unit) -> dict[str, Any]:
    return {"value": number(value), "unit": UNIT_DISPLAY.get(unit, str(unit)), "system": UCUM,
            "code": ucum_code(unit)}


def observation(reading: ReadingLike, *, tz: tzinfo, identifier_system: str) -> dict[str, Any]:
    """One reading as a FHIR R4 Observation shaped as clinical-rules.md §4.2, times in the patient's offset."""
    kind = ReadingKind(reading.kind)
    code = reading.loinc
    resource: dict[str, Any] = {"resourceType": "Observation", "id": str(reading.id)}
    if kind in PROFILES:
        resource["meta"] = {"profile": [PROFILES[kind]]}
    resource["identifier"] = [{"system": identifier_system, "value": str(reading.id)}]
    resource["status"] = "final"
    category = "laboratory" if kind == ReadingKind.glucose else "vital-signs"
    resource["category"] = [{"coding": [{"system": CATEGORY, "code": category,
                                         "display": "Laboratory" if category == "laboratory" else "Vital Signs"}]}]
    resource["code"] = {"coding": [_coding(code)]}
    resource["subject"] = {"reference": f"Patient/{reading.patient_id}"}
    resource["effectiveDateTime"] = reading.taken_at.astimezone(tz).isoformat(timespec="seconds")
    resource["issued"] = reading.received_at.astimezone(tz).isoformat(timespec="seconds")
    if reading.entered_by_kind == "patient":
        resource["performer"] = [{"reference": f"Patient/{reading.patient_id}"}]
    if kind == ReadingKind.blood_pressure:
        resource["component"] = [
            {"code": {"coding": [_coding(SYSTOLIC)]}, "valueQuantity": _quantity(Decimal(reading.systolic or 0),
                                                                                  Unit.mmhg)},
            {"code": {"coding": [_coding(DIASTOLIC)]}, "valueQuantity": _quantity(Decimal(reading.diastolic or 0),
                                                                                   Unit.mmhg)},
        ]
    elif kind == ReadingKind.glucose:
        _glucose_value(reading, resource)
    elif kind == ReadingKind.weight:
        unit = Unit(reading.unit_original)
        if unit is Unit.jin:  # 斤 has no UCUM code; the canonical kilograms travel instead
            resource["valueQuantity"] = _quantity(reading.value_canonical or Decimal(0), Unit.kg)
        else:
            resource["valueQuantity"] = _quantity(reading.value_original or Decimal(0), unit)
    else:
        resource["valueQuantity"] = _quantity(reading.value_original or Decimal(0), Unit.per_min)
    return resource


def _glucose_value(reading: ReadingLike, resource: dict[str, Any]) -> None:
    context = GlucoseContext(reading.context or GlucoseContext.random)
    resource["code"]["text"] = f"Capillary glucose, {CONTEXT_TEXT[context]} (home meter)"
    resource["extension"] = [{"url": GLUCOSE_CONTEXT_EXTENSION, "valueCode": str(context)}]
    if reading.meter_flag is not None:
        high = reading.meter_flag == MeterFlag.hi
        # The meter showed HI/LO instead of a number: off scale, value unknown.
        resource["valueString"] = "HI" if high else "LO"
        resource["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": ">" if high else "<",
                                                   "display": "Off scale high" if high else "Off scale low"}]}]
        return
    resource["valueQuantity"] = _quantity(reading.value_original or Decimal(0), Unit(reading.unit_original))


def searchset(entries: Iterable[dict[str, Any]], *, total: int, identifier_system: str,
              links: dict[str, str], timestamp: datetime) -> dict[str, Any]:
    """A searchset Bundle of Observations; fullUrl is a UUID derived from the reading's identifier."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timestamp.isoformat(timespec="seconds"),
        "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links.items()],
        "entry": [{"fullUrl": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identifier_system}/{r['id']}")),
                   "resource": r, "search": {"mode": "match"}} for r in entries],
    }


# --- incoming ---------------------------------------------------------------------------------------------


def resources_in(document: Any) -> list[dict[str, Any]]:
    """The resources of a Bundle (any type), or a lone resource; ValueError when it is neither."""
    if not isinstance(document, dict) or "resourceType" not in document:
        raise ValueError("not a FHIR resource")
    if document["resourceType"] != "Bundle":
        return [document]
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        raise ValueError("Bundle.entry is not a list")
    return [e.get("resource") if isinstance(e, dict) and isinstance(e.get("resource"), dict) else {}
            for e in entries]


def subject_reference(resource: dict[str, Any]) -> str | None:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    return reference if isinstance(reference, str) and reference else None


def patient_phones(document: Any) -> dict[str, str]:
    """Phone numbers of the Patient resources a Bundle carries, by every reference that may point at them."""
    phones: dict[str, str] = {}
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        return phones
    for entry in document.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
            continue
        phone = next((t.get("value") for t in resource.get("telecom") or []
                      if isinstance(t, dict) and t.get("system") in ("phone", "sms") and t.get("value")), None)
        if not phone:
            continue
        if resource.get("id"):
            phones[f"Patient/{resource['id']}"] = str(phone)
        if entry.get("fullUrl"):
            phones[str(entry["fullUrl"])] = str(phone)
    return phones


def submission(resource: dict[str, Any]) -> Submission:
    """What an Observation asks to store; ValidationFailed whose fields are FHIR element paths otherwise."""
    errors = FieldErrors()
    if resource.get("resourceType") != "Observation":
        errors.add("resourceType", "Not an Observation.")
        errors.raise_if_any("This resource cannot be imported.")
    status = resource.get("status")
    if status not in USABLE_STATUSES:
        errors.add("status", "Status %(status)s is not a final result; only final, amended or corrected "
                             "Observations are imported.", status=status or "—")
    taken_at = _effective(resource, errors)
    codes = [c.get("code") for c in (resource.get("code") or {}).get("coding") or []
             if isinstance(c, dict) and c.get("system") == LOINC]
    if resource.get("dataAbsentReason"):
        errors.add("dataAbsentReason", "The Observation has no value.")
    fields: dict[str, Any] = {}
    if glucose := next((c for c in codes if c in GLUCOSE_CODES), None):
        fields = _glucose_fields(resource, glucose, errors)
        kind = ReadingKind.glucose
    elif any(c in BP_CODES for c in codes):
        fields, kind = _bp_fields(resource, errors), ReadingKind.blood_pressure
    elif any(c in HEART_RATE_CODES for c in codes):
        fields = {"value": _value(resource, "valueQuantity", errors)}
        fields["unit"] = _unit(resource.get("valueQuantity"), "valueQuantity.code", errors, {Unit.per_min})
        kind = ReadingKind.heart_rate
    elif any(c in WEIGHT_CODES for c in codes):
        fields, kind = _weight_fields(resource, errors), ReadingKind.weight
    else:
        lab = next((c for c in codes if c in LAB_GLUCOSE_CODES), None)
        if lab:
            errors.add("code", "LOINC %(code)s is a laboratory glucose, not a home reading; it is not imported.",
                       code=lab)
        elif SYSTOLIC in codes or DIASTOLIC in codes:
            errors.add("code", "A systolic or diastolic value alone is not a reading; send the blood pressure "
                               "panel 85354-9 with both components.")
        else:
            errors.add("code", "No supported LOINC code (glucose, blood pressure 85354-9, heart rate 8867-4, "
                               "body weight 29463-7).")
        kind = ReadingKind.glucose
    errors.raise_if_any("This Observation cannot be imported.")
    assert taken_at is not None
    return Submission(kind=kind, taken_at=taken_at, external_id=_external_id(resource), **fields)


def _effective(resource: dict[str, Any], errors: FieldErrors) -> datetime | None:
    raw = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if not isinstance(raw, str) or not raw:
        errors.add("effectiveDateTime", "The time the reading was taken is missing.")
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or "T" not in raw:
        errors.add("effectiveDateTime", "%(value)s is not a date and time; give e.g. 2026-11-20T07:30:00+08:00.",
                   value=raw)
        return None
    if value.tzinfo is None:
        errors.add("effectiveDateTime", "%(value)s has no UTC offset.", value=raw)
        return None
    return value


def _decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _value(resource: dict[str, Any], path: str, errors: FieldErrors) -> Decimal | None:
    quantity = resource.get("valueQuantity")
    value = _decimal(quantity.get("value")) if isinstance(quantity, dict) else None
    if value is None:
        errors.add(f"{path}.value", "A numeric value is missing.")
    return value


def _unit(quantity: Any, path: str, errors: FieldErrors, allowed: set[Unit]) -> str | None:
    if not isinstance(quantity, dict):
        return None
    raw = quantity.get("code") if quantity.get("system") in (UCUM, None) and quantity.get("code") else None
    raw = raw or quantity.get("unit")
    if not raw:
        return None
    name = unit_name(str(raw))
    if name not in {str(u) for u in allowed}:
        errors.add(path, "Unit %(unit)s is not supported here; use %(units)s.", unit=raw,
                   units=", ".join(sorted(ucum_code(u) or str(u) for u in allowed)))
        return None
    return name


def _glucose_fields(resource: dict[str, Any], code: str, errors: FieldErrors) -> dict[str, Any]:
    default_unit, fasting = GLUCOSE_CODES[code]
    context = GlucoseContext.fasting if fasting else _context(resource)
    flag = _meter_flag(resource)
    quantity = resource.get("valueQuantity")
    # The unit sent decides (the code is often mislabelled, §4.1); the code's dimension fills a bare number.
    unit = _unit(quantity, "valueQuantity.code", errors, {Unit.mmol_l, Unit.mg_dl}) or str(default_unit)
    if flag is not None and not isinstance(quantity, dict):
        return {"meter_flag": flag, "unit": unit, "context": context}
    return {"value": _value(resource, "valueQuantity", errors), "unit": unit, "context": context}


def _context(resource: dict[str, Any]) -> GlucoseContext:
    for extension in resource.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == GLUCOSE_CONTEXT_EXTENSION:
            try:
                return GlucoseContext(extension.get("valueCode"))
            except ValueError:
                break
    return GlucoseContext.random


def _meter_flag(resource: dict[str, Any]) -> MeterFlag | None:
    text = str(resource.get("valueString") or "").strip().upper()
    if text in ("HI", "HIGH"):
        return MeterFlag.hi
    if text in ("LO", "LOW"):
        return MeterFlag.lo
    for interpretation in resource.get("interpretation") or []:
        for coding in (interpretation or {}).get("coding") or []:
            if isinstance(coding, dict) and coding.get("system") == INTERPRETATION and coding.get("code") in ("<", ">"):
                return MeterFlag.hi if coding.get("code") == ">" else MeterFlag.lo
    return None


def _bp_fields(resource: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
    values: dict[str, Decimal | None] = {}
    for component in resource.get("component") or []:
        if not isinstance(component, dict):
            continue
        codes = {c.get("code") for c in (component.get("code") or {}).get("coding") or [] if isinstance(c, dict)}
        name = "systolic" if SYSTOLIC in codes else "diastolic" if DIASTOLIC in codes else (
            "pulse" if codes & HEART_RATE_CODES else None)
        if name is None:
            continue
        quantity = component.get("valueQuantity")
        path = f"component[{name}].valueQuantity"
        allowed = {Unit.per_min} if name == "pulse" else {Unit.mmhg}
        _unit(quantity, path + ".code", errors, allowed)
        values[name] = _decimal(quantity.get("value")) if isinstance(quantity, dict) else None
    fields: dict[str, Any] = {}
    for name in ("systolic", "diastolic", "pulse"):
        value = values.get(name)
        if value is None:
            if name != "pulse":
                errors.add(f"component[{name}]", "The %(name)s component (with a value) is missing.", name=name)
            continue
        if value != value.to_integral_value():
            errors.add(f"component[{name}].valueQuantity.value", "%(value)s is not a whole number.", value=value)
            continue
        fields[name] = int(value)
    return fields


def _weight_fields(resource: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
    value = _value(resource, "valueQuantity", errors)
    quantity = resource.get("valueQuantity")
    raw = (quantity.get("code") or quantity.get("unit")) if isinstance(quantity, dict) else None
    if not raw:
        errors.add("valueQuantity.code", "The unit is missing; use kg, [lb_av] or g.")
        return {"value": value}
    if raw == "g" and value is not None:  # grams are in the FHIR body-weight value set; store kilograms
        return {"value": (value / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), "unit": "kg"}
    return {"value": value, "unit": _unit(quantity, "valueQuantity.code", errors, {Unit.kg, Unit.lb, Unit.jin})}


def _external_id(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            system = identifier.get("system")
            return fit_external_id(f"{system}|{identifier['value']}" if system else str(identifier["value"]))
    return None
