"""Turns pydantic's validation errors for a device file into problems that say the fix.

Each error becomes a ``ConfigProblem`` whose message names the bad key or section and
what to do: an unknown key gets the closest known spelling, a missing one the field's
description, a cross-field rule its own problems. Only a bad file needs this, so the
loader imports it on that path alone (the running agent never loads it or difflib).

    except ValidationError as exc:
        problems = [p for err in exc.errors() for p in problems_from_error(err)]
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .device_model import CrossFieldProblems, DeviceConfig
from .errors import ConfigProblem


def problems_from_error(err: Any) -> list[ConfigProblem]:
    """Turn one pydantic error into problems whose message carries the fix."""
    loc = [str(p) for p in err["loc"]]
    where = ".".join(loc) or "(file)"
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, CrossFieldProblems):
        return error.problems
    if isinstance(error, ValueError):
        return [ConfigProblem(where, str(error))]
    kind = err["type"]
    if kind == "extra_forbidden":
        return [ConfigProblem(where, _unknown_key_message(loc))]
    if kind == "missing":
        field = _field_for(loc)
        hint = f" ({field.description.rstrip('.')})" if field and field.description else ""
        if len(loc) == 1:
            return [ConfigProblem(where, f"section [{loc[0]}] is missing: add it{hint}")]
        return [ConfigProblem(where, f"missing key: add {loc[-1]} = ... to [{loc[0]}]{hint}")]
    field = _field_for(loc)
    hint = f"; expected: {field.description.rstrip('.')}" if field and field.description else ""
    return [ConfigProblem(where, f"{err['input']!r} is invalid: {err['msg']}{hint}")]


def _model_for(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = DeviceConfig
    for part in loc:
        field = model.model_fields.get(part)
        inner = _section_type(field.annotation) if field else None
        if inner is None:
            return None
        model = inner
    return model


def _section_type(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_for(loc: list[str]) -> Any:
    model = _model_for(loc[:-1]) if loc else None
    return model.model_fields.get(loc[-1]) if model else None


def _unknown_key_message(loc: list[str]) -> str:
    model = _model_for(loc[:-1])
    known = sorted(model.model_fields) if model else []
    import difflib  # error path only: the running agent never loads it

    close = difflib.get_close_matches(loc[-1], known, n=1)
    if len(loc) == 1:
        fix = f"did you mean [{close[0]}]?" if close else f"sections are: {', '.join(known)}"
        return f"unknown section [{loc[0]}]: remove it or fix its name ({fix})"
    fix = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key {loc[-1]!r}: remove it or fix the spelling ({fix})"
