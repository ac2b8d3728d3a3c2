"""Where the vendors' OpenAPI files are: they are not in the repository but in a ``shared/specs``
folder next to the checkout (or to the checkout a clone was made from, as in CI). Searched in
order: the file's own environment variable, ``<repository>/../shared/specs``, ``<origin
checkout>/../shared/specs`` (a local ``origin``), and ``MALOTE_SPECS_DIR``. Tests skip, naming
every place looked at, only when none has the file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(REPOSITORY), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://"))
    return path if url and path.is_absolute() and path.is_dir() else None


def candidates(filename: str, env_var: str) -> list[Path]:
    places = []
    if os.environ.get(env_var):
        places.append(Path(os.environ[env_var]))
    places.append(REPOSITORY.parent / "shared" / "specs" / filename)
    origin = _origin_checkout()
    if origin is not None:
        places.append(origin.parent / "shared" / "specs" / filename)
    if os.environ.get("MALOTE_SPECS_DIR"):
        places.append(Path(os.environ["MALOTE_SPECS_DIR"]) / filename)
    return places


def vendor_spec(filename: str, env_var: str) -> Path:
    """The first existing place of ``filename``, else the first candidate (tests then skip, naming them)."""
    places = candidates(filename, env_var)
    return next((p for p in places if p.is_file()), places[0])


def not_found(filename: str, env_var: str) -> str:
    looked = ", ".join(str(p) for p in candidates(filename, env_var))
    return f"{filename} not found (looked at {looked}; set {env_var} or MALOTE_SPECS_DIR)"
