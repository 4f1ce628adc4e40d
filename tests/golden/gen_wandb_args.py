#!/usr/bin/python3
"""gen_wandb_args.py: Python's own formatting, for tests/test_sw_command.c.

Regenerate (standard library only, any python3 >= 3.7):

    python3 tests/golden/gen_wandb_args.py     # writes py_float_repr.txt and wandb_args.txt

The C tests only read the two .txt files (committed); they never run Python.

py_float_repr.txt: one double a line, "<16 hex digits of its IEEE bits> <repr(x)>":
repr() is what str() gives for a float, so what the W&B agent writes for a float
parameter (f"--{name}={value}") and what json.dumps writes for it.

wandb_args.txt: for each parameter object, the argument lists the W&B agent builds
(wandb_agent.py / sdk/launch/sweeps/utils.py create_sweep_command_args), computed here
with Python's real str() and json.dumps on the same rules, restated (not copied):
  - parameters in sorted name order (W&B's sweeps library, HyperParameterSet.from_config,
    sorts the parameters; hpsweep sorts nested objects too);
  - args:          "--NAME=" + str(value)
  - no_hyphens:    "NAME=" + str(value)
  - no_boolean:    booleans: "--NAME" when true, nothing when false; else as args
  - no_equals:     "--NAME", str(value)   (two elements)
  - json:          json.dumps({name: value, ...})   (one element)
Blocks: "case <input JSON>", then "<kind>\t<element>" lines, then "end". No element
holds a tab or a newline (those cases are asserted by hand in the test).
"""
import json
import math
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def float_values():
    vals = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 0.001, 1e-05, 0.0001,
            100.0, 1e16, 1e15, 9999999999999998.0, 1e17, 123456789012345678.0, 1e-4,
            0.00012345, 1.5e-5, 3e-4, 2.5e-4, 5e-324, 2.2250738585072014e-308,
            1.7976931348623157e308, 9007199254740992.0, 9007199254740993.0,
            4503599627370496.5, 1e22, 1e23, 1e-7, 5e-5, 0.5, 2.0, 1e300, 1e-300,
            123.456, -0.001, -1e-05, -1e16, 3.14159, 2.718281828459045, 6.02214076e23,
            0.1 + 0.2, 1e21, 1e-323, 4.35, 0.015, 1.005, 299792458.0]
    for e in range(-330, 310):
        vals.append(10.0 ** e if -324 < e < 309 else 1.0)
        try:
            vals.append(float("1e%d" % e))
            vals.append(float("1.2345e%d" % e))
            vals.append(float("9.99e%d" % e))
        except OverflowError:
            pass
    for e in range(-1074, 1024, 7):
        vals.append(math.ldexp(1.0, e))
    rng = random.Random(20261202)
    for _ in range(1500):  # random bit patterns: every magnitude, subnormals too
        x = from_bits(rng.getrandbits(64))
        if math.isfinite(x):
            vals.append(x)
    for _ in range(1000):  # hyperparameter-like: log-uniform, short decimals
        vals.append(math.exp(rng.uniform(math.log(1e-7), math.log(1e3))))
        vals.append(round(rng.uniform(-10, 10), rng.randint(0, 6)))
    for _ in range(300):  # 2^k boundaries: asymmetric rounding intervals
        vals.append(math.ldexp(1.0, rng.randint(-1074, 1023)))
    seen, out = set(), []
    for v in vals:
        if math.isfinite(v) and bits(v) not in seen:
            seen.add(bits(v))
            out.append(v)
    return out


def sort_nested(v):
    if isinstance(v, dict):
        return {k: sort_nested(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [sort_nested(x) for x in v]
    return v


CASES = [
    {"lr": 0.001, "batch_size": 32, "use_bn": True, "layers": [64, 64],
     "opt": {"name": "adam", "beta": 0.9}},
    {"b": False, "a": True, "c": 1e-05, "d": 100.0, "e": 1e16, "f": -2.5e-07},
    {"s": "hello world", "q": "it's", "dq": 'say "hi"', "both": "it's \"x\"",
     "bs": "C:\\dir\\", "empty": ""},
    {"u": "caf\u00e9 \u65e5\u672c", "emoji": "\U0001F600", "lst": ["caf\u00e9", "\U0001F600", "a'b"],
     "ctl": ["\x01\x7f", "\u00a0\u00ad"]},
    {"nested": {"z": [1, 2.0, None, True, {"y": "v", "x": []}], "a": {}},
     "nulls": [None], "big": 123456789012345678901234567890, "neg": -7, "negz": -0.0},
    {"n": 1.0, "m": 0.1, "k": 123456789012345678.0, "j": 0.0001, "i": 1e-4 / 3},
    {"B": 1, "a": 2, "_x": 3, "a.b": 4, "a_b": 5, "\u00e9": 6, "Z": 7},
    {},
]


def write_cases(f):
    for case in CASES:
        f.write("case " + json.dumps(case) + "\n")
        params = sort_nested(case)
        for name, value in params.items():
            f.write("args\t--%s=%s\n" % (name, value))
            f.write("no_hyphens\t%s=%s\n" % (name, value))
            if isinstance(value, bool):
                if value:
                    f.write("no_boolean\t--%s\n" % name)
            else:
                f.write("no_boolean\t--%s=%s\n" % (name, value))
            f.write("no_equals\t--%s\n" % name)
            f.write("no_equals\t%s\n" % (value,))
        f.write("json\t%s\n" % json.dumps(params))
        f.write("end\n")


def main():
    with open(os.path.join(HERE, "py_float_repr.txt"), "w", encoding="utf-8") as f:
        for v in float_values():
            f.write("%016x %r\n" % (bits(v), v))
    with open(os.path.join(HERE, "wandb_args.txt"), "w", encoding="utf-8") as f:
        write_cases(f)


if __name__ == "__main__":
    main()
