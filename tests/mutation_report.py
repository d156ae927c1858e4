"""The result of `make mutation` (mutmut over cashback/domain/, docs/testing.md): the score of
each module and the mutants that survived, less the equivalent ones listed with their reason in
tests/equivalent_mutants.toml. `--strict` fails when a survivor is neither killed nor listed.

    python -m tests.mutation_report [--strict]
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

MUTANTS = Path("mutants")
EQUIVALENT = Path(__file__).parent / "equivalent_mutants.toml"
# mutmut's exit codes (mutmut/stats.py): a timeout or a type error caught the mutant too.
KILLED = {1, 3, 36, 37, -24, 24, 152, 255}
SURVIVED = {0, 5, 33, 35}  # passed, or no test ran it


def equivalent_mutants() -> dict[str, str]:
    """Mutant name -> why it changes no behaviour (reviewed)."""
    listed: dict[str, str] = tomllib.loads(EQUIVALENT.read_text())["equivalent"]
    return listed


def results() -> dict[str, int | None]:
    """Every mutant's exit code, by name (None: not run)."""
    codes: dict[str, int | None] = {}
    for meta in sorted(MUTANTS.glob("cashback/domain/*.py.meta")):
        codes |= json.loads(meta.read_text())["exit_code_by_key"]
    return codes


def main(argv: list[str]) -> int:
    if not MUTANTS.is_dir():
        print("no mutants/ directory: run `make mutation` first")
        return 2
    equivalent = equivalent_mutants()
    counts: dict[str, Counter[str]] = {}
    survivors: list[str] = []
    killed_yet_listed: list[str] = []
    for name, code in results().items():
        module = name.split(".")[2]
        count = counts.setdefault(module, Counter())
        if name in equivalent and code in KILLED:
            killed_yet_listed.append(name)  # a test tells it apart: not equivalent after all
        if name in equivalent and code not in KILLED:
            count["equivalent"] += 1
        elif code is None:
            count["not run"] += 1
        elif code in KILLED:
            count["killed"] += 1
        else:
            count["survived"] += 1
            survivors.append(name)

    print(f"{'module':<12} {'killed':>7} {'survived':>9} {'equivalent':>11} {'score':>7}")
    for module, count in sorted(counts.items()):
        judged = count["killed"] + count["survived"]
        score = f"{100 * count['killed'] / judged:.1f}%" if judged else "-"
        not_run = f"  ({count['not run']} not run)" if count["not run"] else ""
        print(
            f"{module:<12} {count['killed']:>7} {count['survived']:>9} "
            f"{count['equivalent']:>11} {score:>7}{not_run}"
        )
    stale = sorted(set(equivalent) - set(results()))
    if stale:
        print("\nlisted as equivalent but no longer a mutant (remove them):")
        print("\n".join(f"  {name}" for name in stale))
    if killed_yet_listed:
        print("\nlisted as equivalent but killed (a test tells them apart: remove them):")
        print("\n".join(f"  {name}" for name in killed_yet_listed))
    if survivors:
        print("\nsurvivors (kill each with a test naming its rule, or list it as equivalent);")
        print("`mutmut show NAME` prints the change:")
        print("\n".join(f"  {name}" for name in survivors))
    return 1 if (survivors or killed_yet_listed) and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
