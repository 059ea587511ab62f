#!/usr/bin/env python3
"""One entry point for a fresh machine with only Python 3.11+ and pip.

    python3 .ci/dev.py demo    set up .venv and run the demo on an embedded workspace
    python3 .ci/dev.py test    set up .venv and run lint, the test suite and the seed acceptance

Setup is idempotent: the virtual environment in ``.venv`` is created once and the project is
(re)installed editable with its ``dev`` extra when ``pyproject.toml`` changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def sh(*args: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env=env)
    if check and code != 0:
        sys.exit(code)
    return code


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs on whatever python3 the machine has
        sys.exit(f"contexta needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".contexta-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        sh(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
        stamp.write_text(digest)


def demo() -> int:
    setup()
    return sh(PY, "examples/demo.py", check=False)


def test() -> int:
    setup()
    sh(PY, "-m", "ruff", "check", "contexta", "exporters", "collector", "tests", "examples", "benchmarks")
    # the browser tests need Debian's chromium; the script installs it when it can (root, apt)
    sh("bash", ".ci/install-chromium.sh", check=False)
    code = sh(PY, "-m", "pytest", "-q", *sys.argv[2:], check=False)
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def main() -> int:
    commands = {"demo": demo, "test": test, "setup": lambda: setup() or 0}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    os.chdir(ROOT)
    return commands[sys.argv[1]]()


if __name__ == "__main__":
    sys.exit(main())
