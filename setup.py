"""Build hook: the wheel carries the OS-root template (system/, agents/) as llmos/_template, so
`llmos init` works from an installed package. Editable installs read it from the checkout."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TEMPLATE = ("system", "agents")


class BuildPyWithTemplate(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for name in TEMPLATE:
            shutil.copytree(here / name, Path(self.build_lib) / "llmos" / "_template" / name,
                            dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithTemplate})
