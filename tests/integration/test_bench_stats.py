"""bench/stats.py against samples whose medians and distribution-free intervals are known."""
import os
import sys
import unittest

SRC = os.environ.get("PIXD_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "bench"))
import stats  # noqa: E402


class MedianIntervalTest(unittest.TestCase):
    def test_too_few_for_95(self):
        for n in range(1, 6):
            self.assertIsNone(stats.median_interval(list(range(n))), n)

    def test_six_is_the_whole_range(self):
        lo, hi, cover = stats.median_interval([5, 1, 4, 2, 6, 3])
        self.assertEqual((lo, hi), (1, 6))
        self.assertAlmostEqual(cover, 1 - 2 / 64)

    def test_known_order_statistics(self):
        # Published tables of the sign-test interval: n=10 -> (x2, x9), n=20 -> (x6, x15),
        # n=50 -> (x18, x33).
        for n, (k_lo, k_hi) in {10: (2, 9), 20: (6, 15), 50: (18, 33)}.items():
            values = [10 * i for i in range(n, 0, -1)]  # x(k) = 10 k, given unsorted
            lo, hi, cover = stats.median_interval(values)
            self.assertEqual((lo, hi), (10 * k_lo, 10 * k_hi), n)
            self.assertGreaterEqual(cover, 0.95)

    def test_summary(self):
        self.assertEqual(stats.summary([3.0, 1.0, 2.0]),
                         {"n": 3, "median": 2.0, "lo": 1.0, "hi": 3.0, "kind": "range"})
        s = stats.summary([7, 1, 3, 5, 2, 9, None])
        self.assertEqual((s["n"], s["median"], s["lo"], s["hi"], s["kind"]), (6, 4.0, 1, 9, "interval"))
        self.assertEqual(stats.summary([4])["kind"], "single")
        self.assertEqual(stats.summary([None])["kind"], "none")

    def test_tied(self):
        a, b, c = stats.summary([10, 12, 14]), stats.summary([13, 15, 16]), stats.summary([20, 21, 22])
        self.assertTrue(stats.tied(a, b))
        self.assertFalse(stats.tied(a, c))
        self.assertIsNone(stats.tied(a, stats.summary([11])))
        # Six trials each: the intervals, not the medians, decide.
        self.assertTrue(stats.tied(stats.summary([1, 2, 3, 4, 5, 9]), stats.summary([8, 10, 11, 12, 13, 14])))


if __name__ == "__main__":
    unittest.main()
