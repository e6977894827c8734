"""minimize_rprop's checkpoints: written while the run goes on, resumed to the same result."""

import json

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from signmin import Rprop, minimize_rprop
from signmin.rprop import checkpoint as C
from signmin.rprop import drivers
from signmin.rprop import kernel as K

from ._problems import nb_rosen, nb_rosen_der
from ._processes import kill_while_checkpointing

X0 = np.array([-1.2, 0.8, -0.5, 0.7])
BOX = [(-2.0, 0.9)] * 4
SAME = ("fun", "nfev", "njev", "nit", "status")


def _assert_same(res, expected):
    assert np.array_equal(res.x, expected.x)
    assert tuple(res[k] for k in SAME) == tuple(expected[k] for k in SAME)


def _every_checkpoint(monkeypatch):
    """The bytes of each checkpoint the run writes, in order."""
    written = []
    write = C.write

    def keep(path, *args):
        write(path, *args)
        with open(path, "rb") as file:
            written.append(file.read())

    monkeypatch.setattr(C, "write", keep)
    return written


#: Gradient components off by factors up to 1e6: the default mode's finish stops short
#: and the run goes through several phases (sign, finish, sign, finish, sign).
MIS_SCALED = np.array([1e-6, 1e4, 1e6, 1e-3])


def _mis_scaled_jac(x):
    return rosen_der(x) * MIS_SCALED


@pytest.mark.parametrize("options", [
    dict(driver="python"), dict(driver="python", variant="irprop-", bounds=BOX),
    dict(driver="python", accelerate=False, jac="2-point", maxiter=400),
    dict(driver="compiled"), dict(driver="compiled", variant="rprop+", bounds=BOX)])
@pytest.mark.parametrize("polish", [False, True])
def test_a_run_resumed_from_any_of_its_checkpoints_ends_exactly_as_the_whole_run(
        tmp_path, monkeypatch, options, polish):
    options = dict(options, polish=polish)
    if polish and "bounds" in options:
        options["polish"] = "L-BFGS-B"  # (SciPy's finish, in Fortran)
    fun, jac = ((nb_rosen, nb_rosen_der) if options["driver"] == "compiled"
                else (rosen, rosen_der))
    jac = options.pop("jac", jac)
    _assert_resumes_from_each_checkpoint(tmp_path, monkeypatch, fun, jac, options)


def test_a_default_mode_run_of_several_phases_resumes_from_any_checkpoint(
        tmp_path, monkeypatch):
    path = _assert_resumes_from_each_checkpoint(tmp_path, monkeypatch, rosen, _mis_scaled_jac,
                                                dict(maxiter=3000), every=9)
    kinds = [entry[0] for entry in C.read(path).journal[0]["entries"]]
    assert kinds.count("phase") >= 2 and kinds.count("evaluation") >= 20


def _assert_resumes_from_each_checkpoint(tmp_path, monkeypatch, fun, jac, options, every=1):
    """Checkpoints after every step change nothing, and a run resumed from each
    ``every``-th (and the last) ends exactly as the whole run; the checkpoint's path."""
    whole = minimize_rprop(fun, X0, jac=jac, **options)
    # Compiled: a checkpoint between chunks of one step.
    monkeypatch.setattr(drivers, "FIRST_CHUNK", 1)
    monkeypatch.setattr(drivers, "CHUNK_SECONDS", 0.0)
    written = _every_checkpoint(monkeypatch)
    path = tmp_path / "run.npz"
    checkpointed = minimize_rprop(fun, X0, jac=jac, checkpoint=path, checkpoint_every=0.0,
                                  **options)
    _assert_same(checkpointed, whole)
    assert len(written) >= 10  # (one after each step that went on to a new point)
    monkeypatch.undo()
    for k in [*range(0, len(written), every), len(written) - 1]:
        path.write_bytes(written[k])
        _assert_same(minimize_rprop(fun, X0, jac=jac, resume=path, **options), whole)
    return path


