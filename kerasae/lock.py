"""One writer per workdir: an OS advisory lock on `WORKDIR/.lock`.

Training and evaluation write a workdir; two of them at once (a scheduler
restarting a job whose first copy still runs, or enter pressed twice)
would interleave their files. `hold(workdir)` takes an exclusive
`fcntl.flock` on `WORKDIR/.lock` without waiting, and writes the holder's
pid and host into it; a second writer fails at once with a `WorkdirError`
that names that process. Export only reads: `reading(workdir)` takes a
shared lock, so it refuses a workdir being written, and a run cannot start
writing under an export.

The operating system releases a flock when its process dies (SIGKILL
included), so a killed run never leaves a stale lock; the file itself
stays, and is not one of the outputs `--overwrite` removes. flock is
advisory and per host: on a network filesystem (NFS) whether it excludes
processes on other hosts depends on the server.
"""

import contextlib
import fcntl
import json
import os
import socket
import time

from kerasae.errors import WorkdirError

LOCK = ".lock"


def _open(workdir):
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(
            f"--workdir={workdir} is a file; give a folder path")
    try:
        os.makedirs(workdir, exist_ok=True)
        return open(os.path.join(workdir, LOCK), "a+")
    except OSError as error:
        raise WorkdirError(
            f"--workdir={workdir} cannot hold its lock file "
            f"({error.strerror}); choose a writable folder") from None


def _still_linked(handle, path):
    """Whether `path` is still the file `handle` locked (a failed first
    run removes the workdir it created, lock file included)."""
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except OSError:
        return False


def is_writer(strategy_name, tf_config=None):
    """Whether this process writes (and so locks) the workdir.

    Every process but the non-chief workers of a multi-worker run: the
    task `chief`, or worker 0 of a cluster without one (TensorFlow's
    rule). Read from `TF_CONFIG`, so the lock is taken before TensorFlow
    starts.
    """
    if strategy_name != "multi_worker_mirrored":
        return True
    text = os.environ.get("TF_CONFIG", "") if tf_config is None \
        else tf_config
    try:
        value = json.loads(text)
        task, cluster = value["task"], value["cluster"]
        if task["type"] == "chief":
            return True
        return (task["type"] == "worker" and int(task["index"]) == 0
                and "chief" not in cluster)
    except (ValueError, KeyError, TypeError):
        return True  # one worker; a malformed TF_CONFIG is refused later


def holder(workdir):
    """The process that holds `workdir`'s exclusive lock, as text.

    Returns:
        `"pid 123 on host h (since 2026-11-29 05:10:00 UTC)"`, or a
        plainer phrase when the file names no writer (an export reading
        the workdir holds a shared lock and writes nothing into it).
    """
    try:
        with open(os.path.join(workdir, LOCK)) as handle:
            value = json.loads(handle.read() or "null")
        return (f"pid {int(value['pid'])} on host {value['host']} "
                f"(since {value['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (an export reading it)"


@contextlib.contextmanager
def hold(workdir, what="train"):
    """Holds the exclusive (writer's) lock of `workdir` inside the block.

    Creates `workdir` when missing (the lock file lives in it).

    Args:
        workdir: the run's folder.
        what: the command taking it, recorded beside the pid.

    Raises:
        WorkdirError: another process holds the lock (naming it), or the
            folder cannot be written.
    """
    created = not os.path.isdir(workdir)
    path = os.path.join(workdir, LOCK)
    handle = _open(workdir)
    finished = False
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not _still_linked(handle, path):
                raise BlockingIOError
        except BlockingIOError:
            raise WorkdirError(
                f"--workdir={workdir} is in use by {holder(workdir)}; wait "
                "for it to finish, or use another --workdir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "command": what,
            "since": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                   time.gmtime())}))
        handle.flush()
        try:
            yield
            finished = True
        finally:
            # Cleared before release: a reader's shared lock then finds
            # no stale pid in the file.
            handle.seek(0)
            handle.truncate()
            handle.flush()
            if created and not finished and os.listdir(workdir) == [LOCK]:
                # A run refused before writing leaves no folder behind.
                os.remove(path)
                os.rmdir(workdir)
    finally:
        handle.close()  # closing releases the flock


@contextlib.contextmanager
def reading(workdir):
    """Holds a shared (reader's) lock of `workdir` inside the block.

    Several readers may share it; a writer holding the lock makes this
    fail, and a writer cannot start while a reader holds it.

    Raises:
        WorkdirError: a writer holds the lock (naming it).
    """
    if not os.path.isdir(workdir):
        yield  # nothing to read: the caller reports the missing run
        return
    path = os.path.join(workdir, LOCK)
    try:
        handle = open(path, "a+") if os.access(workdir, os.W_OK) \
            else open(path) if os.path.exists(path) else None
    except OSError:
        handle = None
    if handle is None:  # a read-only workdir nobody can be writing
        yield
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkdirError(
                f"--workdir={workdir} is being written by "
                f"{holder(workdir)}; export it when that has finished"
            ) from None
        yield
    finally:
        handle.close()
