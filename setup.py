"""Packaging that pyproject.toml cannot say: which packages the wheel holds.

``templates/`` and ``static/`` stay at the top of the repository, as the project's layout names
them, and ship inside the wheel as the data-only packages ``app._templates`` and
``app._static``: the ``package_dir`` mapping below makes setuptools take their files from those
folders. An installed app finds them by import (``importlib.resources``, in
``app/web/settings.py``); a source tree (an editable install, a git worktree) serves its own.

Why a mapping and not ``data-files``: data files land under ``sys.prefix/share``, a place that
differs between a venv, ``--user`` and ``--prefix`` installs and that the app would have to
guess or record at build time; files inside the package are found wherever it is imported from.
Why this file: pyproject.toml cannot combine ``packages.find`` (every ``app.*`` package,
found without listing them, so a new package cannot be left out of the wheel) with packages
mapped from other folders. Everything else, package data included, is in pyproject.toml.
"""

from setuptools import find_packages, setup

#: package name -> the folder its files come from
DATA_PACKAGES = {"app._templates": "templates", "app._static": "static"}

setup(
    packages=[*find_packages(include=["app", "app.*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
)