def test_a_default_mode_resume_calls_fun_and_callbacks_only_after_its_checkpoint(
        tmp_path, monkeypatch):
    calls, steps, written, calls_then = [], [], [], []
    whole = minimize_rprop(rosen, X0, jac=rosen_der)

    def fun(x):
        calls.append(1)
        return rosen(x)

    path = tmp_path / "run.npz"
    write = C.write

    def keep(*args):
        write(*args)
        written.append(path.read_bytes())
        calls_then.append(len(calls))

    monkeypatch.setattr(C, "write", keep)
    minimize_rprop(fun, X0, jac=rosen_der, checkpoint=path, checkpoint_every=0.0)
    monkeypatch.undo()
    k = len(written) // 2
    path.write_bytes(written[k])
    calls.clear()
    _assert_same(minimize_rprop(fun, X0, jac=rosen_der, resume=path, callback=steps.append),
                 whole)
    assert 0 < len(calls) == whole.nfev - calls_then[k]
    assert 0 < len(steps) < whole.nit


_CHILD = """
import sys, time
import json

import numpy as np
from scipy.optimize import rosen, rosen_der
from signmin import minimize_rprop

def fun(x):
    time.sleep({sleep})  # (a run that lasts past the random moment of the kill)
    return rosen(x)

minimize_rprop(fun, np.array({x0}), **{options}, checkpoint=sys.argv[1], checkpoint_every=0.0)
"""


@pytest.mark.parametrize("options, sleep", [
    (dict(polish=False, variant="rprop-", maxiter=20000, xtol=0.0, ftol=0.0), 0.0),
    (dict(), 0.003)])
def test_a_run_killed_while_it_checkpoints_resumes_to_the_uninterrupted_result(
        tmp_path, options, sleep):
    expected = minimize_rprop(rosen, X0, jac=rosen_der, **options)
    path = tmp_path / "run.npz"
    child = _CHILD.format(x0=X0.tolist(), sleep=sleep,
                          options=dict(options, jac="@JAC@")).replace("'@JAC@'", "rosen_der")
    for _ in range(2):
        kill_while_checkpointing(child, path)
        saved = C.read(path)
        done_before = (K.counts(saved.run)[1] if saved.journal is None
                       else len(saved.journal[0]["entries"]))
        res = minimize_rprop(rosen, X0, jac=rosen_der, resume=path, **options)
        assert 0 < done_before <= res.nfev
        _assert_same(res, expected)


def test_rprop_and_minimize_rprop_resume_each_others_checkpoints(tmp_path):
    expected = minimize_rprop(rosen, X0, jac=rosen_der, polish=False, driver="python")
    opt = Rprop(X0)
    for _ in range(40):
        x = opt.ask()
        opt.tell(rosen(x), rosen_der(x))
    path = tmp_path / "run.npz"
    opt.save(path)
    _assert_same(minimize_rprop(rosen, X0, jac=rosen_der, polish=False, resume=path),
                 expected)


def test_bad_checkpoint_arguments_are_refused_with_their_names_before_any_evaluation(
        tmp_path):
    def fun(x):
        raise AssertionError("evaluated")

    sign_only = tmp_path / "sign_only.npz"
    Rprop(X0).save(sign_only)
    with pytest.raises(ValueError, match="another run \\(different: .*polish\\)"):
        minimize_rprop(fun, X0, jac=rosen_der, resume=sign_only)
    with pytest.raises(TypeError, match="checkpoint must be a path"):
        minimize_rprop(fun, X0, jac=rosen_der, polish=False, checkpoint=3)
    with pytest.raises(ValueError, match="checkpoint_every must be >= 0"):
        minimize_rprop(fun, X0, jac=rosen_der, polish=False, checkpoint="a.npz",
                       checkpoint_every=-1.0)
    with pytest.raises(FileNotFoundError):
        minimize_rprop(fun, X0, jac=rosen_der, polish=False, resume=tmp_path / "none.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(ValueError, match="not a readable signmin checkpoint"):
        minimize_rprop(fun, X0, jac=rosen_der, polish=False, resume=garbage)
    other = tmp_path / "other.npz"
    Rprop(X0, variant="irprop-").save(other)
    with pytest.raises(ValueError, match="another run \\(different: the variant"):
        minimize_rprop(fun, X0, jac=rosen_der, polish=False, resume=other)


def test_a_default_mode_checkpoint_that_the_run_does_not_follow_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    minimize_rprop(rosen, X0, jac=rosen_der, checkpoint=path, checkpoint_every=0.0)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["journal"]["entries"][0][1] = "0" * 32  # (x0's digest, as if another x0 was asked)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as file:
        np.savez(file, **arrays)

    def fun(x):
        raise AssertionError("evaluated")

    with pytest.raises(ValueError, match="left the checkpoint's record where the finish asks"):
        minimize_rprop(fun, X0, jac=rosen_der, resume=path)
