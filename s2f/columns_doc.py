"""docs/outputs.md's column tables, generated from the dataset schemas (s2f/schemas.py): each table sits between
`<!-- columns: DATASET -->` and `<!-- /columns -->` and is rewritten by `s2f columns --write docs/outputs.md` (a
test fails if one drifts, or if a dataset has no table)."""

from __future__ import annotations

import re

from s2f.schemas import DATASETS, Columns

_BLOCK = re.compile(r"<!-- columns: (\w+) -->\n.*?<!-- /columns -->", re.S)


def _type(kind: object) -> str:
    """An Arrow type in a few words: `string`, `list of float`, ..."""
    text = str(kind)
    inner = re.fullmatch(r"list<item: (\w+)>", text)
    return f"list of {inner[1]}" if inner else text


def columns_table(columns: Columns) -> str:
    rows = [f"| `{name}` | {_type(kind)} | {meaning.replace('|', chr(92) + '|')} |"
            for name, kind, meaning in columns.columns]
    return "\n".join(["| column | type | meaning |", "|---|---|---|", *rows])


def with_columns(text: str) -> str:
    """`text` with every columns block rewritten from its dataset's schema. ValueError if a block names no known
    dataset or a dataset has no block."""
    named = _BLOCK.findall(text)
    if unknown := sorted(set(named) - set(DATASETS)):
        raise ValueError(f"columns blocks for unknown datasets {unknown}; known: {sorted(DATASETS)}")
    if missing := sorted(set(DATASETS) - set(named)):
        raise ValueError(f"no columns block for {missing}: add `<!-- columns: NAME -->` / `<!-- /columns -->`")
    return _BLOCK.sub(lambda m: f"<!-- columns: {m[1]} -->\n{columns_table(DATASETS[m[1]])}\n<!-- /columns -->", text)
