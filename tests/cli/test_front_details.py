"""Details of the command's output (issue 18, items 6 and 7): progress that never goes quiet,
figures counted, verdict words for people, help texts, where `show` writes, closed ranges."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from actlab.cli import main
from actlab.cli.common import ProgressLine, status_words
from actlab.report.section import count_label


def test_progress_repeats_its_line_when_the_work_is_quiet():
    stream = io.StringIO()  # not a terminal: whole lines, as in a CI log
    progress = ProgressLine("claim", stream=stream, heartbeat=0.3)
    progress(1, 10, "training")
    time.sleep(1.5)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3, lines  # the first, then the heartbeat's
    assert all("10% training" in line for line in lines)
    closed = len(stream.getvalue())
    time.sleep(0.7)
    assert len(stream.getvalue()) == closed  # nothing after close()


def test_a_disabled_progress_line_writes_nothing():
    stream = io.StringIO()
    progress = ProgressLine("claim", stream=stream, enabled=False)
    progress(1, 2, "x")
    time.sleep(0.2)
    progress.close()
    assert stream.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_wiped_terminal_line_leaves_nothing_and_close_adds_no_blank_line():
    stream = _Terminal()
    quiet = ProgressLine("claim", stream=stream, heartbeat=0.2)
    quiet.close()
    assert stream.getvalue() == ""  # never drawn: closing adds no empty line
    progress = ProgressLine("actlab run", stream=stream, heartbeat=0.2)
    progress.later(0, 1, "loading torch and vanishing")
    time.sleep(0.8)
    assert "loading torch and vanishing" in stream.getvalue()  # the heartbeat drew it
    progress.clear()
    progress.close()
    assert stream.getvalue().endswith("\r\033[K")  # wiped, and no newline after it


def _screen(raw: bytes) -> list[str]:
    """The non-empty lines a terminal shows after ``raw``: a small emulator of \\r, \\n and erase-line."""
    lines, chars, col = [], [], 0
    for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+|\x1b", raw.decode(errors="replace")):
        if token == "\n":
            lines.append("".join(chars))
            chars, col = [], 0
        elif token == "\r":
            col = 0
        elif token == "\x1b[K":
            del chars[col:]
        else:
            for ch in token:
                if col < len(chars):
                    chars[col] = ch
                else:
                    chars.append(ch)
                col += 1
    lines.append("".join(chars))
    return [line.rstrip() for line in lines if line.strip()]


def test_the_terminal_emulator_of_these_tests():
    assert _screen(b"abc\rxy\r\n") == ["xyc"]
    assert _screen(b"progress 10%\r\x1b[Kactlab: error: bad\r\n") == ["actlab: error: bad"]
    assert _screen(b"one\ntwo\n") == ["one", "two"]


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a pseudo-terminal")
def test_one_claim_says_it_is_loading_on_a_terminal_and_a_bad_setting_stays_one_line(tmp_path):
    # `actlab run CLAIM` is quiet for the seconds torch takes to load unless it says so; on a
    # terminal it does, in place, and a bad setting found after the load wipes that line, so the
    # error is the only line on the screen (issue 18, item 6).
    import os
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
           "COLUMNS": "100"}
    # the load is made slower than the heartbeat on any machine, so the line is surely drawn
    code = ("import sys, time; import actlab.cli.run as r; real = r._cmd_run\n"
            "def slow(args, starting):\n    time.sleep(2.5); return real(args, starting)\n"
            "r._cmd_run = slow\nfrom actlab.cli.main import main\n"
            "sys.exit(main(['run', 'vanishing', '--set', 'depth=banana', '--out', sys.argv[1]]))")
    leader, follower = os.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out")], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=env)
    os.close(follower)
    raw = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        raw += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 2
    assert b"loading torch and vanishing" in raw, raw  # it was said while loading
    shown = _screen(raw)
    assert len(shown) == 1 and shown[0].startswith("actlab: error: ") and "depth" in shown[0], shown


def test_figures_are_counted_as_they_are_drawn(tmp_path):
    from actlab.claims import load_claim
    from actlab.plots import plot_result
    from actlab.training.settings import make_config

    module = load_claim("vanishing")
    result = module.run(make_config(module.Config, None, {"depth": "3", "width": "4", "batch": "4", "seeds": "1",
                                                          "inits": "default"}))
    calls = []
    paths = plot_result(result, tmp_path, lambda done, total: calls.append((done, total)))
    assert paths and calls[0][0] == 0
    assert [d for d, _ in calls] == list(range(len(calls)))  # 0, 1, 2, ...: one call per figure saved
    assert calls[-1][0] == len(list(tmp_path.glob("*.png")))
    assert all(total is None or total >= done for done, total in calls)


def test_verdict_words_and_counts_read_as_english():
    assert status_words("does_not_hold") == "does not hold"
    assert count_label("does_not_hold", 1) == "1 does not hold"
    assert count_label("does_not_hold", 2) == "2 do not hold"
    assert count_label("holds", 1) == "1 holds" and count_label("holds", 3) == "3 hold"
    assert count_label("inconclusive", 0) == "0 inconclusive"


def test_run_prints_words_and_the_time_waited(tmp_path, capsys):
    code = main(["run", "vanishing", "--no-progress", "--no-report", "--out", str(tmp_path),
                 *[f"--set={s}" for s in ("depth=3", "width=4", "batch=4", "seeds=1", "inits=default")]])
    out = capsys.readouterr().out
    assert code == 0
    first = out.splitlines()[0]
    assert re.match(r"vanishing: (holds|does not hold|inconclusive) \(\d+\.\ds; measured in \d+\.\ds\) -> ", first), first
    assert "_" not in first.split("(")[0]


def test_sweep_help_says_95_percent(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "95% CIs" in text and "%%" not in text


def test_settings_help_keeps_the_ellipsis(capsys):
    assert main(["run", "convergence", "--set", "help"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("seeds "))
    assert line.rstrip().endswith("seed, seed + 1, ..."), line


def test_show_writes_into_the_results_folder_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["show", "relu"]) == 0
    assert (tmp_path / "actlab-results" / "activations.png").is_file()
    assert not (tmp_path / "activations.png").exists()
    assert str(Path("actlab-results") / "activations.png") in capsys.readouterr().out


def test_list_writes_closed_ends_closed(capsys):
    assert main(["list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:] if line.strip()}
    # relu reaches 0 (every x <= 0), hard_tanh -1 and 1, gelu its minimum at x ~ -0.75;
    # sigmoid, tanh and elu only approach their bounds
    assert "[0, inf)" in rows["relu"] and "[-1, 1]" in rows["hard_tanh"] and "[-0.17, inf)" in rows["gelu"]
    assert "(0, 1)" in rows["sigmoid"] and "(-1, 1)" in rows["tanh"] and "(-1, inf)" in rows["elu"]
    assert "[0, 1]" in rows["hard_sigmoid"] and "(-inf, inf)" in rows["leaky_relu"]


def test_verify_progress_counts_the_activations_finished(monkeypatch, capsys):
    import actlab.cli.verify as verify

    seen = []

    class Recorder:
        enabled, tty = True, False

        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, done, total, message=""):
            seen.append((done / total, message))

        def clear(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(verify, "ProgressLine", Recorder)
    assert main(["verify", "relu", "tanh"]) == 0
    halfway = [m for frac, m in seen if frac == 0.5]
    assert halfway and halfway[0].startswith("1/2 done, tanh"), seen
    assert all(not m.startswith("2/2") for frac, m in seen if frac < 1)
