"""Finance files written all or none: each to a temporary name beside it, renamed only once all were
written, so a failed export or payout file leaves nothing partial behind."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def writable_dir(out: Path) -> None:
    """Create `out` if needed and prove a file can be made in it; OSError otherwise."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "not a folder (--out names the folder the files go in)", str(out)
        )
    out.mkdir(parents=True, exist_ok=True)
    probe = tempfile.NamedTemporaryFile(dir=out, prefix=".probe.", delete=True)  # noqa: SIM115
    probe.close()


def write_all_or_none(writers: dict[Path, Callable[[Path], None]]) -> None:
    """Write every file to a temp name first; rename them only once all were written."""
    temps: dict[Path, Path] = {}
    for target in writers:
        if target.exists() and not target.is_file():
            raise IsADirectoryError(f"{target} exists and is not a file")
    try:
        for target, write in writers.items():
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            os.close(fd)
            temps[target] = Path(tmp_name)
            write(temps[target])
            # mkstemp makes 0600; a finance file is shared like any file its user saves (the umask).
            temps[target].chmod(0o666 & ~_umask())
        for target, tmp in temps.items():
            os.replace(tmp, target)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it: a race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
