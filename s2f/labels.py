"""Label values read from users' tables, normalised once: gender as "m" / "f"."""

from __future__ import annotations

import pandas as pd

GENDERS = {"m": "m", "male": "m", "f": "f", "female": "f"}


def normalize_gender(value: object) -> str | None:
    """"m" or "f" from m / male / f / female in any case and spacing; None for anything else or a missing value."""
    text = str(value).strip().lower() if pd.notna(value) else ""
    return GENDERS.get(text)
