"""The one atomic writer: a file (or a directory of files) is written under a unique
temporary name beside its target and renamed into place, so a reader never sees a half-
written output and a killed run leaves the previous output intact.

- New files get the permissions `open()` would give (0666 minus the umask), not the
  0600 of temporary files; a replaced file keeps its own mode.
- Only a regular file (or nothing) is ever replaced: a device node, FIFO, socket or
  directory at the target is an input error, never silently swapped for a file.
- Temporary names are unique per call (mkstemp/mkdtemp), so concurrent runs never race.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from common.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_target(path: Path, what: str, source: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError(source, what, f"a writable path ({e.strerror})") from None
    ok = stat.S_ISDIR(st.st_mode) if what == "directory" else stat.S_ISREG(st.st_mode)
    if not ok:
        raise InputError(
            source,
            str(path),
            f"a {'directory' if what == 'directory' else 'regular file'} or "
            "a new name (refusing to replace what is there)",
        )


def _prepare_parent(path: Path, source: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise InputError(
            source, str(path.parent), f"a directory that can be created ({reason})"
        ) from None


def write_atomic(
    path: Path | str,
    data: str | bytes | Callable[[Path], None],
    source: str = "--out",
) -> Path:
    """Write `data` (text, bytes, or a function that writes a file at the path it is
    given) to `path` atomically. Returns the path."""
    path = Path(path)
    _check_target(path, "file", source)
    _prepare_parent(path, source)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(source, str(path.parent), f"a writable directory ({e.strerror})") from None
    tmp = Path(tmp_name)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
                f.write(data)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(source, str(path), f"a writable file ({e.strerror or e})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_dir_atomic(out: Path | str, fill: Callable[[Path], None], source: str = "--out") -> Path:
    """Build a whole directory with `fill(tmpdir)` and rename it into place as a set: the
    previous directory (if any) is replaced only once the new one is complete."""
    out = Path(out)
    _check_target(out, "directory", source)
    _prepare_parent(out, source)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise InputError(source, str(out.parent), f"a writable directory ({e.strerror})") from None
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        fill(tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rmdir(old)
            out.rename(old)
        tmp.rename(out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not out.exists():
            old.rename(out)
        raise InputError(source, str(out), f"a writable directory ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
