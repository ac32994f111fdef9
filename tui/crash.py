"""Crash reports: the full traceback of an error the app could not handle, in the state directory.

The operator sees a one-line notice (or, when the app cannot go on, the path printed as it exits);
the file holds what a bug report needs.
"""

from __future__ import annotations

import os
import traceback
from datetime import datetime, timezone
from pathlib import Path


def crash_dir() -> Path:
    """The platform's state directory for mlops-tui (where the audit log lives by default)."""
    from mlops_tui.tui.config import default_audit_path

    return default_audit_path().parent


def write_crash_report(error: BaseException, directory: Path | None = None, *, what: str = "") -> Path | None:
    """Write `error`'s traceback to a new file and return its path; None if even that failed (the
    caller still shows the error: a full disk must not hide it)."""
    return write_report("".join(traceback.format_exception(type(error), error, error.__traceback__)), directory,
                        what=what)


def write_report(text: str, directory: Path | None = None, *, what: str = "") -> Path | None:
    """Write `text` (a traceback, every thread's stack) to a new report file; its path, or None."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    try:
        folder = directory or crash_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp}-{os.getpid()}.txt"
        path.write_text(f"mlops-tui crash report ({stamp})\n{what}\n\n{text}" if what else
                        f"mlops-tui crash report ({stamp})\n\n{text}", encoding="utf-8")
        return path
    except OSError:
        return None
