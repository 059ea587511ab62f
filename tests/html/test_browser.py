"""The pages in a real browser: headless Chromium loads each one with no console message, the
dumped DOM holds the drawn charts, timeline and graph, and a screenshot goes to tests/artifacts/.

Chromium comes from Debian (``.ci/install-chromium.sh``); without it these tests skip and say so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from html_seed import seed_pair

from contexta import Contexta
from contexta.query.report import multi_run_report

CHROMIUM = Path("/usr/bin/chromium")
ACCEPTANCE = Path(__file__).resolve().parents[3] / "shared" / "acceptance"  # shared/ beside the repo
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed: run .ci/install-chromium.sh as root"
)


class Browser:
    """One headless Chromium per call, with a throwaway profile and nothing fetched in the background."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile

    def run(self, page: Path, *args: str) -> tuple[str, list[str]]:
        """Load ``page``; return stdout and the console lines Chromium logged."""
        command = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            page.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
        return done.stdout, console

    def check(self, markup: str, name: str, height: int) -> str:
        """Write the page to tests/artifacts/, load it (no console message), screenshot it; return the DOM."""
        ARTIFACTS.mkdir(exist_ok=True)
        page = ARTIFACTS / f"{name}.html"
        page.write_text(markup, encoding="utf-8")
        dom, console = self.run(page, "--dump-dom")
        assert console == [], f"{name}: console messages {console}"
        shot = ARTIFACTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        _, console = self.run(page, f"--screenshot={shot}", f"--window-size=1280,{height}")
        assert console == [] and shot.stat().st_size > 10_000, f"{name}: no screenshot"
        return dom


def drawn(dom: str, cls: str) -> list[str]:
    """The inner markup of every rendered ``<svg class=cls>``."""
    return re.findall(rf'<svg[^>]*class="{cls}"[^>]*>(.*?)</svg>', dom, re.DOTALL)


def script(name: str, cwd: Path) -> None:
    """Run one seed acceptance script unchanged, as a user would, in ``cwd``."""
    if not (ACCEPTANCE / name).exists():
        pytest.skip(f"the acceptance scripts are not at {ACCEPTANCE}")
    done = subprocess.run(
        [sys.executable, str(ACCEPTANCE / name)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    return Browser(tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder where the iris workflow and the case 03 seed have run."""
    pytest.importorskip("sklearn", reason="the iris workflow needs scikit-learn (dev extra)")
    folder = tmp_path_factory.mktemp("acceptance")
    script("contexta_tracking.py", folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def open_workspace(folder: Path, project: str) -> Contexta:
    return Contexta(workspace=folder / ".contexta", config={"project_name": project}, environ={})


def test_iris_report_renders_in_chromium(browser: Browser, seeded: Path) -> None:
    """The iris run's snapshot page: point charts, a timeline with the batch, the lineage graph."""
    with open_workspace(seeded, "iris-svm") as ctx:
        markup = ctx.build_snapshot_report("run:iris-svm.linear-svm").to_html()
    dom = browser.check(markup, "iris-report", 2500)
    charts = drawn(dom, "chart")
    assert len(charts) == 3 and all("<circle" in chart for chart in charts)
    (timeline,) = drawn(dom, "timeline")
    assert timeline.count("<rect") >= 4 and "holdout-split" in timeline
    (graph,) = drawn(dom, "graph")
    assert "<path" in graph and "sklearn.iris" in graph


def test_iris_comparison_renders_in_chromium(browser: Browser, seeded: Path) -> None:
    """The two iris candidates side by side, with coloured deltas and overlaid values."""
    runs = ["run:iris-svm.linear-svm", "run:iris-svm.rbf-svm"]
    with open_workspace(seeded, "iris-svm") as ctx:
        records = [ctx.get_run_snapshot(run).records for run in runs]
        markup = multi_run_report(
            ctx.compare_multiple_runs(runs), [ctx.diagnose_run(r) for r in runs], records
        ).to_html()
    dom = browser.check(markup, "iris-comparison", 1500)
    assert "num worse" in dom and len(drawn(dom, "chart")) == 3


def test_case03_report_and_comparison_render_in_chromium(browser: Browser, tmp_path: Path) -> None:
    """Case 03 (silent failure): the error badge, five stages on the timeline, three nights compared."""
    script("case03_seed_pipeline_failure_data.py", tmp_path)
    script("case03_analyze_pipeline_failure.py", tmp_path)
    with open_workspace(tmp_path, "nightly-ml-pipeline") as ctx:
        report = ctx.build_snapshot_report("run:nightly-ml-pipeline.nightly-day1").to_html()
        runs = [row.run_id for row in ctx.list_runs()]
        comparison = ctx.build_multi_run_report(runs).to_html()
    dom = browser.check(report, "case03-report", 2600)
    assert "degraded_record" in dom and "badge error" in dom
    (timeline,) = drawn(dom, "timeline")
    assert all(stage in timeline for stage in ("ingest", "preprocess", "validate", "train", "evaluate"))
    assert all("<circle" in chart for chart in drawn(dom, "chart"))
    dom = browser.check(comparison, "case03-comparison", 1100)
    assert "<th>nightly-day1</th><th>nightly-day2</th><th>nightly-day3</th>" in dom


def test_rich_report_and_comparison_render_in_chromium(browser: Browser, ctx: Contexta) -> None:
    """Steps, epochs, spans and failures: polylines in the charts, red bars, lane-routed lineage."""
    runs = list(seed_pair(ctx))
    dom = browser.check(ctx.build_snapshot_report(runs[1]).to_html(), "demo-report", 3300)
    assert sum(chart.count("<polyline") for chart in drawn(dom, "chart")) == 2
    (timeline,) = drawn(dom, "timeline")
    assert 'fill="#d64545"' in timeline and "POST /score" in timeline
    records = [ctx.get_run_snapshot(run).records for run in runs]
    markup = multi_run_report(ctx.compare_multiple_runs(runs), [ctx.diagnose_run(r) for r in runs], records)
    dom = browser.check(markup.to_html(), "demo-comparison", 1500)
    assert sum(chart.count("<polyline") for chart in drawn(dom, "chart")) == 4


def test_console_check_catches_a_script_error(browser: Browser, tmp_path: Path) -> None:
    """The console check works: a page whose script throws is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>missingFunction()</script>", encoding="utf-8")
    _, console = browser.run(page, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console)
