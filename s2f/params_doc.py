"""docs/parameters.md, generated from the params schema (s2f/config.py): every key, its default, its allowed values
and its meaning (`s2f params --write docs/parameters.md`; a test fails if the file drifts)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from s2f.config import Params


def _allowed(field: Any) -> str:
    """A field's allowed values, from its type and constraints, in a few words."""
    parts = []
    args = getattr(field.annotation, "__args__", ())
    literal = next((a for a in (field.annotation, *args) if getattr(a, "__origin__", None) is Literal), None)
    if literal is not None:
        parts.append(" or ".join(f"`{v}`" for v in literal.__args__))
    for m in field.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "length >="),
                           ("max_length", "length <=")):
            value = getattr(m, attr, None)
            if attr == "min_length" and value == 1:
                parts.append("not empty")
            elif value is not None:
                parts.append(f"{sign} {value:g}" if isinstance(value, float) else f"{sign} {value}")
    if type(None) in args:
        parts.append("null allowed")
    return ", ".join(parts)


def params_markdown() -> str:
    """docs/parameters.md: every parameter with its default, allowed values and meaning, from this schema."""
    lines = ["# Parameters", "",
             "Every key of `params.yaml`, with its default, its allowed values and what it does. Generated from the",
             "schema in `s2f/config.py` by `s2f params --write docs/parameters.md` (a test fails if it drifts); the",
             "defaults and descriptions are written there once. Back to the [README](../README.md).", "",
             "Override one key for a single run with `s2f run STAGE --set section.key=value`. Every key is checked",
             "before a stage starts; an unknown key, a wrong type or a value out of range stops it with one line.", ""]

    def rows(model: type[BaseModel], prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                out += rows(sub, f"{prefix}{name}.")
                continue
            default = json.dumps(field.default)
            meaning = " ".join((field.description or "").split()).replace("|", "\\|")
            out.append(f"| `{prefix}{name}` | `{default}` | {_allowed(field)} | {meaning} |")
        return out

    for section, field in Params.model_fields.items():
        model = field.annotation
        lines += [f"## `{section}`", "", " ".join((model.__doc__ or "").split()), "",
                  "| key | default | allowed | meaning |", "|---|---|---|---|", *rows(model, f"{section}."), ""]
    return "\n".join(lines)
