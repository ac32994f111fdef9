"""Themes: Textual Theme objects and .tcss files. No colour literal lives in Python code outside this package."""
