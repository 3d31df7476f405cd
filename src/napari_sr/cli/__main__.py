"""``python -m napari_sr.cli``: the ``napari-sr`` command without its console script."""

import sys

from ._main import main

if __name__ == "__main__":  # importing this module (pkgutil.walk_packages) runs nothing
    sys.exit(main())
