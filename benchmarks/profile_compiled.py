"""Where the compiled driver's time goes: a ``perf`` profile of compiled.py's run.

Rosenbrock in n = 10 (``@numba.njit`` fun and jac), the compiled driver with
the stopping rules off, sampled by ``perf record`` (Linux; skipped where
``perf`` is missing or not allowed). numba's machine code has no symbols for
perf, so the profiled process writes ``/tmp/perf-<pid>.map`` (perf's map for
code generated at run time) naming every compiled function of the run, and a
copy of the kernel's ``tell`` code, which ``objdump`` disassembles here.

Reported: each function's share of the samples of the run (the driver's loop,
``tell``, fun, jac, numba's reference counts, the allocator), and inside
``tell`` its hot loop (of the spans between a backward jump and its target
that hold a quarter of ``tell``'s samples, the one with the most samples per
instruction): its share of ``tell``, its length in instructions and whether it
uses vector registers.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)

READY = "profile_compiled: ready"


def _symbols(dispatchers):
    """address -> name of every function compiled for ``dispatchers``."""
    found, seen = {}, set()

    def visit(library):
        if id(library) in seen:
            return
        seen.add(id(library))
        module = getattr(library, "_final_module", None)
        if module is not None:
            for fn in module.functions:
                if not fn.is_declaration:
                    address = library._codegen._engine.get_function_address(fn.name)
                    if address:
                        found[address] = fn.name
        for linked in getattr(library, "_linking_libraries", ()):
            visit(linked)

    for dispatcher in dispatchers:
        for cres in dispatcher.overloads.values():
            visit(cres.library)
    return found


def child(n_evals, seconds, out_dir):
    """The profiled process: warm up, write the perf map and tell's code, then
    run for ``seconds`` once told that perf is attached."""
    from compiled import rosen_der_nb, rosen_nb, signmin_run, x_start

    from signmin.rprop import drivers, kernel

    run = signmin_run(x_start(), n_evals)
    run()
    symbols = _symbols([rosen_nb, rosen_der_nb, *drivers._COMPILED_LOOPS.values(),
                        *kernel._TELLS.values()])
    addresses = sorted(symbols)
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
        for i, a in enumerate(addresses):
            size = min(addresses[i + 1] - a if i + 1 < len(addresses) else 4096, 1 << 16)
            fh.write(f"{a:x} {size:x} {symbols[a]}\n")
            if short_name(symbols[a]).startswith("tell") and symbols[a].startswith("_ZN"):
                Path(out_dir, f"tell_{a:x}.bin").write_bytes(ctypes.string_at(a, size))
    print(READY, flush=True)
    sys.stdin.readline()  # perf is attached
    runs, t = 0, time.perf_counter()
    while runs == 0 or time.perf_counter() - t < seconds:
        run()
        runs += 1
    print(f"{(time.perf_counter() - t) / (runs * n_evals) * 1e9:.0f} ns per evaluation",
          flush=True)


def short_name(symbol):
    # (The loop's name holds tell's, the type of one of its arguments.)
    for key, label in (("_make_compiled_loop", "driver loop"), ("_make_tell", "tell (the kernel)"),
                       ("rosen_der_nb", "jac"), ("rosen_nb", "fun"),
                       ("NRT_incref", "numba reference counts"),
                       ("NRT_decref", "numba reference counts")):
        if key in symbol:
            return label
    if re.search(r"malloc|free|NRT_MemInfo|NRT_dealloc|NRT_Allocate|NRT_Free", symbol):
        return "allocator (malloc, free, numba's meminfo)"
    return "other"


def hot_loop(code_file, samples):
    """``(share, instructions, vector?)`` of ``tell``'s hot loop: of the spans
    between a backward jump and its target that hold at least a quarter of
    tell's samples, the one with the most samples per instruction."""
    base = int(code_file.stem.split("_")[1], 16)
    end = base + len(code_file.read_bytes())
    dis = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64",
                          f"--adjust-vma={base:#x}", str(code_file)],
                         capture_output=True, text=True, check=True).stdout
    ins = []
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(.*)", line)
        if m and m.group(2):
            ins.append((int(m.group(1), 16), m.group(2)))
    total = max(sum(c for a, c in samples.items() if base <= a < end), 1)
    best = None
    for address, text in ins:
        m = re.match(r"j\w+\s+0x([0-9a-f]+)", text)
        if m and int(m.group(1), 16) < address:
            lo = int(m.group(1), 16)
            body = [t for a, t in ins if lo <= a <= address]
            hits = sum(c for a, c in samples.items() if lo <= a <= address)
            if hits >= total / 4 and (best is None or hits / len(body) > best[0]):
                best = (hits / len(body), hits / total, len(body),
                        any("ymm" in t for t in body))
    return best[1:] if best else (0.0, 0, False)


