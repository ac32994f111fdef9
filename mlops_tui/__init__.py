"""mlops-tui: one import package for the repository's `tui/`, `backends/`, `themes/` and `sim/` folders.

The folders keep their short names in the repository; pyproject.toml's package-dir maps each under this
package (`mlops_tui.tui`, `mlops_tui.backends`, ...), so nothing generic lands at the top level of an
environment.
"""
