"""Screens: help, prompts, service detail and the action dialogs."""
