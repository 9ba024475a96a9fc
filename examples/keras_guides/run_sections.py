"""Run a ported Keras guide section by section and report which sections pass.

Each guide in this folder is a plain script (``python sequential_model.py``
runs it all); its sections start with ``# %% <title>`` lines, the guide's own
headings. This runner executes the sections in order in one namespace, so a
section sees what the earlier ones defined, and reports each one:

    python examples/keras_guides/run_sections.py sequential_model.py \\
        --skip "Transfer learning" --json results.json

A skipped section is not run; a failing one is reported with its error and
the next sections still run. The exit status is 1 when a section that was not
skipped failed. tests/test_keras_guides.py drives it.
"""
import argparse
import contextlib
import io
import json
import os
import re
import sys
import time
import traceback

MARK = re.compile(r"^# %% (.+)$", re.MULTILINE)


def sections(source):
    """``[(title, code), ...]``; the code before the first mark is 'Setup'."""
    marks = list(MARK.finditer(source))
    first = marks[0].start() if marks else len(source)
    out = [("Setup", source[:first])] if source[:first].strip() else []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(source)
        # keep the line numbers of the file in tracebacks
        code = "\n" * source[:mark.start()].count("\n") + source[mark.start():end]
        out.append((mark.group(1).strip(), code))
    return out


def run(path, skip=(), quiet=True):
    path = os.path.abspath(path)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    os.chdir(os.path.dirname(path))
    namespace = {"__name__": "__main__", "__file__": path}
    results = []
    for title, code in sections(source):
        if any(title.startswith(s) for s in skip):
            results.append({"section": title, "status": "skipped"})
            continue
        start = time.perf_counter()
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
                exec(compile(code, path, "exec"), namespace)
            status, error = "passed", None
        except Exception as e:  # noqa: BLE001  (report every failure, go on)
            status = "failed"
            error = "".join(traceback.format_exception_only(type(e), e)).strip()
            tb = traceback.extract_tb(e.__traceback__)
            where = [f"{os.path.basename(fr.filename)}:{fr.lineno}" for fr in tb[1:]][-3:]
            error += f" (at {' <- '.join(reversed(where))})"
        results.append({"section": title, "status": status, "error": error,
                        "seconds": round(time.perf_counter() - start, 2)})
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("guide")
    parser.add_argument("--skip", action="append", default=[],
                        help="a section title (or its beginning) not to run")
    parser.add_argument("--json", help="write the results there")
    parser.add_argument("--verbose", action="store_true", help="show the guide's output")
    args = parser.parse_args(argv)
    json_path = os.path.abspath(args.json) if args.json else None
    results = run(args.guide, args.skip, quiet=not args.verbose)
    for r in results:
        extra = f"  {r['error']}" if r.get("error") else ""
        print(f"{r['status']:8} {r['section']}{extra}", file=sys.stderr)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
