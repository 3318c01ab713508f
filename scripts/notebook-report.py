"""Report the outcome of one `jupyter nbconvert --execute --allow-errors` run.

Usage: notebook-report.py NOTEBOOK EXECUTED LOG SECONDS

NOTEBOOK is the notebook as committed, EXECUTED the executed copy nbconvert
wrote (absent when nbconvert itself failed: a timeout, a dead kernel), LOG
nbconvert's output. Prints one PASS line, or a FAIL line per failing cell
with the cell's number (1-based, counting every cell as Jupyter shows them),
its first source lines and the error. Exits 0 on PASS, 1 on FAIL.
Uses only the standard library, so any python3 runs it.
"""
import json
import os
import re
import sys


def source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def excerpt(text, lines=4, prefix="    | "):
    rows = text.rstrip("\n").splitlines()
    out = rows[:lines] + (["..."] if len(rows) > lines else [])
    return "\n".join(prefix + r for r in out)


def stderr_cause(cell):
    """The first "panic: ..." or "fatal error: ..." line a cell wrote to stderr."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            for line in source({"source": out.get("text", "")}).splitlines():
                if line.startswith(("panic: ", "fatal error: ")):
                    return line.strip()
    return ""


def main():
    notebook, executed, log, seconds = sys.argv[1:5]
    name = os.path.relpath(notebook)
    with open(notebook, encoding="utf-8") as f:
        cells = json.load(f)["cells"]

    if not os.path.exists(executed):
        # nbconvert stopped without writing: say which cell it was on if the
        # log shows its source, and give the log's last lines.
        text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
        where = ""
        m = re.findall(r"-{18}\n(.*?)\n-{18}", text, re.S)
        if m:
            for i, c in enumerate(cells):
                if c.get("cell_type") == "code" and source(c).strip() == m[-1].strip():
                    where = " cell %d" % (i + 1)
                    break
        reason = "nbconvert failed"
        for pat, what in ((r"CellTimeoutError|timed out", "cell timed out"),
                          (r"DeadKernelError|Kernel died", "kernel died"),
                          (r"NoSuchKernel|No such kernel", "kernel not installed (run scripts/setup-notebooks.sh)")):
            if re.search(pat, text):
                reason = what
                break
        print("FAIL %s%s: %s (%ss)" % (name, where, reason, seconds))
        tail = [l for l in text.splitlines() if l.strip() and not l.startswith("// debug:")][-15:]
        print("\n".join("    " + l for l in tail))
        return 1

    with open(executed, encoding="utf-8") as f:
        ran = json.load(f)["cells"]
    failures = 0
    for i, c in enumerate(ran):
        for out in c.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            failures += 1
            count = c.get("execution_count")
            label = " [In %s]" % count if count is not None else ""
            err = "%s: %s" % (out.get("ename", "error"), out.get("evalue", ""))
            cause = stderr_cause(c)
            if cause and cause not in err:
                # GoNB runs each cell as a program: its error is the exit
                # status, the panic is on the cell's stderr.
                err += ": " + cause
            note = "" if failures == 1 else " (after an earlier failure)"
            print("FAIL %s cell %d%s%s: %s" % (name, i + 1, label, note, err.strip()))
            print(excerpt(source(c)))
    if failures:
        print("     %s: %d failing cell(s) (%ss)" % (name, failures, seconds))
        return 1
    print("PASS %s (%ss)" % (name, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
