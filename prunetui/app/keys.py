"""The keys of the app and of its main screen, in one list: the footer, Help and the command palette show them in
this order."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding, BindingsMap

# In the footer's order of importance: the keys that do not fit a narrow terminal are left out from the end. At 80
# columns Quit to Help fit: Presets, for a new user, and the four screens (F3-F6); Form (F8: a small terminal folds
# the form by itself while a run goes) and the rest are in Help and the palette.
KEYS: list[Binding] = [
    Binding("ctrl+r", "start", "Start", tooltip="Start a run with the settings in the form", priority=True),
    Binding("ctrl+t", "stop", "Stop", tooltip="Stop the run after the current batch", priority=True),
    Binding("f9", "choose_preset", "Presets", tooltip="Fill the form with a recipe from a paper"),
    Binding("f3", "open('runs')", "Runs", tooltip="Saved runs: compare their curves, export sizes"),
    Binding("f4", "open('sweep')", "Sweep", tooltip="Accuracy against sparsity for several methods"),
    Binding("f5", "open('sensitivity')", "Sensitivity", tooltip="Prune one layer at a time: which tolerate it"),
    Binding("f6", "open('weights')", "Weights", tooltip="A run's weights as a heat map, before and after"),
    Binding("f1", "help", "Help", tooltip="What the app does and its keys"),
    Binding("f8", "toggle_form", "Form", tooltip="Fold the settings away to see the whole run, or show them"),
    Binding("ctrl+q", "quit", "Quit", tooltip="Quit (asks first while a run is going)", priority=True),
    Binding("ctrl+s", "save_config", "Save", tooltip="Save the settings to a TOML file", priority=True),
    Binding("ctrl+o", "load_config", "Load", tooltip="Load settings from a TOML file", priority=True),
    Binding("f7", "reset_settings", "Defaults", tooltip="Put the default settings back into the form"),
    Binding("f2", "take_screenshot", "Screenshot", tooltip="Save an SVG screenshot in this folder"),
]
MAIN_SCREEN_ACTIONS = ("start", "stop", "save_config", "load_config", "reset_settings", "toggle_form", "choose_preset")
MAIN_SCREEN_KEYS = [binding for binding in KEYS if binding.action in MAIN_SCREEN_ACTIONS]
APP_KEYS = [binding for binding in KEYS if binding.action not in MAIN_SCREEN_ACTIONS]
# Textual lists a screen's keys before the app's; the footer keeps the order of one map of all the keys, where
# Textual's App declares ctrl+q (Quit) first.
FOOTER_ORDER = list(BindingsMap([*App.BINDINGS, *KEYS]).key_to_bindings)
