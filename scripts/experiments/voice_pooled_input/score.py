"""val_eval.py (../voice_schedules) on encoders trained by train.py, with the same input pooling patched in
(S2F_TIME_POOL; 1 scores default encoders). usage: score.py MODEL_DIR [MODEL_DIR ...]"""

import runpy
import sys
from pathlib import Path

from pooled import patch

patch()
script = Path(__file__).parents[1] / "voice_schedules" / "val_eval.py"
sys.argv = [str(script), *sys.argv[1:]]
runpy.run_path(str(script), run_name="__main__")
