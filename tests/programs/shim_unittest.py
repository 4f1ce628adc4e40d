"""Unit tests of the wandb shim without a metrics fd (run by test_sw_proto)."""
import io
import contextlib
import os
import unittest

os.environ.pop("HPSWEEP_METRICS_FD", None)
os.environ["HPSWEEP_PARAMS_JSON"] = '{"lr": 0.25, "opt": {"name": "adam"}}'
import wandb  # noqa: E402


class ShimTest(unittest.TestCase):
    def setUp(self):
        wandb.finish()

    def test_log_before_init_raises(self):
        with self.assertRaises(wandb.Error):
            wandb.log({"a": 1})

    def test_sweep_values_win_and_nested_stay_dicts(self):
        run = wandb.init(config={"lr": 1.0, "bs": 8})
        self.assertEqual(run.config.lr, 0.25)
        self.assertEqual(run.config.opt, {"name": "adam"})
        self.assertEqual(run.config.bs, 8)

    def test_second_init_returns_the_running_run(self):
        self.assertIs(wandb.init(), wandb.init())

    def test_commit_false_then_step_rules(self):
        run = wandb.init()
        run.log({"a": 1}, commit=False)
        self.assertEqual(run.step, 0)
        run.log({"b": 2})
        self.assertEqual(run.step, 1)
        run.log({"c": 3}, step=4)
        self.assertEqual(run.step, 4)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            run.log({"d": 4}, step=2)
        self.assertIn("less than the current step 4", err.getvalue())
        self.assertNotIn("d", run.summary)
        run.log({"e": 5}, step=6)          # commits step 4 first
        self.assertEqual(run.summary["c"], 3)

    def test_summary_is_writable_and_attribute_access(self):
        run = wandb.init()
        run.log({"loss": 2.0})
        run.summary.update({"best": 1.0})
        run.summary.extra = 3
        self.assertEqual(run.summary.loss, 2.0)
        self.assertEqual(sorted(run.summary.keys()), ["best", "extra", "loss"])

    def test_define_metric_max_glob(self):
        run = wandb.init()
        m = wandb.define_metric("acc/*", summary="max")
        self.assertEqual(m.summary, "max")
        for v in (0.2, 0.9, 0.4):
            run.log({"acc/val": v})
        self.assertEqual(run.summary["acc/val"], 0.9)

    def test_config_from_namespace(self):
        import argparse
        ns = argparse.Namespace(bs=16, lr=3.0)
        run = wandb.init(config=ns)
        self.assertEqual((run.config.bs, run.config.lr), (16, 0.25))


if __name__ == "__main__":
    unittest.main()