def record(n_evals, seconds, out_dir):
    """Run the child under ``perf record``: ``(its ns per evaluation, perf script's
    output)``, or ``(None, why not)``."""
    data = Path(out_dir, "perf.data")
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(n_evals), str(seconds),
                             out_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=C.ROOT)
    try:
        if proc.stdout.readline().strip() != READY:
            return None, "the profiled process did not start"
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "4000", "-p", str(proc.pid),
                                 "-o", str(data)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # (perf takes a moment to attach)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        per_eval = proc.stdout.readline().strip()
        proc.wait()
        err = perf.communicate(timeout=60)[1]
        if not data.exists():
            return None, f"perf record failed ({err.strip()[:200]})"
        return per_eval, subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym"],
                                        capture_output=True, text=True).stdout
    finally:
        if proc.poll() is None:
            proc.kill()
        Path(f"/tmp/perf-{proc.pid}.map").unlink(missing_ok=True)


def report(per_eval, script, out_dir):
    """The tables: each function's share of the samples, and tell's hot loop."""
    by_name, tell_ips = Counter(), Counter()
    for line in script.splitlines():
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        name = short_name(parts[1])
        by_name[name] += 1
        if name.startswith("tell"):
            tell_ips[int(parts[0], 16)] += 1
    total = max(sum(by_name.values()), 1)
    C.table(["function", "share of the samples"],
            [[k, f"{v / total:.1%}"] for k, v in by_name.most_common()],
            title=f"Compiled driver, Rosenbrock n=10 ({per_eval}; {total} samples)")
    codes = list(Path(out_dir).glob("tell_*.bin"))
    if codes and tell_ips:
        share, length, vector = hot_loop(codes[0], tell_ips)
        C.say(f"HEADLINE: tell takes {by_name['tell (the kernel)'] / total:.0%} of the run's "
              f"samples (fun and jac {(by_name['fun'] + by_name['jac']) / total:.0%}); its hot "
              f"loop, {length} {'vector' if vector else 'scalar'} instructions (the update of "
              f"the 10 coordinates, in place), {share:.0%} of tell's")
    else:
        C.say("HEADLINE: no samples fell in tell (the run was too short to profile)")


def main():
    def extra(p):
        p.add_argument("--child", nargs=3, metavar=("EVALS", "SECONDS", "DIR"),
                       help="internal: the profiled process")
    args = C.parse_args(__doc__, extra)
    if args.child:
        child(int(args.child[0]), float(args.child[1]), args.child[2])
        return
    C.header(__doc__, args)
    if shutil.which("perf") is None or shutil.which("objdump") is None:
        C.say("HEADLINE: no profile: perf or objdump is not installed here")
        return
    n_evals, seconds = (100_000, 1.0) if args.quick else (1_000_000, 5.0)
    out_dir = tempfile.mkdtemp(prefix="signmin-profile-")
    try:
        per_eval, script = record(n_evals, seconds, out_dir)
        if per_eval is None:
            C.say(f"HEADLINE: no profile: {script}")
            return
        report(per_eval, script, out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    C.write_section("profile_compiled", "Compiled driver: a perf profile (profile_compiled.py)",
                    __doc__, args)


if __name__ == "__main__":
    main()
