"""Runtime hook: transformers' auto_docstring takes a model name from its source path with
`path.split(os.sep)[-3]`, which raises IndexError on the short relative paths modules have in
the frozen app (e.g. "transformers/processing_utils.py"), so `import sentence_transformers`
fails. After that one module loads, its get_model_name answers None (no model name) instead.
Nothing is imported at start-up; the patch applies when transformers is first used."""


def _install_transformers_path_patch() -> None:
    import importlib.abc
    import sys

    target = "transformers.utils.auto_docstring"

    def patch(module) -> None:  # type: ignore[no-untyped-def]
        original = module.get_model_name

        def get_model_name(obj):  # type: ignore[no-untyped-def]
            try:
                return original(obj)
            except IndexError:
                return None

        module.get_model_name = get_model_name

    class PatchingLoader(importlib.abc.Loader):
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner

        def create_module(self, spec):  # type: ignore[no-untyped-def]
            return self.inner.create_module(spec)

        def exec_module(self, module) -> None:  # type: ignore[no-untyped-def]
            self.inner.exec_module(module)
            patch(module)

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.inner, name)  # get_source, get_code, get_filename…

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target_module=None):  # type: ignore[no-untyped-def]
            if name != target:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target_module)
                if spec is not None and spec.loader is not None:
                    spec.loader = PatchingLoader(spec.loader)
                    return spec
            return None

    sys.meta_path.insert(0, Finder())


_install_transformers_path_patch()
del _install_transformers_path_patch
