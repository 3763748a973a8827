"""The app's panels, each named for what it shows."""
