"""The one atomic writer: a file (or a directory of files) appears under its name only when
complete, a killed run leaves the previous output intact, and nothing it leaves behind
outlives the next run.

- New files get the permissions `open()` would give (0666 minus the umask), directories
  0777 minus the umask, not the 0600/0700 of temporary files; a replaced file keeps its
  own mode.
- Only a regular file / a directory (or nothing) is ever replaced: a device node, FIFO,
  socket or symlink at the target is an input error, never silently swapped for a file.
- Temporary names are unique per call, so concurrent runs never race.

What a SIGKILL leaves behind (a killed process cannot clean up), and how it goes away:
- A file's content is written into an anonymous `O_TMPFILE` inode in the target's
  directory (Linux): until the very end it has no name, so a kill leaves nothing. It is
  then linked to its final name directly when the target is new, or to a temporary name
  `.NAME.sim-PID-XXXX.tmp` and renamed over the target (a window of microseconds).
  Where O_TMPFILE is unavailable, or the data is written by a callback that needs a path
  (matplotlib, safetensors), the temporary name is used for the whole write.
- A directory is filled under `.NAME.sim-PID-XXXX.tmp` and swapped with the previous one
  in one `renameat2(RENAME_EXCHANGE)` (Linux >= 3.15; elsewhere two renames, the old one
  parked at `.NAME.sim-PID-XXXX.old`).
- Every write first sweeps its directory of `.*.sim-PID-*.tmp|.old` entries whose process
  is gone: stale temporaries are deleted, and a parked `.old` directory whose target is
  missing (a kill between the two renames) is put back. So leftovers of a killed run are
  hidden names tagged with a dead PID, and the next run writing there removes them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from common.errors import InputError

_TAG = re.compile(r"^\.(?P<name>.+)\.sim-(?P<pid>\d+)-[^.]+\.(?P<kind>tmp|old)$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _short(text: object, limit: int = 80) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or _short(e)


def _check_target(path: Path, what: str, source: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as e:
        raise InputError(source, _short(path), f"a writable path ({_reason(e)})") from None
    ok = stat.S_ISDIR(st.st_mode) if what == "directory" else stat.S_ISREG(st.st_mode)
    if not ok:
        kind = "directory" if what == "directory" else "regular file"
        found = (
            "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "a symlink"
            if stat.S_ISLNK(st.st_mode)
            else "a regular file"
            if stat.S_ISREG(st.st_mode)
            else "a FIFO, socket or device"
        )
        raise InputError(
            source,
            _short(path),
            f"a {kind} or a new name (found {found}; refusing to replace it)",
        )


def check_output(path: Path | str, what: str = "file", source: str = "--out") -> Path:
    """Check an output path before any work is done: not empty, names the OS accepts
    (length, no NUL), and nothing but a regular file (`what="file"`) or a directory
    (`what="directory"`) already there. Returns the path."""
    text = str(path)
    if not text.strip():
        raise InputError(source, "path", "a file or directory name (got an empty path)")
    if "\x00" in text:
        raise InputError(source, _short(repr(text)), "a path without NUL characters")
    p = Path(text)
    for part in p.parts:
        if len(os.fsencode(part)) > 255:
            raise InputError(source, _short(text), "path components of at most 255 bytes")
    if len(os.fsencode(text)) >= 4096:
        raise InputError(source, _short(text), "a path shorter than 4096 bytes")
    _check_target(p, what, source)
    parent = p.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise InputError(
            source, _short(text), f"a path under a directory ({_short(parent)} is not)"
        )
    return p


def _prepare_parent(path: Path, source: str) -> None:
    if str(path) in ("", "."):
        raise InputError(source, "path", "a file or directory name (got an empty path)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as e:
        raise InputError(
            source, _short(path.parent), f"a directory that can be created ({_reason(e)})"
        ) from None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(directory: Path | str) -> list[str]:
    """Remove what killed writers left in `directory` (see the module docstring); returns
    the names removed or restored. Entries of live processes are left alone."""
    directory = Path(directory)
    done = []
    try:
        names = os.listdir(directory)
    except OSError:
        return done
    for name in names:
        m = _TAG.match(name)
        if not m or _alive(int(m.group("pid"))):
            continue
        p = directory / name
        target = directory / m.group("name")
        try:
            if m.group("kind") == "old" and not os.path.lexists(target):
                os.rename(p, target)
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            done.append(name)
        except OSError:
            pass
    return done


def _temp_name(path: Path, kind: str = "tmp") -> Path:
    import secrets

    return path.parent / f".{path.name}.sim-{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def _write_tmpfile(path: Path, payload: bytes) -> bool:
    """O_TMPFILE write + link into place; False when the platform can't (caller falls back)."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return False
    try:
        fd = os.open(path.parent, flag | os.O_WRONLY, 0o666)  # mode minus umask, like open()
    except OSError:
        return False
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        try:
            os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
            exists = True
        except FileNotFoundError:
            exists = False
        os.fsync(fd)
        proc = f"/proc/self/fd/{fd}"
        if not exists:
            try:
                os.link(proc, path, follow_symlinks=True)
                return True
            except FileExistsError:
                pass
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.EXDEV, errno.EPERM, errno.EINVAL):
                    return False  # no /proc, or the filesystem refuses: fall back
                raise
        tmp = _temp_name(path)
        try:
            os.link(proc, tmp, follow_symlinks=True)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EXDEV, errno.EPERM, errno.EINVAL):
                return False
            raise
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True
    finally:
        os.close(fd)


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
    sweep(path.parent)
    try:
        if not callable(data):
            payload = data.encode() if isinstance(data, str) else bytes(data)
            if _write_tmpfile(path, payload):
                return path
    except (OSError, ValueError) as e:
        raise InputError(source, _short(path), f"a writable file ({_reason(e)})") from None
    tmp = _temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (OSError, ValueError) as e:
        raise InputError(
            source, _short(path.parent), f"a writable directory ({_reason(e)})"
        ) from None
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(source, _short(path), f"a writable file ({_reason(e)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two names atomically (renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err))


def write_dir_atomic(out: Path | str, fill: Callable[[Path], None], source: str = "--out") -> Path:
    """Build a whole directory with `fill(tmpdir)` and put it in place as a set: the
    previous directory (if any) is replaced only once the new one is complete."""
    out = Path(out)
    _check_target(out, "directory", source)
    _prepare_parent(out, source)
    sweep(out.parent)
    tmp = _temp_name(out)
    try:
        os.mkdir(tmp, 0o777)  # minus the umask, as mkdir does
    except (OSError, ValueError) as e:
        raise InputError(
            source, _short(out.parent), f"a writable directory ({_reason(e)})"
        ) from None
    old = None
    try:
        fill(tmp)
        if out.exists():
            if _exchange(tmp, out):
                shutil.rmtree(tmp, ignore_errors=True)
                return out
            old = _temp_name(out, "old")
            out.rename(old)
        tmp.rename(out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not out.exists():
            old.rename(out)
        raise InputError(source, _short(out), f"a writable directory ({_reason(e)})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
