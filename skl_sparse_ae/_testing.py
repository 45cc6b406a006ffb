"""The memory of this process, as the tests and the benchmarks measure it (Linux).

Nothing here runs in a fit. It lives in the package, not in ``benchmarks/``, so
that the fresh Python processes of the tests and of the benchmarks alike can
import it; it needs only the standard library.
"""

# SPDX-License-Identifier: BSD-3-Clause

import threading


def proc_status(field):
    """A field of ``/proc/self/status`` in bytes, or None where there is none.

    Parameters
    ----------
    field : str
        ``"VmRSS"`` (resident memory), ``"VmHWM"`` (its high-water mark),
        ``"RssAnon"`` (anonymous resident memory), ...

    Returns
    -------
    size : int or None
        None on systems without ``/proc`` (not Linux) or without that field.

    Examples
    --------
    >>> from skl_sparse_ae._testing import proc_status
    >>> size = proc_status("VmRSS")
    >>> size is None or size > 0
    True
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # the file gives kB
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Restart the high-water mark VmHWM from the current resident memory.

    Needed because a child process's ``getrusage`` ``ru_maxrss`` starts at its
    parent's (Linux keeps the high-water mark across ``exec``), which hides the
    growth of what the child does.

    Returns
    -------
    done : bool
        False where the kernel does not allow it (then ``ru_maxrss`` only gives
        a lower bound of a growth).
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return proc_status("VmHWM") is not None


class PeakAnonymousMemory:
    """The growth of the anonymous memory of this process over a ``with`` block.

    A thread reads ``RssAnon`` every ``interval`` seconds while the block runs.
    Anonymous memory is what a copy of an array takes; the pages of a memory
    map that a fit reads are file-backed (page cache) and do not count, so this
    tells whether a fit on a memory map copied it.

    Parameters
    ----------
    interval : float, default=0.002
        Seconds between two readings. An allocation freed again in less time
        can be missed.

    Attributes
    ----------
    baseline : int
        ``RssAnon`` in bytes when the block started.

    growth : int
        The largest ``RssAnon`` seen, the end of the block included, minus
        ``baseline``, in bytes. Set when the block ends.

    Examples
    --------
    >>> import sys
    >>> import numpy as np
    >>> from skl_sparse_ae._testing import PeakAnonymousMemory
    >>> if sys.platform.startswith("linux"):
    ...     with PeakAnonymousMemory() as peak:
    ...         ones = np.ones(2**23)  # 64 MiB, touched
    ...     assert peak.growth >= 0.9 * ones.nbytes
    """

    def __init__(self, interval=0.002):
        self.interval = interval

    def __enter__(self):
        self.baseline = proc_status("RssAnon")
        if self.baseline is None:
            raise OSError("PeakAnonymousMemory reads RssAnon of /proc/self/status (Linux).")
        self._peak = self.baseline
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._poll, daemon=True)
        self._watcher.start()
        return self

    def _poll(self):
        while not self._done.wait(self.interval):
            self._peak = max(self._peak, proc_status("RssAnon"))

    def __exit__(self, *exc_info):
        self._done.set()
        self._watcher.join()
        self.growth = max(self._peak, proc_status("RssAnon")) - self.baseline
