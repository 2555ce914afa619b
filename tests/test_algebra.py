"""The matcher's algebra: zero-testing of piecewise expressions, zero by
derivatives, and the numerical screen that rejects false claims early."""

import sympy as sp

from symlik.core.algebra import cases, clearly_nonzero, clearly_varies, is_zero, switch_point, tidy_logs

y, m = sp.symbols("y m", real=True)
tau, b = sp.symbols("tau b", positive=True)
r = y - m


def test_switch_point_is_shared_by_every_spelling_of_the_residual():
    v, s = switch_point(y - m)
    assert switch_point(m - y) == (v, -s)
    assert switch_point(3 * tau * (y - m)) == (v, s)  # positive factors do not move the switch
    assert switch_point(sp.Integer(2)) is None


def test_piecewise_max_abs_and_heaviside_forms_of_the_check_function_agree():
    check_max = sp.Max(tau * r, (tau - 1) * r)
    check_piecewise = sp.Piecewise((tau * r, y >= m), ((tau - 1) * r, True))
    check_abs = (sp.Abs(r) + (2 * tau - 1) * r) / 2
    check_heaviside = r * (tau - sp.Heaviside(-r))
    for other in (check_piecewise, check_abs, check_heaviside):
        assert is_zero(check_max - other)
    assert not is_zero(check_max - tau * r)  # equal for r > 0 only
    assert not is_zero(check_max - sp.Max(tau * r, (tau - 2) * r))


def test_cases_resolve_each_sign_of_the_switch():
    got = cases([sp.Abs(r), sp.sign(m - y), sp.Min(y, m)])
    assert sorted(got, key=str) == sorted([(y - m, -1, m), (m - y, 1, y)], key=str)


def test_compound_conditions_and_nested_switches_are_split():
    both = cases([sp.Piecewise((1, sp.And(y > 0, m > 0)), (0, True))])
    assert sorted(v for (v,) in both) == [0, 0, 1]
    # |r| <= b splits on r first, then on r - b or r + b: a Huber-style condition.
    huber = sp.Piecewise((r**2 / 2, sp.Abs(r) <= b), (b * (sp.Abs(r) - b / 2), True))
    flipped = sp.Piecewise((b * sp.Abs(r) - b**2 / 2, b - sp.Abs(m - y) < 0), (r**2 / 2, True))
    assert is_zero(huber - flipped)
    assert not is_zero(huber - sp.Piecewise((r**2 / 2, sp.Abs(r) <= 2 * b), (b * (sp.Abs(r) - b / 2), True)))


def test_cases_refuse_what_they_cannot_decide():
    assert cases([sp.Max(y, m, tau)]) is None
    many = sum(sp.Abs(y - k) for k in range(5))  # five independent switches: deeper than allowed
    assert cases([many]) is None


def test_sum_of_logs_sympy_will_not_combine_is_zero_by_its_derivatives():
    # The logistic NLL against 2 log cosh: equal, though SymPy cannot merge the logs.
    s = sp.Symbol("s", positive=True)
    logistic = r / s + 2 * sp.log(1 + sp.exp(-r / s))
    assert is_zero(logistic - 2 * sp.log(sp.cosh(r / (2 * s))) - 2 * sp.log(2))
    assert not is_zero(logistic - 2 * sp.log(sp.cosh(r / (2 * s))))  # off by the constant 2 log 2


def test_numerical_screen_only_rejects():
    assert clearly_nonzero(sp.sin(y) + 1.5)
    assert not clearly_nonzero(sp.sin(y) ** 2 + sp.cos(y) ** 2 - 1)
    assert not clearly_nonzero(sp.log(y - 10))  # not real at the sample points: no verdict
    assert clearly_varies(y / m, [y, m])
    assert not clearly_varies((y**2 - m**2) / (y - m) - y - m, [y, m])


def test_tidy_logs_keeps_special_function_logs_apart():
    nu = sp.Symbol("nu", positive=True)
    expr = sp.log(nu) / 2 + sp.log(sp.pi) / 2 + sp.log(sp.gamma(nu / 2))
    tidy = tidy_logs(expr)
    assert tidy.has(sp.log(sp.gamma(nu / 2)))
    assert tidy.has(sp.log(sp.pi * nu))
    single = -(nu + 1) / 2 * sp.log(1 + r**2)
    assert tidy_logs(single) == single  # one log: nothing to gather, nothing rewritten


def test_with_stand_ins_keeps_the_hidden_parts_whole_and_restores_nested_ones():
    from symlik.core.algebra import with_stand_ins

    x, y = sp.symbols("x y", real=True)
    inner = sp.Piecewise((x + 1, y > 0), (x, True))
    outer = sp.Piecewise(((x + 1) ** 2 * inner, x > y), (0, True))
    expr = (x + 1) * (outer + 2)
    out = with_stand_ins(expr, lambda e: isinstance(e, sp.Piecewise), sp.expand)
    # outside the branches expanded, inside untouched, and both levels back in place
    assert out == 2 * x + 2 + x * outer + outer
    assert outer in out.atoms(sp.Piecewise) and inner in out.atoms(sp.Piecewise)
    assert sp.simplify(out - expr) == 0
    doubled = with_stand_ins(outer, lambda e: isinstance(e, sp.Piecewise), lambda e: e,
                             restore=lambda p: sp.Piecewise(*[(2 * v, c) for v, c in p.args]))
    assert doubled.subs({x: 3, y: 1}) == 2 * (4**2) * 2 * 4
