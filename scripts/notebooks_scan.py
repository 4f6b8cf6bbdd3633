#!/usr/bin/env python3
"""Judges executed teaching notebooks by their outputs.

The evcxr kernel reports a panicking cell, or one whose value is an `Err`, as an ordinary
output, and `jupyter nbconvert --execute` exits 0 for them; so the outputs are the only signal.

  notebooks_scan.py scan NOTEBOOK...        fail on any error, panic or Err output
  notebooks_scan.py compare FRESH COMMITTED fail if the outputs differ (stale committed outputs)
  notebooks_scan.py svg NOTEBOOK N OUT      write the N-th SVG output (from 0) of NOTEBOOK to OUT
  notebooks_scan.py same-svg NOTEBOOK N SVG fail unless the N-th SVG output equals the file SVG
  notebooks_scan.py self-test               the scanner on synthetic outputs of each kind

Standard library only, so it runs before and outside the virtual environment.
"""

import json
import re
import sys

# An output that shows a failure. Checked against every textual output of every code cell.
ERR_VALUE = re.compile(r"\bErr\(")
PANIC = re.compile(r"panicked at|\bpanic\b", re.IGNORECASE)
ERROR_WORD = re.compile(r"error", re.IGNORECASE)


def text_of(value):
    """Jupyter stores text as a string or a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value)


def output_problems(output):
    """The reasons one cell output shows a failure (empty if none)."""
    kind = output.get("output_type")
    if kind == "error":
        return ["error output: %s: %s" % (output.get("ename"), output.get("evalue"))]
    if kind == "stream":
        text = text_of(output.get("text", ""))
        found = []
        if output.get("name") == "stderr" and ERROR_WORD.search(text):
            found.append("stderr mentions an error: %s" % first_line(text, ERROR_WORD))
        if PANIC.search(text):
            found.append("%s shows a panic: %s" % (output.get("name"), first_line(text, PANIC)))
        if ERR_VALUE.search(text):
            found.append("%s shows an Err value: %s" % (output.get("name"), first_line(text, ERR_VALUE)))
        return found
    if kind in ("execute_result", "display_data"):
        found = []
        for mime, value in sorted(output.get("data", {}).items()):
            if not mime.startswith("text/"):
                continue
            text = text_of(value)
            if ERR_VALUE.search(text):
                found.append("%s value is an Err: %s" % (mime, first_line(text, ERR_VALUE)))
            if PANIC.search(text):
                found.append("%s value shows a panic: %s" % (mime, first_line(text, PANIC)))
        return found
    return []


def first_line(text, pattern):
    for line in text.splitlines():
        if pattern.search(line):
            return line.strip()[:200]
    return text.strip()[:200]


def notebook_problems(nb):
    """Every failure shown by an executed notebook, as (cell index, reason)."""
    found = []
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "rust":
        found.append((None, "kernelspec is not the evcxr kernel (name 'rust')"))
    code_cells = 0
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        code_cells += 1
        if cell.get("execution_count") is None and text_of(cell.get("source", "")).strip():
            found.append((index, "not executed"))
        for output in cell.get("outputs", []):
            found.extend((index, reason) for reason in output_problems(output))
    if code_cells == 0:
        found.append((None, "no code cell"))
    return found


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def scan(paths):
    failed = False
    for path in paths:
        problems = notebook_problems(load(path))
        for index, reason in problems:
            where = "cell %d" % index if index is not None else "notebook"
            print("%s: %s: %s" % (path, where, reason))
        print("%s: %s" % (path, "FAILED" if problems else "ok"))
        failed = failed or bool(problems)
    return 1 if failed else 0


def comparable(nb):
    """Per code cell: its streams joined by name, and its rich outputs in order.

    Stream chunks may be split differently from run to run, and the kernel may send a stream
    after a result, so streams are compared as whole texts per stream name.
    """
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        streams, rich = {}, []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                name = output.get("name")
                streams[name] = streams.get(name, "") + text_of(output.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                rich.append({k: text_of(v) for k, v in sorted(output.get("data", {}).items())})
            else:
                rich.append({"output_type": kind, "evalue": output.get("evalue")})
        cells.append({"source": text_of(cell.get("source", "")), "streams": streams, "rich": rich})
    return cells


def compare(fresh_path, committed_path):
    fresh, committed = comparable(load(fresh_path)), comparable(load(committed_path))
    if len(fresh) != len(committed):
        print("%s: %d code cells, %s has %d" % (committed_path, len(committed), fresh_path, len(fresh)))
        return 1
    differ = [i for i, (a, b) in enumerate(zip(fresh, committed)) if a != b]
    for i in differ:
        a, b = fresh[i], committed[i]
        what = [k for k in ("source", "streams", "rich") if a[k] != b[k]]
        print("%s: code cell %d: committed %s differ from a fresh run (run scripts/notebooks.sh --update)"
              % (committed_path, i, " and ".join(what)))
    print("%s: %s" % (committed_path, "STALE" if differ else "outputs match a fresh run"))
    return 1 if differ else 0


def svgs(nb):
    out = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            svg = output.get("data", {}).get("image/svg+xml")
            if svg is not None:
                out.append(text_of(svg))
    return out


def nth_svg(path, n):
    found = svgs(load(path))
    if n >= len(found):
        print("%s has %d SVG outputs, not %d" % (path, len(found), n + 1))
        return None
    return found[n].strip() + "\n"


def write_svg(path, n, out):
    svg = nth_svg(path, n)
    if svg is None:
        return 1
    with open(out, "w", encoding="utf-8") as f:
        f.write(svg)
    print("wrote %s (SVG output %d of %s)" % (out, n, path))
    return 0


def same_svg(path, n, committed):
    svg = nth_svg(path, n)
    if svg is None:
        return 1
    with open(committed, encoding="utf-8") as f:
        same = f.read() == svg
    print("%s: %s" % (committed, "equals SVG output %d of %s" % (n, path) if same
                      else "differs from SVG output %d of %s (run scripts/notebooks.sh --update)" % (n, path)))
    return 0 if same else 1


def synthetic(outputs, executed=True):
    return {
        "metadata": {"kernelspec": {"name": "rust", "display_name": "Rust", "language": "rust"}},
        "cells": [
            {"cell_type": "markdown", "source": "# a lesson"},
            {"cell_type": "code", "source": "let x = 1;", "execution_count": 1 if executed else None,
             "outputs": outputs},
        ],
    }


def self_test():
    """Each kind of failure the kernel can show is caught; clean outputs and prose pass."""
    stream = lambda name, text: {"output_type": "stream", "name": name, "text": text}
    result = lambda text: {"output_type": "execute_result", "execution_count": 1,
                           "data": {"text/plain": text}}
    failing = {
        "compile error": [{"output_type": "error", "ename": "Error",
                           "evalue": "cannot find value `y` in this scope", "traceback": []}],
        "panic on stderr": [stream("stderr", "thread '<unnamed>' panicked at src/lib.rs:3:1:\n"
                                             "assertion failed: x < 0\n")],
        "panic message only": [stream("stderr", "explicit panic\n")],
        "Err value": [result("Err(InvalidParameter { name: \"beta\", value: -1.0 })")],
        "Err printed": [stream("stdout", "Err(EmptyBatch)\n")],
        "stderr error": [stream("stderr", "Error: Subprocess terminated with status: signal: 6\n")],
        "Err in html": [{"output_type": "display_data",
                         "data": {"text/html": "<pre>Err(NoPairs)</pre>"}}],
    }
    ok = {
        "values and prose": [stream("stdout", "worst relative error 2.2e-16: the routes agree\n"),
                             result("0.6931471805599453")],
        "typed error shown by Display": [stream("stdout", "rejected: invalid beta = -0.1: allowed finite and > 0\n")],
        "an SVG": [{"output_type": "display_data", "data": {"image/svg+xml": "<svg></svg>"}}],
        "Ok value": [result("Ok(0.5)")],
    }
    bad = 0
    for name, outputs in failing.items():
        if not notebook_problems(synthetic(outputs)):
            print("self-test: missed a failing output: %s" % name)
            bad += 1
    for name, outputs in ok.items():
        problems = notebook_problems(synthetic(outputs))
        if problems:
            print("self-test: flagged a clean output (%s): %s" % (name, problems))
            bad += 1
    if not notebook_problems(synthetic([], executed=False)):
        print("self-test: missed an unexecuted cell")
        bad += 1
    a = synthetic([stream("stdout", "a\n"), stream("stdout", "b\n"), result("1")])
    b = synthetic([result("1"), stream("stdout", "a\nb\n")])
    c = synthetic([result("2"), stream("stdout", "a\nb\n")])
    if comparable(a) != comparable(b) or comparable(a) == comparable(c):
        print("self-test: compare does not treat split streams as equal or a changed value as stale")
        bad += 1
    total = len(failing) + len(ok) + 2
    print("scanner self-test: %d passed, %d failed" % (total - bad, bad))
    return 1 if bad else 0


def main(argv):
    usage = __doc__.strip()
    if len(argv) >= 2 and argv[0] == "scan":
        return scan(argv[1:])
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "svg":
        return write_svg(argv[1], int(argv[2]), argv[3])
    if len(argv) == 4 and argv[0] == "same-svg":
        return same_svg(argv[1], int(argv[2]), argv[3])
    if argv == ["self-test"]:
        return self_test()
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
