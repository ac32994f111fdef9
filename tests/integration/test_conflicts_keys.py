"""The reproduction from issue 13, key by key: preview `s` on rent-predictor-stable 3 → 5, a colleague
runs `kubectl scale --replicas=4`, the operator presses `y`. Nothing is forced: a new preview says what
changed, kubectl still shows 4, and only the operator's second `y` makes it 5. The audit line and the
Kubernetes Event never claim the Deployment held 3 when the call reached it."""

from __future__ import annotations

import json

from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.sources import build_fleet
from tests.integration.test_operator_keys import (  # noqa: F401 (demo: the simulated fleet fixture)
    audit_lines,
    confirm_once,
    demo,
    kubectl,
    screen_is,
    select,
    settings_for,
)
from tests.tui.conftest import until, visible_text

CHANGED = "replicas 3 → 4 (changed by someone else since your preview)"


async def test_scale_confirmed_after_a_colleagues_kubectl_scale_shows_a_new_preview_and_forces_nothing(
        demo, tmp_path):  # noqa: F811 (the imported fixture)
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "rent-predictor-stable")
        await pilot.press("s")
        await screen_is(pilot, app, "ScaleDialog")
        await pilot.press("5", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        first_preview = app.screen
        kubectl(demo, "scale", "deployment", "rent-predictor-stable", "-n", "ml-prod", "--replicas=4")

        await pilot.press("y")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen" and app.screen is not first_preview,
                    timeout=60)
        # The new preview opens with the note (wrapped to the dialog's width on screen) and shows 4 → 5.
        assert app.screen.note.startswith(f"The object changed since your preview: {CHANGED}")
        await until(pilot, lambda: "replicas 3 → 4" in visible_text(app), timeout=10)
        assert app.screen.plan.before == {"replicas": "4"} and app.screen.plan.after == {"replicas": "5"}
        assert kubectl(demo, "get", "deploy", "rent-predictor-stable", "-n", "ml-prod", "-o",
                       "jsonpath={.spec.replicas}") == "4"  # the colleague's count stands
        conflict = audit_lines(tmp_path)[-1]
        assert conflict["result"] == "conflict" and conflict["before"] == {"replicas": "4"}
        assert conflict["previewed"] == {"replicas": "3"} and CHANGED in conflict["detail"]
        events = json.loads(kubectl(demo, "get", "events", "-n", "ml-prod", "-o", "json"))["items"]
        ours = [e for e in events if e.get("reason") == "MlopsTuiAction"
                and e["involvedObject"]["name"] == "rent-predictor-stable"]
        assert ours and CHANGED in ours[-1]["message"] and "3 → 5" not in ours[-1]["message"]

        outcome = await confirm_once(pilot, app)
        assert "succeeded" in outcome, audit_lines(tmp_path)[-1]
        assert kubectl(demo, "get", "deploy", "rent-predictor-stable", "-n", "ml-prod", "-o",
                       "jsonpath={.spec.replicas}") == "5"
        applied = audit_lines(tmp_path)[-1]
        assert applied["result"] == "succeeded" and applied["before"] == {"replicas": "4"}
