"""The state directory: where serve keeps its database, admin token, address, snapshots and logs.

Resolved the same way by `serve` and by every CLI command: `--state-dir`, else `$MODELYARD_HOME`, else
`~/.modelyard`. The CLI needs nothing else: the running server writes its address to `server.json` and the admin
token to `admin-token` (mode 0600) here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import msgspec

from runtime.errors import Code, ModelyardError, Unavailable

DEFAULT = "~/.modelyard"
#: Length of the key that signs endpoint tokens.
_SECRET_BYTES = 32
_PROC_LOCKS = Path("/proc/locks")


class ServerInfo(msgspec.Struct, frozen=True):
    """Where the running server listens."""

    url: str
    pid: int
    server: str

    def __post_init__(self) -> None:
        # Checked here so that a tampered server.json reads as corrupt instead of failing deep inside urllib.
        if not _is_http_url(self.url):
            raise ValueError(f"url {self.url!r} is not an http://host:port URL")


class StateDir:
    """Paths inside one state directory."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        chosen = root or os.environ.get("MODELYARD_HOME") or DEFAULT
        self.root = Path(chosen).expanduser().resolve()

    @property
    def db(self) -> Path:
        """The SQLite database."""
        return self.root / "state.db"

    @property
    def token_file(self) -> Path:
        """The admin token for /api (mode 0600)."""
        return self.root / "admin-token"

    @property
    def server_file(self) -> Path:
        """The running server's address."""
        return self.root / "server.json"

    @property
    def logs(self) -> Path:
        """Worker logs, one folder per endpoint."""
        return self.root / "logs"

    @property
    def snapshots(self) -> Path:
        """Copied code and models of each deployment."""
        return self.root / "snapshots"

    @property
    def batch_snapshots(self) -> Path:
        """Copied code and models of each batch deployment, apart from online ones (the names are separate)."""
        return self.root / "batch-snapshots"

    @property
    def models(self) -> Path:
        """The local model registry."""
        return self.root / "models"

    @property
    def environments(self) -> Path:
        """Built environments, one folder per requirement set's digest."""
        return self.root / "environments"

    @property
    def instance_types(self) -> Path:
        """The user's own instance types, added to the built-in table."""
        return self.root / "instance_types.yml"

    @property
    def serve_log(self) -> Path:
        """Output of a detached server."""
        return self.root / "serve.log"

    @property
    def serve_lock(self) -> Path:
        """Held (flock, exclusive) by the running server for its whole life."""
        return self.root / "serve.lock"

    def ensure(self) -> None:
        """Create the directory (private to this user)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            self.check()
            raise _bad_dir(f"cannot create state directory {self.root}: {exc.strerror}") from None

    def check(self) -> None:
        """Raise a one-line error when the state directory (or a folder above it) is an existing non-directory."""
        for path in (self.root, *self.root.parents):
            if path.is_dir():
                return
            if path.exists() and path == self.root:
                raise _bad_dir(f"state directory {self.root} is not a directory")
            if path.exists():
                raise _bad_dir(f"cannot create state directory {self.root}: {path} is not a directory")

    def cannot_create(self, path: Path, exc: OSError) -> ModelyardError:
        """The one-line error for a file that cannot be created in the state directory."""
        return _bad_dir(f"cannot use state directory {self.root}: cannot create {path.name}: {exc.strerror}")

    def admin_token(self, create: bool = False) -> str:
        """Read the admin token; with create=True make one (0600) when there is none."""
        try:
            return _checked_token(self.token_file.read_text(encoding="utf-8").strip(), self.token_file)
        except FileNotFoundError:
            if not create:
                raise
        except UnicodeDecodeError:
            raise _bad_token(self.token_file, "not UTF-8 text") from None
        except OSError as exc:
            raise _bad_token(self.token_file, exc.strerror or str(exc)) from None
        self.ensure()
        token = secrets.token_urlsafe(32)
        self._write_private(self.token_file, token.encode())
        return token

    def token_secret(self) -> bytes:
        """The key that signs endpoint tokens (mode 0600), made on first use."""
        path = self.root / "token-secret"
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _bad_dir(f"cannot read {path}: {exc.strerror}") from None
        else:
            if len(secret) < _SECRET_BYTES:  # an empty or cut key would sign tokens anyone can forge
                raise _bad_dir(f"{path} holds {len(secret)} bytes, not {_SECRET_BYTES}: delete it for a new one")
            return secret
        self.ensure()
        secret = secrets.token_bytes(_SECRET_BYTES)
        self._write_private(path, secret)
        return secret

    def _write_private(self, path: Path, data: bytes) -> None:
        """Create `path` (mode 0600) holding `data`, whole or not at all: a full disk leaves no empty file behind."""
        tmp = path.with_name(path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.link(tmp, path)  # unlike a rename, fails rather than replace one another process made meanwhile
        except OSError as exc:
            raise self.cannot_create(path, exc) from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def write_server(self, info: ServerInfo) -> None:
        """Publish the server's address (atomically)."""
        tmp = self.server_file.with_suffix(".tmp")
        try:
            tmp.write_bytes(msgspec.json.encode(info))
            os.replace(tmp, self.server_file)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise self.cannot_create(self.server_file, exc) from None

    def read_server(self, *, strict: bool = True) -> ServerInfo | None:
        """The published address, or None when no server wrote one; a corrupt file raises, or reads as None."""
        try:
            return msgspec.json.decode(self.server_file.read_bytes(), type=ServerInfo)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            self.check()
            return None
        except OSError as exc:
            if not strict:
                return None
            raise Unavailable(f"cannot read {self.server_file}: {exc.strerror}") from None
        except msgspec.DecodeError as exc:
            if not strict:
                return None
            raise Unavailable(
                f"{self.server_file} is corrupt ({exc}); `modelyard stop` removes it when no server is running"
            ) from None

    def clear_stale_server(self) -> bool:
        """Remove server.json if no server holds serve.lock; whether it did (the probe lock is released at once)."""
        try:
            fd = os.open(self.serve_lock, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self.cannot_create(self.serve_lock, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        else:
            # Removed while the probe lock is held, so a server starting now cannot have published it yet.
            self.server_file.unlink(missing_ok=True)
            return True
        finally:
            os.close(fd)

    def serve_lock_holders(self) -> frozenset[int]:
        """PIDs holding an exclusive flock on serve.lock, as /proc/locks lists them (Linux)."""
        try:
            inode = os.stat(self.serve_lock).st_ino
            table = _PROC_LOCKS.read_text()
        except OSError as exc:
            raise Unavailable(f"cannot tell which process holds {self.serve_lock}: {exc.strerror}") from None
        return frozenset(flock_holders(table, inode))


def flock_holders(table: str, inode: int) -> Iterator[int]:
    """PIDs of the granted exclusive flocks on `inode` in a /proc/locks table."""
    for line in table.splitlines():
        # "3: FLOCK  ADVISORY  WRITE 19779 fe:00:2213833 0 EOF"; a blocked waiter has "->" after the number.
        fields = line.split()
        if len(fields) < 6 or fields[1:2] != ["FLOCK"] or fields[3] != "WRITE":
            continue
        pid, ino = fields[4], fields[5].rpartition(":")[2]  # the last part of maj:min:inode
        if ino.isdigit() and int(ino) == inode and pid.isdigit():
            yield int(pid)


def _is_http_url(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return False
    clean = url.isprintable() and " " not in url
    return clean and parts.scheme == "http" and bool(parts.hostname) and port is not None


def _bad_dir(message: str) -> ModelyardError:
    return ModelyardError(message, code=Code.INVALID_ARGUMENT)


def _bad_token(path: Path, why: str) -> ModelyardError:
    return ModelyardError(f"cannot read the admin token {path}: {why}", code=Code.INVALID_ARGUMENT)


def _checked_token(token: str, path: Path) -> str:
    # The token travels in an Authorization header, which takes one line of printable ASCII.
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise _bad_token(path, "expected one line of printable ASCII; delete it and restart the server for a new one")
    return token


def connect_db(path: Path, wait_s: float = 5.0) -> sqlite3.Connection:
    """A connection to the state database: WAL, autocommitting (transactions are explicit), usable from any thread.

    Several connections (the registries', the batch queue's) share the file; each waits up to `wait_s` for the
    others' write locks rather than failing.
    """
    db = sqlite3.connect(path, timeout=wait_s, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on a `connect_db` connection, rolled back on any error.

    IMMEDIATE takes the write lock at once, so two writers never deadlock upgrading a read to a write.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
