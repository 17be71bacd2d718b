"""The fleet: every model declared in one YAML file, loaded, cross-checked and ordered.

The package ships `fleet.yaml` beside this module; MLOPS_MODELS_FILE (`SharedSettings.models_file`)
names a replacement. A bad file fails with one `FleetFileError` whose message names the file,
and for each problem the model and the field.
"""

import graphlib
import io
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from mlops_assets.contracts.model_spec import FEATURE_SOURCES, RISK_FEATURE_SOURCES, ModelSpec

SHIPPED_FLEET_FILE = Path(__file__).with_name("fleet.yaml")
MAX_REPORTED_PROBLEMS = 5


class FleetFileError(ValueError):
    """A fleet file that cannot be used; the message names the file, the model and the field."""


def _model_error(model: str, field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "fleet_model",
        "model {model}, field {field}: {message}",
        {"model": repr(model), "field": field, "message": message},
    )


class FleetSpec(BaseModel):
    """Every model of the fleet, with names, registry names and routes unique and the upstream
    graph closed and acyclic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(default=1, description="Version of the fleet format.")
    models: list[ModelSpec] = Field(min_length=1, description="The declared models.")

    @model_validator(mode="after")
    def _cross_checks(self) -> "FleetSpec":
        for field in ("name", "registry_name", "serving_route"):
            counts = Counter(getattr(spec, field) for spec in self.models)
            for spec in self.models:
                if counts[getattr(spec, field)] > 1:
                    value = getattr(spec, field)
                    raise _model_error(spec.name, field, f"{value!r} is declared more than once")
        names = {spec.name for spec in self.models}
        for spec in self.models:
            unknown = [u for u in spec.upstream if u not in names]
            if unknown:
                raise _model_error(
                    spec.name,
                    "upstream",
                    f"unknown model {unknown[0]!r} (declared: {', '.join(sorted(names))})",
                )
        try:
            self.dependency_order()
        except graphlib.CycleError as error:
            cycle = list(reversed(error.args[1]))
            raise _model_error(cycle[0], "upstream", f"a cycle: {' -> '.join(cycle)}") from None
        for spec in self.models:
            _check_upstream_sources(spec, {m.name: m for m in self.models})
        return self

    @property
    def names(self) -> list[str]:
        """The models' names in file order."""
        return [spec.name for spec in self.models]

    def model(self, name: str) -> ModelSpec:
        """Returns the spec called `name`.

        Raises:
            KeyError: no such model in the fleet.
        """
        for spec in self.models:
            if spec.name == name:
                return spec
        raise KeyError(f"no model {name!r} in the fleet (declared: {', '.join(self.names)})")

    def dependency_order(self) -> list[str]:
        """Every model's name, each after its upstream models.

        Raises:
            graphlib.CycleError: the upstream declarations form a cycle.
        """
        graph = {spec.name: spec.upstream for spec in self.models}
        return list(graphlib.TopologicalSorter(graph).static_order())

    def downstream_of(self, name: str) -> list[str]:
        """The models that declare `name` as an upstream model, in file order."""
        return [spec.name for spec in self.models if name in spec.upstream]


def _check_upstream_sources(spec: ModelSpec, models: dict[str, ModelSpec]) -> None:
    """Every upstream of `spec` is a model whose champion's outputs a downstream can read,
    and the built-in risk trainer gets one upstream of each source its features need."""
    kinds: dict[str, str] = {}
    for upstream in spec.upstream:
        kind = models[upstream].source.kind
        if kind not in FEATURE_SOURCES:
            raise _model_error(
                spec.name,
                "upstream",
                f"upstream model {upstream!r} ({kind} source) has no feature reader: a "
                f"downstream model reads the champions of {', '.join(FEATURE_SOURCES)} models",
            )
        if kind in kinds:
            raise _model_error(
                spec.name,
                "upstream",
                f"upstream models {kinds[kind]!r} and {upstream!r} are both {kind} models; "
                "the features take one of each source",
            )
        kinds[kind] = upstream
    if spec.trainer.builtin == "risk_logistic":
        missing = [kind for kind in RISK_FEATURE_SOURCES if kind not in kinds]
        if missing:
            raise _model_error(
                spec.name,
                "upstream",
                f"risk_logistic reads one upstream model of each of "
                f"{', '.join(RISK_FEATURE_SOURCES)}; none is {', '.join(missing)}",
            )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping (PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def parse_fleet(text: str, origin: str = "<text>") -> FleetSpec:
    """Reads a fleet from YAML text.

    Args:
        text: the YAML document.
        origin: what to call the text in error messages (usually its path).

    Raises:
        FleetFileError: not YAML, or not a valid fleet; the message names `origin`, and for
            each problem (at most five) the model and the field.
    """
    stream = io.StringIO(text)
    stream.name = origin  # PyYAML names it in the positions of its errors
    try:
        raw = yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        raise FleetFileError(f"fleet file {origin}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        kind = "nothing" if raw is None else f"a {type(raw).__name__}"
        raise FleetFileError(f"fleet file {origin}: expected a mapping with 'models', got {kind}")
    try:
        return FleetSpec.model_validate(raw)
    except ValidationError as error:
        problems = [_describe(e, raw) for e in error.errors(include_url=False)]
        shown = "; ".join(problems[:MAX_REPORTED_PROBLEMS])
        more = len(problems) - MAX_REPORTED_PROBLEMS
        suffix = f" (and {more} more)" if more > 0 else ""
        raise FleetFileError(f"fleet file {origin}: {shown}{suffix}") from None


def load_fleet(path: Path | None = None) -> FleetSpec:
    """Loads the fleet file.

    Args:
        path: the file (`SharedSettings().models_file`, from MLOPS_MODELS_FILE); None: the
            fleet shipped with the package.

    Raises:
        FleetFileError: the file is missing, unreadable or invalid.
    """
    path = path or SHIPPED_FLEET_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FleetFileError(f"fleet file {path}: cannot be read: {error}") from None
    return parse_fleet(text, str(path))


_MESSAGES = {
    "extra_forbidden": "unknown key (not a field of the spec)",
    "missing": "missing (required)",
}


def _describe(error: Any, raw: object) -> str:
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    if kind == "fleet_model":
        return error["msg"]
    model = None
    if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
        model = _model_name(raw, loc[1])
        loc = loc[2:]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    message = _MESSAGES.get(kind, error["msg"].removeprefix("Value error, "))
    if kind == "spec_field":
        field, message = f"{field}.{ctx['field']}", ctx["message"]
    field = field.lstrip(".") or "(whole entry)"
    return f"model {model!r}, field {field}: {message}" if model else f"field {field}: {message}"


def _model_name(raw: object, index: int) -> str:
    try:
        name = raw["models"][index]["name"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        name = None
    return name if isinstance(name, str) else f"#{index + 1} (no name)"
