"""Browser tests: the real app under `streamlit run`, driven by headless Chromium (Playwright).

Run with ``python -m pytest -q -m browser tests/browser``. Needs Debian's ``/usr/bin/chromium``
(``apt-get install -y chromium``); Playwright's own browser download is not used.
"""
