#!/usr/bin/env python3
"""Check that reference_bench.py's summaries agree with astroperf's on the same inputs.

For every analysis, astroperf's summary (its bench record's vectorized run, else its first)
and each Python run's summary are compared on the keys they share, the way the app compares
them: integers exactly, other numbers within a relative tolerance (``--rtol``, or the Python
record's ``compare_rtol`` for that key), booleans, strings and null exactly, lists element by
element. ``method`` and ``library`` are Python's descriptions of the implementation, not
results, and are left out. Prints each shared key with both values and the relative
difference, then a table: per analysis, whether its input is astroperf's (``same_input``),
the keys compared, the largest relative difference and the keys that disagree.

Run everything (needs the astroperf binary; no cargo)::

    check_agreement.py --astroperf /path/to/astroperf [--suite quick|chapter] [--only id,id]

which exports the suite's inputs, runs ``astroperf bench --json`` and reference_bench.py on
them in ``--workdir`` (a temporary directory by default), or compare two existing files::

    check_agreement.py --ours astroperf.json --python python.json

``--app-rule`` compares as the app's live check does instead (src/bench/python.rs): one
tolerance for every float, relative to max(|a|, |b|, 1) (so absolute below 1), strings left
out, astroperf's last run as the reference, and a record not compared at all when it is
not on the same input (``same_input`` false) or names a parameter with another value.

Exit status 0 when every shared key of every record agrees, 1 otherwise.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

META = {"method", "library"}
# what the app's live check leaves out (src/bench/python.rs NOT_RESULTS)
APP_META = {"method", "library", "note", "agreement", "threads"}
HERE = os.path.dirname(os.path.abspath(__file__))


def rel_diff(a, b):
    if a == b:
        return 0.0
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return 0.0
    d = abs(a - b)
    m = max(abs(a), abs(b))
    return d / m if m > 0 else d


def compare(a, b, rtol):
    """(agrees, largest relative difference) of astroperf's value `a` and Python's `b`."""
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False, math.inf
        worst = 0.0
        ok = True
        for x, y in zip(a, b):
            o, r = compare(x, y, rtol)
            ok &= o
            worst = max(worst, r)
        return ok, worst
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b, (0.0 if a == b else math.inf)
    if isinstance(a, int) and isinstance(b, int):
        return a == b, rel_diff(float(a), float(b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        r = rel_diff(float(a), float(b))
        return r <= rtol, r
    return a == b, (0.0 if a == b else math.inf)


def app_same(a, b, tol):
    """The app's `same_value`: integers exactly, floats within tol * max(|a|, |b|, 1),
    arrays element by element, anything else by equality."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(app_same(x, y, tol) for x, y in zip(a, b))
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return abs(a - b) <= tol * max(abs(a), abs(b), 1.0)
    return a == b


def differing_param(ours, theirs):
    for k, v in theirs.items():
        if k in ours and not app_same(ours[k], v, 1e-12):
            return f"the Python reference ran with {k}={v}, astroperf with {k}={ours[k]}"
    return None


def check_app(ours, python, tol, out=sys.stdout):
    """The app's live check (see the module docstring); returns whether nothing differs."""
    rows = []
    for rec in python:
        label = rec["analysis"]
        if label == "period-search":
            label += f" ({rec.get('params', {}).get('method')})"
        cands = [r for r in ours if r["analysis"] == rec["analysis"]]
        if not cands or not cands[0].get("runs"):
            rows.append((label, "not compared: no astroperf record", "", ""))
            continue
        mine = cands[0]
        why = None
        if rec.get("same_input") is False:
            why = "not compared: different random draws"
        else:
            d = differing_param(mine.get("params", {}), rec.get("params", {}))
            if d:
                why = f"not compared: {d}"
        if why:
            rows.append((label, why, "", ""))
            continue
        ref = mine["runs"][-1].get("summary", {})
        bad = set()
        keys = set()
        for run in rec["runs"]:
            theirs = run.get("summary", {})
            for k, v in theirs.items():
                if k in APP_META or isinstance(v, str) or k not in ref or isinstance(ref[k], str):
                    continue
                keys.add(k)
                if not app_same(ref[k], v, tol):
                    bad.add(k)
                    print(f"{label}: {k}: astroperf {short(ref[k], 40)} vs python {short(v, 40)} ({run['variant']})", file=out)
        verdict = "differs" if bad else ("agrees" if keys else "not compared: no value in common")
        rows.append((label, verdict, ", ".join(sorted(bad)) or "-", ", ".join(sorted(keys))))
    print(f"\nThe app's rule (floats within {tol:g} x max(|a|, |b|, 1), strings skipped):\n", file=out)
    print("| analysis | verdict | disagree | keys compared |", file=out)
    print("|---|---|---|---|", file=out)
    for r in rows:
        print("| " + " | ".join(r) + " |", file=out)
    return all(r[1] != "differs" for r in rows)


def ours_summary(rec):
    runs = rec.get("runs") or []
    for v in runs:
        if v.get("variant") == "vectorized":
            return v.get("summary", {})
    return runs[0].get("summary", {}) if runs else {}


