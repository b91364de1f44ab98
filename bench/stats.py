"""The suite's statistics over trials: the median, its spread, and when two figures are tied.

With fewer than 6 trials the spread is the range (slowest to fastest trial); from 6 on it is a
95 % confidence interval of the median, distribution-free: the order statistics (x(k), x(n+1-k))
with the largest k whose coverage 1 - 2 P(B(n, 1/2) <= k - 1) is still >= 95 % (the sign-test /
binomial method; n = 6 gives (x(1), x(6)) at 96.9 %, n = 10 (x(2), x(9)) at 97.9 %). Five trials
cannot reach 95 % (93.8 % for the whole range), hence the 6. Two figures are tied when their
spreads overlap.
"""
import math
import statistics

CONFIDENCE = 0.95


def median_interval(values, confidence=CONFIDENCE):
    """(lo, hi, coverage) of the median of values, or None when there are too few for confidence."""
    x, n = sorted(values), len(values)
    found = None
    for k in range(1, n // 2 + 1):
        coverage = 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n
        if coverage < confidence:
            break
        found = (x[k - 1], x[n - k], coverage)
    return found


def summary(values):
    """{"n", "median", "lo", "hi", "kind"} of a figure's values over the trials (None ignored);
    kind: "interval" (95 % of the median), "range" (2 to 5 trials), "single" or "none"."""
    v = [x for x in values if x is not None]
    if not v:
        return {"n": 0, "median": None, "lo": None, "hi": None, "kind": "none"}
    ci = median_interval(v)
    lo, hi = (ci[0], ci[1]) if ci else (min(v), max(v))
    kind = "interval" if ci else "range" if len(v) > 1 else "single"
    return {"n": len(v), "median": statistics.median(v), "lo": lo, "hi": hi, "kind": kind}


def tied(a, b):
    """Whether summaries a and b overlap; None when either has no spread to judge (one trial)."""
    if a["kind"] in ("single", "none") or b["kind"] in ("single", "none"):
        return None
    return a["lo"] <= b["hi"] and b["lo"] <= a["hi"]


def method(n):
    """How the spread of n trials is given, in words for the report."""
    if n >= 6:
        return ("a 95 % interval of the median over the trials (distribution-free, from order "
                "statistics: the binomial / sign-test method)")
    return "the range over the trials (slowest to fastest)" if n > 1 else "one trial: no spread"
