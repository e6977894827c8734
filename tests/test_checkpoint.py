"""minimize_rprop's checkpoints: written while the run goes on, resumed to the same result."""

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


@pytest.mark.parametrize("options", [
    dict(driver="python"), dict(driver="python", variant="irprop-", bounds=BOX),
    dict(driver="python", accelerate=False, jac="2-point", maxiter=400),
    dict(driver="compiled"), dict(driver="compiled", variant="rprop+", bounds=BOX)])
def test_a_run_resumed_from_any_of_its_checkpoints_ends_exactly_as_the_whole_run(
        tmp_path, monkeypatch, options):
    options = dict(options, polish=False)
    fun, jac = ((nb_rosen, nb_rosen_der) if options["driver"] == "compiled"
                else (rosen, rosen_der))
    jac = options.pop("jac", jac)
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
    for k in (0, len(written) // 3, len(written) - 1):
        path.write_bytes(written[k])
        _assert_same(minimize_rprop(fun, X0, jac=jac, resume=path, **options), whole)


_CHILD = """
import sys
import numpy as np
from scipy.optimize import rosen, rosen_der
from signmin import minimize_rprop
minimize_rprop(rosen, np.array({x0}), jac=rosen_der, polish=False, variant="rprop-",
               maxiter=20000, xtol=0.0, ftol=0.0, checkpoint=sys.argv[1], checkpoint_every=0.0)
"""


def test_a_run_killed_while_it_checkpoints_resumes_to_the_uninterrupted_result(tmp_path):
    options = dict(jac=rosen_der, polish=False, variant="rprop-", maxiter=20000, xtol=0.0,
                   ftol=0.0)
    expected = minimize_rprop(rosen, X0, **options)
    path = tmp_path / "run.npz"
    child = _CHILD.format(x0=X0.tolist())
    for _ in range(2):
        kill_while_checkpointing(child, path)
        done_before = K.counts(C.read(path).run)[1]
        res = minimize_rprop(rosen, X0, resume=path, **options)
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

    with pytest.raises(ValueError, match="checkpoint and resume need polish=False"):
        minimize_rprop(fun, X0, jac=rosen_der, checkpoint=tmp_path / "a.npz")
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
