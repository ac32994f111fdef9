"""At 80×24 over SSH the operator still sees what matters: the preview's table and its keys, the
pane tabs' badges, the sources in trouble, the words of the keys they reach for most."""

from __future__ import annotations

import re

from mlops_tui.backends.model import ServiceKey, ServiceKind
from mlops_tui.backends.plans import ActionPlan, Mutation, PlanWarning, Scale
from mlops_tui.tui.screens.preview import PreviewScreen
from tests.tui.conftest import make_app, until, visible_text


def long_plan() -> ActionPlan:
    """A scale with many warnings and calls: more than 24 rows if nothing gave way."""
    key = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "property-valuation-model")
    return ActionPlan(
        source="prod-a", target=key, target_name=str(key), intent=Scale(9),
        mutations=tuple(Mutation("PATCH", f"/apis/apps/v1/namespaces/ml-prod/deployments/part-{i}/scale",
                                 summary=f"call {i}") for i in range(8)),
        before={"replicas": "3", "hpa min": "2", "hpa max": "20"},
        after={"replicas": "9", "hpa min": "9", "hpa max": "20"},
        warnings=tuple(PlanWarning(f"w{i}", f"warning number {i}: the autoscaler owns the replica count and "
                                   "will move it back within its bounds") for i in range(6)),
    )


async def test_a_long_preview_at_80x24_keeps_its_title_table_and_keys_on_screen():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fleet is not None)
        app.push_screen(PreviewScreen(long_plan()))
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        await pilot.pause()
        shown = visible_text(app)
        assert "scale to 9 · prod-a/ml-prod/property-valuation-model" in shown  # the title
        for row in (r"hpa max\s*20\s*→\s*20", r"hpa min\s*2\s*→\s*9", r"replicas\s*3\s*→\s*9"):
            assert re.search(row, shown), shown
        assert "y: apply   esc: cancel" in shown, shown
        # The long parts scroll instead: the last call is below the fold, reachable.
        assert "call 7" not in shown
        details = app.screen.query_one("#preview-details")
        assert details.max_scroll_y > 0
