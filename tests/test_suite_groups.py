"""The suite's own set-up: tests of one `xdist_group` run on one pytest-xdist worker (the Ray tests share one local
Ray instance, and the killed-runs fixture starts its subprocesses once). pytest 9.2 made loadgroup drop the groups
without a word (pytest-dev/pytest-xdist#1386): this fails then."""

from __future__ import annotations

import os

import pytest


@pytest.mark.xdist_group("killed-runs")
def test_a_grouped_test_carries_its_group_to_the_scheduler(request: pytest.FixtureRequest) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ or not request.config.getoption("loadgroup", default=False):
        pytest.skip("not under pytest-xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@killed-runs")