def match_record(py_rec, ours):
    """astroperf's record for a Python record: same analysis (for period-search, the same
    periodogram method)."""
    cands = [r for r in ours if r["analysis"] == py_rec["analysis"]]
    if py_rec["analysis"] == "period-search":
        m = py_rec.get("params", {}).get("method")
        cands = [r for r in cands if r.get("params", {}).get("method") == m]
    return cands[0] if cands else None


def short(v, width=24):
    s = json.dumps(v)
    return s if len(s) <= width else s[: width - 1] + "…"


def check(ours, python, rtol, out=sys.stdout):
    rows = []
    for rec in python:
        aid = rec["analysis"]
        label = aid
        if aid == "period-search":
            label += f" ({rec.get('params', {}).get('method')})"
        mine = match_record(rec, ours)
        if mine is None:
            print(f"\n## {label}: astroperf has no record with these params, not compared", file=out)
            rows.append((label, rec.get("same_input"), 0, "-", "-", "no astroperf record"))
            continue
        a_sum = ours_summary(mine)
        key_rtol = rec.get("compare_rtol", {})
        print(f"\n## {label} (same_input: {rec.get('same_input')})", file=out)
        rec_keys = set()
        rec_worst = 0.0
        bad = set()
        for run in rec["runs"]:
            p_sum = run.get("summary", {})
            shared = sorted((set(a_sum) & set(p_sum)) - META)
            only_ours = sorted(set(a_sum) - set(p_sum) - META)
            only_py = sorted(set(p_sum) - set(a_sum) - META)
            print(f"- python {run['variant']} ({p_sum.get('method')}):", file=out)
            for k in shared:
                tol = key_rtol.get(k, rtol)
                ok, r = compare(a_sum[k], p_sum[k], tol)
                rec_keys.add(k)
                if math.isfinite(r):
                    rec_worst = max(rec_worst, r)
                if not ok:
                    bad.add(k)
                print(f"    {'ok ' if ok else 'BAD'} {k:<34} astroperf {short(a_sum[k]):<26} python {short(p_sum[k]):<26} rel {r:.2e} (rtol {tol:g})", file=out)
            if only_ours:
                print(f"    astroperf only: {', '.join(only_ours)}", file=out)
            if only_py:
                print(f"    python only: {', '.join(only_py)}", file=out)
        rows.append((label, rec.get("same_input"), len(rec_keys), f"{rec_worst:.1e}", ", ".join(sorted(bad)) or "-", ", ".join(sorted(rec_keys))))
    print("\n| analysis | same input | shared keys | max rel diff | disagree | keys compared |", file=out)
    print("|---|---|---|---|---|---|", file=out)
    for label, same, n, worst, bad, keys in rows:
        print(f"| {label} | {same} | {n} | {worst} | {bad} | {keys} |", file=out)
    return all(r[4] == "-" for r in rows if r[2] or r[5] != "no astroperf record")


def run(cmd):
    """Run a step, its output on stderr (stdout is the report)."""
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    sys.stdout.flush()
    subprocess.run(cmd, check=True, stdout=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--astroperf", help="the astroperf binary (runs export, bench and the reference)")
    ap.add_argument("--suite", default="quick", choices=["quick", "chapter"])
    ap.add_argument("--only", help="comma-separated analysis ids")
    ap.add_argument("--workdir", help="directory for the inputs and the two JSON files (default: a new temporary one)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for reference_bench.py")
    ap.add_argument("--repeat", type=int, default=1, help="timed repeats on both sides (default 1: only the results matter here)")
    ap.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance for floats without a compare_rtol (default 1e-9)")
    ap.add_argument("--app-rule", action="store_true", help="compare as the app's live check does (one tolerance, --rtol, floored at an absolute --rtol below 1; see above)")
    ap.add_argument("--ours", action="append", help="astroperf's records (a bench --json array, or one run --json object) instead of running it; repeatable")
    ap.add_argument("--python-records", "--py", dest="py_records", help="Python's records instead of running reference_bench.py")
    args = ap.parse_args(argv)
    if args.ours and args.py_records:
        ours_paths, py_path = args.ours, args.py_records
    elif args.astroperf:
        wd = args.workdir or tempfile.mkdtemp(prefix="astroperf-agreement-")
        inputs = os.path.join(wd, "inputs")
        ours_path = os.path.join(wd, "astroperf.json")
        py_path = os.path.join(wd, "python.json")
        only = ["--only", args.only] if args.only else []
        run([args.astroperf, "bench", "--suite", args.suite, *only, "--export-inputs", inputs, "--force"])
        run([args.astroperf, "bench", "--suite", args.suite, *only, "--json", ours_path, "--repeat", str(args.repeat), "--no-bandwidth", "--force"])
        run([args.python, os.path.join(HERE, "reference_bench.py"), inputs, "--out", py_path, "--repeat", str(args.repeat), *only])
        ours_paths = [ours_path]
    else:
        ap.error("give --astroperf BIN, or --ours FILE and --py FILE")
    ours = []
    for path in ours_paths:
        with open(path) as f:
            doc = json.load(f)
        ours.extend(doc if isinstance(doc, list) else [doc])
    with open(py_path) as f:
        python = json.load(f)
    if args.app_rule:
        return 0 if check_app(ours, python, args.rtol) else 1
    return 0 if check(ours, python, args.rtol) else 1


if __name__ == "__main__":
    sys.exit(main())
