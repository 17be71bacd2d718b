"""The docs site's reference, written from the code it describes when `make docs` builds it.

Three generated tables cannot drift from the code: every environment variable of the settings
models (default, description, secret or not), every field of the fleet file (the model spec's
pydantic models) and every route of the inference server (its OpenAPI document).
`docs/hooks/reference.py` puts them where a page says `<!-- reference:NAME -->`.
"""

import json
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from mlops_assets.contracts.fleet import FleetSpec
from mlops_assets.serving.config import ServingSettings
from mlops_assets.settings import Settings, SharedSettings


@dataclass(frozen=True)
class SettingRow:
    """One environment variable as the configuration table shows it."""

    variables: tuple[str, ...]
    default: str
    description: str
    secret: bool


def variables_of(model: type[BaseSettings], name: str, field: FieldInfo) -> tuple[str, ...]:
    """The environment variables a settings field reads, first choice first."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (f"{model.model_config.get('env_prefix', '')}{name}".upper(),)


def _mentions(annotation: object, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_mentions(arg, kind) for arg in typing.get_args(annotation))


def _default_text(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined or value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, dict | list):
        value = json.dumps(value)
    elif isinstance(value, Path):
        value = f"./{value}"
    return f"`{value}`"


def setting_rows(model: type[BaseSettings], *, inherited: bool = False) -> list[SettingRow]:
    """A row per field of `model`; without `inherited`, only the fields it adds to its base."""
    own = model.model_fields
    if not inherited:
        base_fields = {n for base in model.__mro__[1:] for n in getattr(base, "model_fields", {})}
        own = {n: f for n, f in own.items() if n not in base_fields}
    return [
        SettingRow(
            variables_of(model, name, field),
            _default_text(field),
            (field.description or "").strip(),
            _mentions(field.annotation, SecretStr),
        )
        for name, field in own.items()
    ]


# Each table of the configuration page: its heading and the settings it lists.
SETTINGS_TABLES: tuple[tuple[str, type[BaseSettings], bool], ...] = (
    ("Pipeline and inference server (`SharedSettings`)", SharedSettings, True),
    ("Pipeline (`Settings`)", Settings, False),
    ("Inference server (`ServingSettings`, `MLOPS_SERVING_*`)", ServingSettings, False),
)


def undescribed_settings() -> list[str]:
    """The variables whose settings field has no description (the docs would show a blank)."""
    return [
        " / ".join(row.variables)
        for _, model, inherited in SETTINGS_TABLES
        for row in setting_rows(model, inherited=inherited)
        if not row.description
    ]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def configuration_markdown() -> str:
    """The configuration tables: variable, default, secret, description."""
    lines: list[str] = []
    for heading, model, inherited in SETTINGS_TABLES:
        lines += [
            f"### {heading}",
            "",
            "| variable | default | secret | meaning |",
            "|---|---|---|---|",
        ]
        for row in setting_rows(model, inherited=inherited):
            names = ", else ".join(f"`{v}`" for v in row.variables)
            secret = "yes" if row.secret else ""
            lines.append(
                f"| {names} | {_cell(row.default)} | {secret} | {_cell(row.description)} |"
            )
        lines.append("")
    return "\n".join(lines)


def _type_text(annotation: object, link: Callable[[type[BaseModel]], str]) -> str:
    """A field's type in words: literals as their values, models as links to their table."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(args[0], link)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a, link) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_text(args[0], link)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return link(annotation)
    return getattr(annotation, "__name__", str(annotation))


def _models_under(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """`model` and every model its fields hold, each once, in the order they first appear."""
    seen: list[type[BaseModel]] = []

    def visit(annotation: object) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(model)
    return iter(seen)


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


# The bounds pydantic keeps in a field's metadata, as the fleet reference words them.
RULES = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "min_length": "at least", "pattern": "matches"}


def _rules_text(field: FieldInfo) -> str:
    rules = []
    for item in field.metadata:
        for attr, word in RULES.items():
            value = getattr(item, attr, None)
            if value is not None:
                rules.append(f"{word} `{value}`")
    return ", ".join(rules)


def undescribed_fields(root: type[BaseModel] = FleetSpec) -> list[str]:
    """`Model.field` for every field of the fleet file that has no description."""
    return [
        f"{model.__name__}.{name}"
        for model in _models_under(root)
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]


