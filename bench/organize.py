"""`make bench`, third part: speed of organize / tag / undo on real files.

    python -m bench.organize CORPUS_DIR [--files 2000] [--json OUT]

Copies `--files` corpus one-shots into a temporary library (as separate files, in pack
folders), scans it into a fresh catalog, then times whole `samplesort` processes (start-up
included): organize --dry-run, organize (move), undo, organize --copy, undo, organize --tag
(move + tag), undo. Checks after each undo that the library is back byte for byte. Prints
files/s per step. Issue 4 sets no speed target; the figures say what journaling every
operation (two SQLite transactions and the fsyncs) costs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from samplesort import pipeline
from samplesort.render import stdout

CLI = [sys.executable, "-c", "from samplesort.cli import main; main()"]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(*args: str) -> float:
    t = time.perf_counter()
    r = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if r.returncode not in (0, 3):
        raise SystemExit(f"samplesort {' '.join(args)} failed ({r.returncode}): {r.stderr[-500:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    found = pipeline.walk([a.corpus]).files
    tag_ok = {".wav", ".flac", ".aiff", ".aif", ".ogg"}
    src = [p for p in found if p.suffix.lower() in tag_ok]
    if not src:
        raise SystemExit(f"{a.corpus}: no audio files (run `make corpus`)")
    with tempfile.TemporaryDirectory(prefix="samplesort-bench-organize-") as tmp:
        lib, into, cat = Path(tmp) / "lib", Path(tmp) / "Sorted", str(Path(tmp) / "c.sqlite3")
        for i in range(a.files):
            p = src[i % len(src)]
            dest = lib / f"Pack {i % 20:02d}" / f"{i:05d} {p.name}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p.resolve(), dest)
        before = _tree(lib)
        _run("scan", str(lib), "-c", cat)
        rows: list[tuple[str, float]] = []
        common = ("--into", str(into), "-c", cat, "--min-confidence", "0.5")
        rows.append(("organize --dry-run", _run("organize", str(lib), *common, "--dry-run")))
        for label, extra in (
            ("organize (move)", ()),
            ("organize --copy", ("--copy",)),
            ("organize --tag (move + tag)", ("--tag",)),
        ):
            rows.append((label, _run("organize", str(lib), *common, *extra)))
            rows.append(("undo", _run("undo", "-c", cat)))
            if _tree(lib) != before:
                raise SystemExit(f"undo after {label} did not restore the library")
    out = stdout()
    out.print(f"organize / undo, {a.files} files (whole processes, start-up included):")
    for label, s in rows:
        out.print(f"  {label:<30} {s:6.2f} s  {a.files / s:7.0f} files/s")
    out.print("  every undo restored the library byte for byte")
    if a.json:
        a.json.write_text(json.dumps({"files": a.files, "steps": rows}, indent=1))


if __name__ == "__main__":
    main()
