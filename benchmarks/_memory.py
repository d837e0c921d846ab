"""Peak resident memory of a stretch of code, for the memory benchmarks' child processes (Linux).

``ru_maxrss`` is not used: Linux keeps a process's peak across ``exec``, so a child started by a
parent that held 1 GB reports at least 1 GB. ``VmHWM`` belongs to the address space and is reset on
request through ``/proc/self/clear_refs``.

    from _memory import start, peak_gib
    start()                 # the peak is now the current RSS
    ...                     # the measured code
    peak_gib()              # the peak since start(), GiB
"""


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    raise RuntimeError(f"/proc/self/status has no {key}")


def rss_gib() -> float:
    return _status("VmRSS") / 2**20


def start() -> float:
    """Reset the peak to the current RSS; returns the current RSS in GiB."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return rss_gib()


def peak_gib() -> float:
    return _status("VmHWM") / 2**20
