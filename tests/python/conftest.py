# The Python tests import the repository's tools and scripts by path, as the scripts themselves
# do, so they run from any folder: /usr/bin/python3 -m pytest tests/python
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for folder in ("tools", "scripts"):
    path = os.path.join(ROOT, folder)
    if path not in sys.path:
        sys.path.insert(0, path)
