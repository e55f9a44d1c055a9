"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import multiprocessing
import os
import threading


def exit_with_parent() -> None:
    """Pool initializer: exit this worker as soon as its parent process is gone, even if it was SIGKILLed
    (a pool's workers otherwise wait for work forever, or finish a shard nobody will collect)."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child: nothing to watch
        return

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel pipe closes, i.e. when the parent has died
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
