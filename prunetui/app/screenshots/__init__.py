"""Code that regenerates the SVG screenshots in screenshots/ from the real app: `python -m prunetui.app.screenshots`."""
