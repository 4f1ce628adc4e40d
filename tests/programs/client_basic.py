"""Reports through hpsweep_client (test_sw_proto runs it with a pipe)."""
import hpsweep_client


class Scalar:
    """Like a numpy or 0-d torch value: has __float__."""

    def __float__(self):
        return 2.5


assert hpsweep_client.enabled()
hpsweep_client.log({"loss": 0.1, "acc": 1e-300})                     # step 0
hpsweep_client.log({"loss": 123456789.123456789, "n": 7})            # step 1
hpsweep_client.log({"loss": float("nan"), "up": float("inf"), "down": float("-inf")}, step=50)
hpsweep_client.log({"flag": True, "name": "x", "none": None, "s": Scalar()})  # step 51: s only
hpsweep_client.log({"step": 300, "loss": -0.0})                       # "step" item is the step
