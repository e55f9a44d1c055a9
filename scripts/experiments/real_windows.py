"""The dev real clips' 6 s speech windows, as `s2f predict` picks them (for the probes beside this file)."""
from pathlib import Path

import pandas as pd

from s2f.predict import read_speech, speech_window

REAL = Path("../shared/realdata")


class Windows(dict):
    @property
    def files(self) -> list[str]:
        return list(self)


def real_windows() -> Windows:
    out = Windows()
    for f in pd.read_csv(REAL / "manifest.csv").file:
        try:
            out[f] = speech_window(read_speech(REAL / f), 6.0, 1.5, -40.0).samples
        except Exception as err:  # a clip without enough speech is left out, as real_voices.py does
            print("skip", f, err)
    return out
