#!/usr/bin/env python3
"""Mutation testing: does the plain suite notice a small wrong change?

Usage: mutants.py [-j N] [--list FILE] [--only ID[,ID...]] [--build DIR]

Each mutant of the list (tests/mutants.list; the format is described at
its top) is applied to a scratch copy of the tree, the library and the
tests are rebuilt there, and the plain suite runs until a test fails. The
mutant is then "killed", and the report names the test that killed it; a
mutant no test notices "survived". A test binary that runs longer than
TIMEOUT seconds (120) is stopped and counts as killing the mutant (a hang
is a failure too). The tests the mutant's `kill:` line names run first,
which only saves time: every other test binary runs after them.

Exit status: 0 when every mutant was killed, 1 when one survived, 2 when
the list is wrong (a `-` text found no or several times, a mutant that does
not compile, an id used twice) or the unmutated suite fails.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TIMEOUT = int(os.environ.get("MUTANT_TIMEOUT", "120"))


def default_signals():
    # run in the background, this process may ignore SIGINT and SIGQUIT,
    # and tests that interrupt a child need the default action
    for s in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(s, signal.SIG_DFL)


class Mutant:
    def __init__(self, mid, path, lineno):
        self.id = mid
        self.path = path
        self.lineno = lineno
        self.what = []
        self.kill = []
        self.old = None
        self.new = None
        self.result = None  # ("killed", who) | ("survived", "") | ("invalid", why)


def parse_list(fname):
    mutants, seen = [], set()
    cur = None
    with open(fname) as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("== "):
                parts = line[3:].split()
                if len(parts) != 2:
                    sys.exit(f"{fname}:{n}: '== ID FILE' expected")
                if parts[0] in seen:
                    sys.exit(f"{fname}:{n}: mutant id {parts[0]} used twice")
                seen.add(parts[0])
                cur = Mutant(parts[0], parts[1], n)
                mutants.append(cur)
                continue
            if cur is None:
                sys.exit(f"{fname}:{n}: text before the first '== ID FILE'")
            # several '- ' (or '+ ') lines in a row are one text of
            # several lines; '+' alone is an empty line, or alone a deletion
            if line.startswith("- "):
                cur.old = line[2:] if cur.old is None else cur.old + "\n" + line[2:]
            elif line == "+" or line.startswith("+ "):
                cur.new = line[2:] if cur.new is None else cur.new + "\n" + line[2:]
            elif line.startswith("kill: "):
                cur.kill += line[6:].split()
            elif line.startswith("   "):
                cur.what.append(line.strip())
            else:
                sys.exit(f"{fname}:{n}: cannot read this line: {line!r}")
    for m in mutants:
        if m.old is None or m.new is None:
            sys.exit(f"{fname}:{m.lineno}: mutant {m.id} needs a '- ' and a '+' line")
        if not m.what:
            sys.exit(f"{fname}:{m.lineno}: mutant {m.id} needs a line saying what it breaks")
    return mutants


def sh(cmd, cwd, timeout=None):
    return subprocess.run(cmd, cwd=cwd, shell=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          text=True, errors="replace")


class Scratch:
    """One copy of the tree with its own plain build."""

    def __init__(self, root, src, idx):
        self.dir = os.path.join(root, f"copy{idx}")
        self.src = src
        self.build = "build"

    def prepare(self):
        # a copy made before keeps its build: only changed sources are
        # copied again, and make rebuilds what they touch
        os.makedirs(self.dir, exist_ok=True)
        files = sh("git ls-files -co --exclude-standard", self.src).stdout.split("\n")
        for rel in files:
            if not rel or not os.path.isfile(os.path.join(self.src, rel)):
                continue
            dst = os.path.join(self.dir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            s = os.path.join(self.src, rel)
            if (not os.path.exists(dst) or
                    open(s, "rb").read() != open(dst, "rb").read()):
                shutil.copy2(s, dst)
                os.utime(dst, None)
        # tests/ binaries the tree has
        self.tests = sorted(
            "build/tests/" + f[:-2] for f in os.listdir(os.path.join(self.dir, "tests"))
            if f.startswith("test_") and f.endswith(".c"))
        return self.make()

    def make(self):
        r = sh(f"make -s --no-print-directory BUILD={self.build} all " +
               " ".join(self.tests), self.dir)
        return r.returncode == 0, r.stdout

    def run_test(self, binary):
        """(failed, who) for one test binary."""
        env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout",
                   TWIN_BUILD=self.build)
        name = os.path.basename(binary)
        try:
            p = subprocess.Popen([binary], cwd=self.dir, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, errors="replace",
                                 start_new_session=True,
                                 preexec_fn=default_signals)
            out, _ = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.communicate()
            return True, f"{name}: timed out after {TIMEOUT} s"
        # the first test cmocka lists as failed; else the one running last
        current, ran = None, set()
        for line in out.split("\n"):
            m = re.match(r"\[ RUN      \] (\S+)", line)
            if m:
                current = m.group(1)
                ran.add(current)
            m = re.match(r"\[  (FAILED  |ERROR   )\] (\S+)", line)
            if m and m.group(2) in ran:
                return True, f"{name}: {m.group(2)}"
        if p.returncode != 0:
            how = (f"signal {-p.returncode}" if p.returncode < 0
                   else f"status {p.returncode}")
            return True, f"{name}: {current or 'exit'} ({how})"
        return False, ""

    def run_suite(self, first):
        order = [b for b in first if b in self.tests]
        order += [b for b in self.tests if b not in order]
        for b in order:
            failed, who = self.run_test(b)
            if failed:
                return who
        return None

    def apply(self, m):
        path = os.path.join(self.dir, m.path)
        if not os.path.isfile(path):
            return None, f"no file {m.path}"
        text = open(path).read()
        count = text.count(m.old)
        if count != 1:
            return None, f"'- ' text found {count} times in {m.path}"
        with open(path, "w") as f:
            f.write(text.replace(m.old, m.new))
        return text, None

    def restore(self, m, text):
        with open(os.path.join(self.dir, m.path), "w") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", type=int, default=2, help="scratch copies in parallel")
    ap.add_argument("--list", default="tests/mutants.list")
    ap.add_argument("--only", default="")
    ap.add_argument("--build", default="build-mutants")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip running the unmutated suite first (when it "
                         "is known to pass)")
    ap.add_argument("--check", action="store_true",
                    help="only check that each mutant applies to the tree")
    a = ap.parse_args()

    src = os.getcwd()
    mutants = parse_list(a.list)
    if a.only:
        want = set(a.only.split(","))
        mutants = [m for m in mutants if m.id in want]
        if len(mutants) != len(want):
            sys.exit(f"--only: unknown ids {sorted(want - {m.id for m in mutants})}")
    if a.check:
        bad = 0
        for m in mutants:
            try:
                text = open(m.path).read()
            except OSError:
                text = ""
            n = text.count(m.old)
            if n != 1:
                print(f"{a.list}:{m.lineno}: {m.id}: '- ' text found {n} times in {m.path}")
                bad += 1
        print(f"mutants: {len(mutants) - bad} of {len(mutants)} apply")
        return 2 if bad else 0
    root = os.path.abspath(a.build)
    copies = [Scratch(root, src, i) for i in range(max(1, min(a.j, len(mutants))))]
    t0 = time.time()
    print(f"mutants: {len(mutants)} in {a.list}; {len(copies)} scratch "
          f"cop{'y' if len(copies) == 1 else 'ies'} in {a.build}/", flush=True)
    for c in copies:
        ok, out = c.prepare()
        if not ok:
            print(out)
            sys.exit("mutants: the unmutated tree does not build")
    # The unmutated suite must pass, or every mutant would look killed.
    who = None if a.no_baseline else copies[0].run_suite([])
    if who:
        print(f"mutants: the unmutated suite fails ({who}); nothing to measure")
        return 2

    lock = threading.Lock()
    queue = list(mutants)
    done = [0]

    def worker(c):
        while True:
            with lock:
                if not queue:
                    return
                m = queue.pop(0)
            text, why = c.apply(m)
            if text is None:
                m.result = ("invalid", why)
            else:
                ok, out = c.make()
                if not ok:
                    first = next((l for l in out.split("\n") if "error" in l), out[:200])
                    m.result = ("invalid", "does not compile: " + first.strip())
                else:
                    who = c.run_suite(["build/tests/" + k for k in m.kill])
                    m.result = ("killed", who) if who else ("survived", "")
                c.restore(m, text)
            with lock:
                done[0] += 1
                state, who = m.result
                print(f"[{done[0]:3}/{len(mutants)}] {m.id:34} {state:8} {who}",
                      flush=True)

    threads = [threading.Thread(target=worker, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in copies:
        c.make()  # leave each copy built unmutated

    killed = [m for m in mutants if m.result[0] == "killed"]
    survived = [m for m in mutants if m.result[0] == "survived"]
    invalid = [m for m in mutants if m.result[0] == "invalid"]
    print()
    for m in survived:
        print(f"SURVIVED {m.id} ({m.path}): {' '.join(m.what)}")
    for m in invalid:
        print(f"INVALID  {m.id} ({m.path}): {m.result[1]}")
    print(f"mutants: {len(killed)} killed / {len(mutants)} total, "
          f"{len(survived)} survived, {len(invalid)} invalid "
          f"({time.time() - t0:.0f} s)")
    if invalid:
        return 2
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
