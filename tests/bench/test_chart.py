from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from trace2skill.bench.chart import Bar, pass_rate_chart
from trace2skill.bench.stats import PassRate, pass_rate
from trace2skill.errors import InvalidInput

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIRST_COLOUR = (0x9E, 0x9E, 0x9E)  # the first arm's bar colour


def rate(passed: int, total: int) -> PassRate:
    return pass_rate([True] * passed + [False] * (total - passed))


ARMS = [Bar("none", rate(33, 100)), Bar("before (v1)", rate(41, 100)), Bar("after (v2)", rate(47, 100))]


def test_the_chart_is_an_800_by_500_png_without_a_software_stamp(tmp_path: Path) -> None:
    path = pass_rate_chart(ARMS, tmp_path / "charts" / "wikitq.png", title="wikitq-small", subtitle="test split")
    assert path == tmp_path / "charts" / "wikitq.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (800, 500)
        assert "Software" not in image.info


def test_the_same_results_give_the_same_bytes_and_other_results_do_not(tmp_path: Path) -> None:
    first = pass_rate_chart(ARMS, tmp_path / "first.png", title="t").read_bytes()
    again = pass_rate_chart(ARMS, str(tmp_path / "again.png"), title="t").read_bytes()
    other = pass_rate_chart([*ARMS[:2], Bar("after (v2)", rate(48, 100))], tmp_path / "other.png", title="t")
    assert first == again
    assert other.read_bytes() != first


def test_a_higher_pass_rate_draws_a_taller_bar(tmp_path: Path) -> None:
    def coloured_pixels(passed: int) -> int:
        path = pass_rate_chart([Bar("arm", rate(passed, 100))], tmp_path / f"{passed}.png")
        with Image.open(path) as image:
            colours = image.convert("RGB").getcolors(maxcolors=800 * 500) or []
        return next((count for count, colour in colours if colour == FIRST_COLOUR), 0)

    quarter, three_quarters = coloured_pixels(25), coloured_pixels(75)
    assert quarter > 0 and 2.7 < three_quarters / quarter < 3.3


def test_grouped_bars_and_a_bar_with_no_runs_are_drawn(tmp_path: Path) -> None:
    bars = [
        Bar(label, rate(k + seed, 50), group=f"seed {seed}") for seed in range(3) for label, k in (("a", 10), ("b", 20))
    ]
    path = pass_rate_chart([*bars, Bar("a", rate(0, 0), group="seed 3")], tmp_path / "grouped.png")
    with Image.open(path) as image:
        assert image.size == (800, 500)


def test_a_chart_without_bars_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least one bar"):
        pass_rate_chart([], tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()


def test_without_matplotlib_the_chart_says_in_one_line_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(InvalidInput) as raised:
        pass_rate_chart(ARMS, tmp_path / "chart.png")
    assert "\n" not in str(raised.value) and "pip install 'trace2skill[bench]'" in str(raised.value)
    assert not (tmp_path / "chart.png").exists()
