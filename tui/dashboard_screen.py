"""The dashboard's screen: Textual's own, minus one restyle at start-up.

Textual sends every screen a `ScreenResume` as it becomes current, and by default the screen then
styles every node again. For the first screen that comes as the app starts, a moment after each node
was styled as it mounted, so it is the same work twice: about 44 M of the app's 1,540 M instructions to
its first frame (bench/startup.py). Later resumes are left as Textual sends them (a screen popped off
the dashboard asks for no restyle; a screen switch does).
"""

from __future__ import annotations

from textual import events
from textual.screen import Screen


class DashboardScreen(Screen):
    def __init__(self) -> None:
        super().__init__(id="_default")  # the id Textual gives its default screen
        self.resumed = False

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Textual's own handler (a subclass's handlers come first), which reads the flag.
        if not self.resumed:
            self.resumed = True
            event.refresh_styles = False
