"""Browser tests: JupyterLab in headless Chromium through Playwright (``-m browser``)."""
