"""The gesture module stays pure; its benchmark runs."""

import subprocess
import sys

from orkiosk.touch.bench import bench_touch


def test_touch_module_imports_no_gui_gl_or_network():
    code = (
        "import sys, orkiosk.touch, orkiosk.touch.recognizer;"
        "bad = [m for m in ('kivy', 'moderngl', 'zmq', 'numpy') if m in sys.modules];"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # The recogniser runs on the stdlib alone (numpy only for synth/bench).
    assert result.stdout.strip() == ""


def test_touch_benchmark_times_real_recognition():
    # The figure and its goal (< 200 µs) are reported by `orkiosk bench touch`, not asserted here;
    # this checks that what is timed is the recogniser doing its work on every kind of gesture.
    result = bench_touch(2_000)
    assert result.events == 2_000
    assert 0 < result.mean_us < 1e6
    for kind in ("Rotate", "Zoom", "Pan", "Roll", "DoubleTap"):
        assert result.commands[kind] > 0, f"the benchmark scenario produced no {kind}"
    # the scenario's two taps become one DoubleTap, and its palm is rejected (no tap, no press)
    assert result.commands["Tap"] == 0 and result.commands["LongPress"] == 0
