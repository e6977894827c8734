"""The ask/tell optimiser: the steps of minimize_rprop, driven from outside."""

import copy
import pickle

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from signmin import Rprop, Status, minimize_rprop

from ._processes import kill_while_checkpointing

X0 = np.array([-1.2, 0.8, -0.5, 0.7])
BOX = [(-2.0, 0.9)] * 4


def _recorded_run(**options):
    """minimize_rprop's sign method on Rosenbrock, with every point it evaluated."""
    points = []

    def fun(x):
        points.append(x.copy())
        return rosen(x)

    res = minimize_rprop(fun, X0.copy(), jac=rosen_der, polish=False, driver="python",
                         **options)
    return res, points


def _ask_tell(opt, points=None, until=None):
    while not opt.done and (until is None or len(points) < until):
        x = opt.ask()
        if points is not None:
            points.append(x.copy())
        opt.tell(rosen(x), rosen_der(x))
    return opt


CASES = [dict(variant=v) for v in ("irprop+", "irprop-", "rprop+", "rprop-")] + [
    dict(bounds=BOX), dict(accelerate=False), dict(bounds=BOX, accelerate=False),
    dict(until_bracketed=True), dict(xtol=0.0, ftol=1e-12), dict(gtol=1e-3, maxiter=500)]


@pytest.mark.parametrize("options", CASES, ids=lambda o: ",".join(map(str, o.values())))
def test_ask_and_tell_take_the_steps_of_minimize_rprop_bit_for_bit(options):
    expected, expected_points = _recorded_run(**options)
    bounds = options.pop("bounds", None)
    points = []
    res = _ask_tell(Rprop(X0, bounds, **options), points).result
    assert len(points) == len(expected_points) == expected.nfev
    assert all(np.array_equal(a, b) for a, b in zip(points, expected_points, strict=True))
    for key in ("fun", "nit", "nfev", "njev", "status", "success", "message"):
        assert res[key] == expected[key], key
    for key in ("x", "jac", "step_size"):
        assert np.array_equal(res[key], expected[key]), key


@pytest.mark.parametrize("through", ["pickle", "deepcopy"])
def test_a_copy_taken_mid_run_continues_exactly_as_the_original(through):
    original = _ask_tell(Rprop(X0, BOX, variant="rprop+"), [], until=57)
    if through == "pickle":
        clone = pickle.loads(pickle.dumps(original))
    else:
        clone = copy.deepcopy(original)
    a, b = [], []
    _ask_tell(original, a)
    _ask_tell(clone, b)
    assert len(a) == len(b) > 0
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    ra, rb = original.result, clone.result
    assert (ra.fun, ra.nfev, ra.nit, ra.status) == (rb.fun, rb.nfev, rb.nit, rb.status)
    assert np.array_equal(ra.x, rb.x)


def test_the_result_mid_run_is_the_best_point_so_far_and_says_the_run_goes_on():
    opt = _ask_tell(Rprop(X0), [], until=20)
    res = opt.result
    assert not opt.done and opt.status is None
    assert res.status == -1 and not res.success and res.nfev == 20
    assert res.fun == rosen(res.x) <= rosen(X0)


def test_a_non_finite_value_ends_the_run_at_the_best_finite_point():
    opt = Rprop([1.0, 2.0])
    opt.tell(5.0, np.array([1.0, 1.0]))
    opt.tell(np.nan, np.array([1.0, 1.0]))
    assert opt.done and opt.status == Status.NONFINITE
    assert opt.result.fun == 5.0 and np.array_equal(opt.result.x, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="NONFINITE"):
        opt.ask()


def test_bad_input_is_refused_with_its_name_before_any_step():
    with pytest.raises(ValueError, match="variant"):
        Rprop([1.0], variant="adam")
    opt = Rprop([1.0, 2.0])
    with pytest.raises(ValueError, match=r"g must have shape \(2,\)"):
        opt.tell(1.0, np.ones(3))
    assert opt.result.nfev == 0


def test_x0_and_the_asked_points_are_the_callers():
    x0 = np.array([3.0, -2.0])
    opt = Rprop(x0)
    x = opt.ask()
    x[:] = 99.0
    assert np.array_equal(opt.ask(), [3.0, -2.0]) and np.array_equal(x0, [3.0, -2.0])


# --- checkpoints ------------------------------------------------------------------------

_CHILD = """
import sys
import numpy as np
from scipy.optimize import rosen, rosen_der
from signmin import Rprop
x0 = np.array({x0})
path = sys.argv[1]
opt = Rprop(x0, variant="rprop+")
while not opt.done:
    x = opt.ask()
    opt.tell(rosen(x), rosen_der(x))
    opt.save(path)
"""


def test_a_run_killed_while_it_checkpoints_resumes_to_the_uninterrupted_result(tmp_path):
    expected, _ = _recorded_run(variant="rprop+")
    path = tmp_path / "run.npz"
    child = _CHILD.format(x0=X0.tolist())
    for _ in range(3):
        kill_while_checkpointing(child, path)
        saved = Rprop.load(path)
        done_before = saved.result.nfev
        opt = _ask_tell(Rprop(X0, variant="rprop+", resume=path), [])
        res = opt.result
        assert 0 < done_before <= res.nfev
        assert (res.fun, res.nfev, res.njev, res.nit, res.status) == (
            expected.fun, expected.nfev, expected.njev, expected.nit, expected.status)
        assert np.array_equal(res.x, expected.x)


def test_a_truncated_or_corrupted_checkpoint_is_refused_and_the_good_one_still_loads(tmp_path):
    opt = _ask_tell(Rprop(X0), [], until=30)
    good = tmp_path / "good.npz"
    opt.save(good)
    data = good.read_bytes()
    for name, content in (("truncated", data[: len(data) // 2]), ("empty", b""),
                          ("garbage", b"not a checkpoint" * 10)):
        bad = tmp_path / f"{name}.npz"
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="not a readable signmin checkpoint"):
            Rprop.load(bad)
    assert np.array_equal(Rprop.load(good).ask(), opt.ask())


def test_a_checkpoint_of_another_run_is_refused_with_what_differs(tmp_path):
    path = tmp_path / "run.npz"
    _ask_tell(Rprop(X0, variant="irprop-"), [], until=10).save(path)
    Rprop(X0, variant="irprop-", resume=path)  # the same run: accepted
    for kwargs, what in ((dict(x0=X0 + 1.0, variant="irprop-"), "x0"),
                         (dict(x0=X0, variant="irprop+"), "variant"),
                         (dict(x0=X0, variant="irprop-", bounds=BOX), "bounds"),
                         (dict(x0=X0, variant="irprop-", etas=(0.4, 1.3)), "options")):
        x0 = kwargs.pop("x0")
        with pytest.raises(ValueError, match=f"another run \\(different: .*{what}"):
            Rprop(x0, resume=path, **kwargs)


def test_a_checkpoint_of_another_version_is_refused(tmp_path, monkeypatch):
    from signmin.rprop import checkpoint

    path = tmp_path / "run.npz"
    Rprop(X0).save(path)
    monkeypatch.setattr(checkpoint, "_version", lambda: "99.0")
    with pytest.raises(ValueError, match="written by signmin 0.1.0; this is signmin 99.0"):
        Rprop.load(path)
