"""The served files live in the repository's top-level static/ folder; the wheel carries them inside
the package, as app/static, so an installed Tremplin finds them next to its code whatever the
working directory (app/settings.py). The editable install of development and tests reads static/
in the source tree. Everything else is declared in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithStatic(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = Path(__file__).resolve().parent / "static"
        target = Path(self.build_lib) / "app" / "static"
        shutil.copytree(source, target, dirs_exist_ok=True)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        source = Path(__file__).resolve().parent / "static"
        target = Path(self.build_lib) / "app" / "static"
        return outputs + [str(target / p.relative_to(source)) for p in source.rglob("*") if p.is_file()]


setup(cmdclass={"build_py": BuildPyWithStatic})
