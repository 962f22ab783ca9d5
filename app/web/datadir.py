"""The server's private data directory, where the stores keep their SQLite files (short links,
live sessions).

The directory is created with mode 0700 and refused when it is a symbolic link, is not owned by
this process's user, or lets others in (it is opened with ``O_NOFOLLOW`` and checked on that
descriptor). A database file is created there with ``O_EXCL | O_NOFOLLOW`` (0600), and one that
is a symbolic link, or not a plain file of this user's, is refused; as nobody else may enter the
directory, nobody can swap it before SQLite opens it. Whatever is refused raises
:class:`StoreUnavailable`, which the web layer answers with 503.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path


class StoreUnavailable(RuntimeError):
    """The store cannot be opened or used now; the message says why (for the server's log)."""

    def __init__(self, message: str, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


def open_private_dir(path: Path) -> int:
    """A descriptor of ``path``, a directory only this user may enter: created (mode 0700) when
    missing; a symbolic link, another owner or a mode that lets others in is refused."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreUnavailable(f"the data directory {path} cannot be made ({exc})") from None
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        kind = "is a symbolic link" if os.path.islink(path) else f"cannot be opened ({exc})"
        raise StoreUnavailable(f"the data directory {path} {kind}") from None
    info = os.fstat(fd)
    problem = ""
    if info.st_uid != os.geteuid():
        problem = f"is owned by uid {info.st_uid}, not by this server's uid {os.geteuid()}"
    elif info.st_mode & 0o077:
        problem = (f"has mode {stat.S_IMODE(info.st_mode):04o}: others may enter it "
                   f"(chmod 700 it)")
    if problem:
        os.close(fd)
        raise StoreUnavailable(f"the data directory {path} {problem}")
    return fd


#: held while a database file is checked or created: closing a descriptor of a file drops every
#: POSIX lock this process holds on it (SQLite's locks among them), so no connection of this
#: process may open the file between a creation and its close
_FILE_LOCK = threading.Lock()


def check_db_file(dir_fd: int, name: str, path: Path, what: str) -> None:
    """Create the database file (0600) when missing, or check the one there: a plain file of
    this user's, not a symbolic link (``lstat``: the file itself is never opened here)."""
    with _FILE_LOCK:
        try:
            info = os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            info = None
        if info is None:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                os.close(os.open(name, flags, 0o600, dir_fd=dir_fd))
            except FileExistsError:
                pass  # another process made it: checked below
            except OSError as exc:
                raise StoreUnavailable(f"{what} {path} cannot be made "
                                       f"({exc})") from None
            info = os.lstat(name, dir_fd=dir_fd)
    problem = ("is a symbolic link" if stat.S_ISLNK(info.st_mode)
               else "is not a plain file" if not stat.S_ISREG(info.st_mode)
               else f"is owned by uid {info.st_uid}" if info.st_uid != os.geteuid() else "")
    if problem:
        raise StoreUnavailable(f"{what} {path} {problem}")
