"""Build hook: packages are found, not listed (a hand-kept list once shipped a wheel without
``llmos.dream``), and the wheel carries the OS-root template (system/, agents/) as llmos/_template,
so `llmos init` works from an installed package. Editable installs read it from the checkout."""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
TEMPLATE = ("system", "agents")
PACKAGES = ["llmos"] + ["llmos." + name for name in find_packages(str(HERE / "kernel"))]


class BuildPyWithTemplate(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in TEMPLATE:
            shutil.copytree(
                HERE / name,
                Path(self.build_lib) / "llmos" / "_template" / name,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )


setup(packages=PACKAGES, cmdclass={"build_py": BuildPyWithTemplate})