def fleet_markdown(root: type[BaseModel] = FleetSpec) -> str:
    """A table per model of the fleet file (field, type, default, rules, description)."""
    lines: list[str] = []
    for model in _models_under(root):
        doc = " ".join((model.__doc__ or "").split())
        lines += [f"### `{model.__name__}` {{#{_anchor(model)}}}", "", doc, ""]
        lines += ["| field | type | default | rules | meaning |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            kind = _type_text(field.annotation, lambda m: f"[`{m.__name__}`](#{_anchor(m)})")
            default = "required" if field.is_required() else _default_text(field)
            if field.default_factory is not None and not isinstance(
                field.get_default(call_default_factory=True), list | dict
            ):
                default = "its defaults"
            description = _cell(field.description or "")
            rules = _cell(_rules_text(field))
            lines.append(f"| `{name}` | {kind} | {default} | {rules} | {description} |")
        lines.append("")
    return "\n".join(lines)


def _schema_text(schema: dict) -> str:
    """A JSON schema in a few words: its type or reference, and its bounds."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_schema_text(s) for s in schema["anyOf"])
    if "enum" in schema or "const" in schema:
        return " \\| ".join(f"`{v}`" for v in schema.get("enum", [schema.get("const")]))
    kind = schema.get("type", "any")
    if kind == "array":
        items = _schema_text(schema.get("items", {}))
        kind = f"array of ({items})" if " or " in items else f"array of {items}"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        kind = f"object of {_schema_text(schema['additionalProperties'])}"
    bounds = [
        f"{key} {schema[key]}"
        for key in ("minimum", "maximum", "minItems", "maxItems", "maxLength", "pattern")
        if key in schema
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _operation_lines(method: str, path: str, operation: dict) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    for key in ("summary", "description"):
        if operation.get(key):
            lines += [operation[key].strip(), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | required | type | meaning |", "|---|---|---|---|---|"]
        for p in parameters:
            required = "yes" if p.get("required") else ""
            schema = _schema_text(p.get("schema", {}))
            meaning = _cell(p.get("description", ""))
            lines.append(f"| `{p['name']}` | {p['in']} | {required} | {schema} | {meaning} |")
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        lines += [f"Request body ({media}): {_schema_text(content.get('schema', {}))}", ""]
    lines += ["| status | meaning | body |", "|---|---|---|"]
    for code, response in operation.get("responses", {}).items():
        bodies = [
            f"{media}: {_schema_text(c.get('schema', {}))}"
            for media, c in response.get("content", {}).items()
        ]
        lines.append(f"| {code} | {_cell(response.get('description', ''))} | {'; '.join(bodies)} |")
    return [*lines, ""]


def http_api_markdown(openapi: dict) -> str:
    """Every route of an OpenAPI document and every schema its bodies use, as tables."""
    lines = [f"{openapi['info']['title']}, API version {openapi['info']['version']}.", ""]
    lines += ["## Routes", ""]
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            lines += _operation_lines(method, path, operation)
    lines += ["## Bodies", ""]
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        lines += [f"### `{name}` {{#{name.lower()}}}", ""]
        if schema.get("description"):
            lines += [_cell(schema["description"]), ""]
        properties = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", []))
            lines += ["| field | type | required | meaning |", "|---|---|---|---|"]
            for prop, sub in properties.items():
                need = "yes" if prop in required else ""
                meaning = _cell(sub.get("description", ""))
                lines.append(f"| `{prop}` | {_schema_text(sub)} | {need} | {meaning} |")
            lines.append("")
    return "\n".join(lines)


def server_openapi() -> dict:
    """The inference server's OpenAPI document with every setting at its default (the
    environment does not change the page)."""
    from mlops_assets.tools.cli import stderr_silenced

    # The server's imports only when asked; TensorFlow's C++ banner is no part of a docs build.
    with stderr_silenced():
        from mlops_assets.serving.app import create_app

    return create_app(ServingSettings.model_construct()).openapi()


# What a page may ask for: `<!-- reference:NAME -->` is replaced by REFERENCES[NAME]().
REFERENCES: dict[str, Callable[[], str]] = {
    "configuration": configuration_markdown,
    "fleet": fleet_markdown,
    "http-api": lambda: http_api_markdown(server_openapi()),
}
