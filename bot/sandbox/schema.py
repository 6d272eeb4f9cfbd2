"""The official Bot API schema and the checks the fake Telegram applies to every call."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "ApiSchema",
    "EntityParseError",
    "FieldSpec",
    "MethodSpec",
    "Problem",
    "TypeSpec",
    "check_call",
    "decode_params",
    "load_schema",
    "parse_html",
    "render_text",
    "utf16_len",
    "validate_call",
    "validate_object",
    "validate_value",
]

SCHEMA_FILE = "telegram_api.json"
ARRAY_OF = "Array of "
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})

# Only the pieces of a union that name a discriminator carry a constant, e.g.
# BotCommandScopeChat.type is documented as "Scope type, must be chat".
_CONSTANT_RE = re.compile(r"(?:must be|always)\s+[\"“]?([A-Za-z0-9_\-]+)[\"”]?\s*(?:$|[.,;])")
_DISCRIMINATORS = ("type", "source", "status")
_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_ATTACH = "attach://"

# Sub-second long polling keeps tests fast; real Telegram only takes whole seconds.
_RELAXED_TYPES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("getUpdates", "timeout"): ("Float",),
}

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One parameter of a method or one field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A Bot API method."""

    name: str
    fields: Mapping[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A Bot API type: an object with fields, or a union of subtypes."""

    name: str
    fields: Mapping[str, FieldSpec]
    subtypes: tuple[str, ...]
    constants: Mapping[str, str]
    # Checked on every object: scanning all of a Message's ~80 fields for these cost the most.
    required: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiSchema:
    """The whole Bot API: methods by exact name and types by name."""

    version: str
    methods: Mapping[str, MethodSpec]
    types: Mapping[str, TypeSpec]
    methods_by_lower_name: Mapping[str, MethodSpec]

    def method(self, name: str) -> MethodSpec | None:
        """Look a method up case-insensitively, as Telegram does."""
        return self.methods_by_lower_name.get(name.lower())


@dataclass(frozen=True, slots=True)
class Problem:
    """A reason Telegram would refuse a call: for humans and for the 400 description."""

    message: str
    api_error: str


class EntityParseError(ValueError):
    """Text is not valid under Telegram's HTML rules; str() is Telegram's wording."""


def _fields(raw: Mapping[str, Any]) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(
            name=f["name"],
            types=tuple(f["types"]),
            required=bool(f["required"]),
            description=f.get("description", ""),
        )
        for f in raw.get("fields", [])
    }


def _constants(fields: Mapping[str, FieldSpec]) -> dict[str, str]:
    constants = {}
    for name in _DISCRIMINATORS:
        spec = fields.get(name)
        if spec is None:
            continue
        match = _CONSTANT_RE.search(spec.description)
        if match:
            constants[name] = match.group(1)
    return constants


@functools.cache
def load_schema() -> ApiSchema:
    """Load the bundled Bot API spec (PaulSonOfLars/telegram-bot-api-spec) once."""
    package = __name__.rpartition(".")[0]
    text = resources.files(package).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    raw = json.loads(text)
    methods = {
        name: MethodSpec(name=name, fields=_fields(spec), returns=tuple(spec.get("returns", ())))
        for name, spec in raw["methods"].items()
    }
    types = {}
    for name, spec in raw["types"].items():
        fields = _fields(spec)
        types[name] = TypeSpec(
            name=name,
            fields=fields,
            subtypes=tuple(spec.get("subtypes", ())),
            constants=_constants(fields),
            required=tuple(field_name for field_name, f in fields.items() if f.required),
        )
    return ApiSchema(
        version=str(raw.get("version", "")),
        methods=methods,
        types=types,
        methods_by_lower_name={name.lower(): spec for name, spec in methods.items()},
    )


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _describe(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{type(value).__name__} {shown}"


def _maybe_json(value: Any) -> Any:
    """Decode a JSON-looking string (form-encoded complex parameter); otherwise return as-is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Checker:
    """Structural checks of values against Bot API type expressions."""

    def __init__(self, schema: ApiSchema) -> None:
        self.schema = schema

    def is_object_type(self, type_expr: str) -> bool:
        return type_expr.startswith(ARRAY_OF) or type_expr in self.schema.types

    def check(self, value: Any, type_expr: str, path: str, *, top: bool) -> list[str]:
        if top and self.is_object_type(type_expr):
            value = _maybe_json(value)
        if type_expr.startswith(ARRAY_OF):
            if not isinstance(value, list):
                return [f"{path}: expected {type_expr}, got {_describe(value)}"]
            inner = type_expr[len(ARRAY_OF) :]
            problems: list[str] = []
            for index, item in enumerate(value):
                problems += self.check(item, inner, f"{path}[{index}]", top=False)
            return problems
        if self._primitive_fits(value, type_expr, top=top):
            return []
        if type_expr in ("Integer", "Float", "String", "Boolean", "InputFile"):
            return [f"{path}: expected {type_expr}, got {_describe(value)}"]
        spec = self.schema.types.get(type_expr)
        if spec is None:
            # The spec occasionally names types it never defines; nothing to check against.
            return []
        if spec.subtypes:
            return self.check_union(value, spec.subtypes, path, top=False)
        if not isinstance(value, dict):
            return [f"{path}: expected {type_expr} object, got {_describe(value)}"]
        return self._check_object(spec, value, path)

    def _check_object(self, spec: TypeSpec, value: dict[str, Any], path: str) -> list[str]:
        problems = [
            f"{path}: missing required field '{name}' of {spec.name}"
            for name in spec.required
            if name not in value
        ]
        for key, item in value.items():
            field = spec.fields.get(key)
            if field is None:
                problems.append(f"{path}: unknown field '{key}' for {spec.name}")
                continue
            problems += self.check_union(item, field.types, f"{path}.{key}", top=False)
        for key, constant in spec.constants.items():
            actual = value.get(key)
            if isinstance(actual, str) and actual != constant:
                problems.append(
                    f"{path}.{key}: must be '{constant}' for {spec.name}, got '{actual}'"
                )
        return problems

    @staticmethod
    def _primitive_fits(value: Any, type_expr: str, *, top: bool) -> bool:
        # Numbers may arrive as strings (form encoding; Telegram also accepts them in JSON).
        if type_expr == "Integer":
            if isinstance(value, bool):
                return False
            return isinstance(value, int) or (isinstance(value, str) and bool(_INT_RE.match(value)))
        if type_expr == "Float":
            if isinstance(value, bool):
                return False
            if isinstance(value, int | float):
                return math.isfinite(value)
            return isinstance(value, str) and bool(_FLOAT_RE.match(value.strip()))
        if type_expr == "String":
            if isinstance(value, str):
                return True
            # Top-level values are form fields, so a number is just its decimal string.
            return top and isinstance(value, int | float) and not isinstance(value, bool)
        if type_expr == "Boolean":
            if isinstance(value, bool):
                return True
            return top and isinstance(value, str) and value.lower() in _TRUE | _FALSE
        if type_expr == "InputFile":
            return isinstance(value, str)
        return False

    def check_union(self, value: Any, types: Collection[str], path: str, *, top: bool) -> list[str]:
        types = tuple(types)
        if len(types) == 1:
            return self.check(value, types[0], path, top=top)
        attempts: list[tuple[float, int, list[str]]] = []
        for type_expr in types:
            problems = self.check(value, type_expr, path, top=top)
            if not problems:
                return []
            attempts.append((self.distance(value, type_expr, top=top), len(problems), problems))
        distance, _, problems = min(attempts, key=lambda attempt: (attempt[0], attempt[1]))
        if math.isinf(distance):
            return [f"{path}: expected {' or '.join(types)}, got {_describe(value)}"]
        return problems

    def distance(self, value: Any, type_expr: str, *, top: bool) -> float:
        """How badly the value's shape misses an object type, to pick the intended union member."""
        if top and self.is_object_type(type_expr):
            value = _maybe_json(value)
        if type_expr.startswith(ARRAY_OF):
            return 0 if isinstance(value, list) else math.inf
        spec = self.schema.types.get(type_expr)
        if spec is None:
            return math.inf
        if spec.subtypes:
            return min(self.distance(value, sub, top=False) for sub in spec.subtypes)
        if not isinstance(value, dict):
            return math.inf
        missing = sum(1 for n, f in spec.fields.items() if f.required and n not in value)
        unknown = sum(1 for key in value if key not in spec.fields)
        wrong_constant = sum(
            1
            for key, constant in spec.constants.items()
            if isinstance(value.get(key), str) and value[key] != constant
        )
        return missing + unknown + 10 * wrong_constant


def _attach_references(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value.startswith(_ATTACH):
            yield value[len(_ATTACH) :]
    elif isinstance(value, list):
        for item in value:
            yield from _attach_references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _attach_references(item)


def _field_types(method: str, field: FieldSpec) -> tuple[str, ...]:
    return _RELAXED_TYPES.get((method, field.name), field.types)


def _coerce(value: Any, types: Collection[str], schema: ApiSchema) -> Any:
    if isinstance(value, str):
        for type_expr in types:
            if type_expr == "Integer" and _INT_RE.match(value):
                return int(value)
            if type_expr == "Float" and _FLOAT_RE.match(value.strip()):
                return float(value)
            if type_expr == "Boolean" and value.lower() in _TRUE | _FALSE:
                return value.lower() in _TRUE
            if type_expr.startswith(ARRAY_OF) or type_expr in schema.types:
                decoded = _maybe_json(value)
                if decoded is not value:
                    return decoded
        return value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and "String" in types and not {"Integer", "Float"} & set(types):
        return str(value)
    return value


def decode_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn form-encoded strings into the Python values the schema describes."""
    schema = load_schema()
    spec = schema.method(method)
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        field = spec.fields.get(key) if spec else None
        if spec is None or field is None:
            decoded[key] = value
        else:
            decoded[key] = _coerce(value, _field_types(spec.name, field), schema)
    return decoded


def check_call(
    method: str, params: Mapping[str, Any], files: Collection[str] = ()
) -> list[Problem]:
    """Everything wrong with a call, with Telegram's error wording for each problem."""
    schema = load_schema()
    spec = schema.method(method)
    if spec is None:
        return [Problem(f"unknown method '{method}'", "Not Found")]
    name = spec.name
    checker = _Checker(schema)
    problems: list[Problem] = []
    valid: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        field = spec.fields.get(key)
        if field is None:
            problems.append(
                Problem(f"{name}: unknown parameter '{key}'", f'unknown parameter "{key}"')
            )
            continue
        found = _check_param(checker, name, field, value, files)
        if found:
            problems += [Problem(f"{name}: {text}", f"invalid parameter {text}") for text in found]
        else:
            valid[key] = value
    for field in spec.fields.values():
        if field.required and params.get(field.name) is None and field.name not in files:
            api_error = f"{field.name} is empty"
            if field.name == "text":
                api_error = "message text is empty"
            problems.append(
                Problem(f"{name}: missing required parameter '{field.name}'", api_error)
            )
    decoded = decode_params(name, valid)
    problems += _check_limits(name, decoded, params)
    return problems


def _check_param(
    checker: _Checker, method: str, field: FieldSpec, value: Any, files: Collection[str]
) -> list[str]:
    types = _field_types(method, field)
    problems: list[str] = []
    for reference in _attach_references(_maybe_json(value)):
        if reference not in files:
            problems.append(f"{field.name}: attach://{reference} names no uploaded file part")
    if "InputFile" in types:
        if isinstance(value, str):
            return problems
        rest = tuple(t for t in types if t != "InputFile")
        if not rest:
            return [*problems, f"{field.name}: expected an uploaded file, got {_describe(value)}"]
        types = rest
    return problems + checker.check_union(value, types, field.name, top=True)


def validate_call(method: str, params: Mapping[str, Any], files: Collection[str] = ()) -> list[str]:
    """Human-readable problems with a call; empty when Telegram would accept it."""
    return [problem.message for problem in check_call(method, params, files)]


def validate_object(type_name: str, obj: Any) -> list[str]:
    """Problems with an object claimed to be of a Bot API type (recursively)."""
    schema = load_schema()
    if type_name not in schema.types:
        return [f"unknown type '{type_name}'"]
    return _Checker(schema).check(obj, type_name, type_name, top=False)


def validate_value(type_exprs: Collection[str], value: Any, path: str = "result") -> list[str]:
    """Problems with a value against a union of type expressions, e.g. a method's returns."""
    return _Checker(load_schema()).check_union(value, tuple(type_exprs), path, top=False)


# --- Telegram's real-world limits -----------------------------------------------------------


def _check_limits(method: str, params: Mapping[str, Any], raw: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    parse_mode = params.get("parse_mode")
    mode = parse_mode if isinstance(parse_mode, str) else None
    texts_checkable = True
    if mode and mode.lower() not in PARSE_MODES:
        problems.append(
            Problem(f"{method}: unsupported parse_mode {mode!r}", "unsupported parse_mode")
        )
        texts_checkable = False
    text = params.get("text")
    if method in ("sendMessage", "editMessageText") and texts_checkable:
        if isinstance(text, str):
            problems += _check_text(method, "text", text, mode, MAX_TEXT_LENGTH, empty_ok=False)
        elif method == "editMessageText" and "rich_message" not in raw and "text" not in raw:
            problems.append(
                Problem(f"{method}: neither text nor rich_message given", "message text is empty")
            )
    caption = params.get("caption")
    if isinstance(caption, str) and texts_checkable:
        problems += _check_text(method, "caption", caption, mode, MAX_CAPTION_LENGTH, empty_ok=True)
    too_long_answer = isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH
    if method == "answerCallbackQuery" and isinstance(text, str) and too_long_answer:
        problems.append(
            Problem(
                f"{method}: text is {len(text)} characters; Telegram allows at most "
                f"{MAX_CALLBACK_ANSWER_LENGTH}",
                "MESSAGE_TOO_LONG",
            )
        )
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list):
        problems += _check_inline_keyboard(method, markup["inline_keyboard"])
    return problems


def _check_text(
    method: str, name: str, text: str, parse_mode: str | None, limit: int, *, empty_ok: bool
) -> list[Problem]:
    try:
        plain, _ = render_text(text, parse_mode)
    except EntityParseError as exc:
        return [
            Problem(
                f"{method}: {name} is not valid Telegram HTML: {exc}",
                f"can't parse entities: {exc}",
            )
        ]
    if not plain and not empty_ok:
        return [Problem(f"{method}: {name} is empty after entity parsing", "message text is empty")]
    if len(plain) > limit:
        too_long = "message caption is too long" if name == "caption" else "message is too long"
        return [
            Problem(
                f"{method}: {name} is {len(plain)} characters after entity parsing; "
                f"Telegram allows at most {limit}",
                too_long,
            )
        ]
    return []


def _check_inline_keyboard(method: str, rows: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    count = 0
    for r, row in enumerate(rows):
        if not isinstance(row, list):
            continue
        for c, button in enumerate(row):
            if not isinstance(button, dict):
                continue
            count += 1
            where = f"{method}: reply_markup.inline_keyboard[{r}][{c}]"
            data = button.get("callback_data")
            if isinstance(data, str):
                size = len(data.encode("utf-8"))
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    problems.append(
                        Problem(
                            f"{where}.callback_data is {size} bytes; Telegram allows "
                            f"1-{MAX_CALLBACK_DATA_BYTES} bytes",
                            "BUTTON_DATA_INVALID",
                        )
                    )
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if not actions:
                problems.append(
                    Problem(
                        f"{where} ({button.get('text')!r}) has no action such as callback_data "
                        "or url",
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard",
                    )
                )
            elif len(actions) > 1:
                problems.append(
                    Problem(
                        f"{where} ({button.get('text')!r}) has several actions: {actions}",
                        "can't parse inline keyboard button: exactly one of the optional fields "
                        "must be used",
                    )
                )
    if count > MAX_INLINE_BUTTONS:
        problems.append(
            Problem(
                f"{method}: inline keyboard has {count} buttons; Telegram allows at most "
                f"{MAX_INLINE_BUTTONS}",
                "REPLY_MARKUP_TOO_LONG",
            )
        )
    return problems


# --- Telegram HTML, following tdlib's parse_html ---------------------------------------------

_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# tdlib's is_space also stops on the terminating NUL, which is the end of the string here.
_SPACES = frozenset(" \t\r\n\v\0")


@dataclass(slots=True)
class _OpenTag:
    name: str
    attributes: dict[str, str]
    offset: int
    byte_offset: int
    pre_language: str = ""


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, pos: int) -> tuple[str | None, int]:
    """Decode &name; or &#NN; at pos; unsupported references stay literal text, like tdlib."""
    end = pos + 1
    n = len(text)
    if end < n and text[end] == "#":
        end += 1
        code = 0
        if end < n and text[end] == "x":
            end += 1
            while end < n and text[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(text[end], 16)
                end += 1
                if code >= 0x10FFFF:
                    return None, pos
        else:
            while end < n and text[end].isascii() and text[end].isdigit():
                code = code * 10 + int(text[end])
                end += 1
                if code >= 0x10FFFF:
                    return None, pos
        if code == 0 or end - pos >= 10 or 0xD800 <= code <= 0xDFFF:
            return None, pos
        char = chr(code)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None, pos
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


_MARKUP = re.compile("[&<]")


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts (UTF-16 offsets)."""
    out: list[str] = []
    offset = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            decoded, end = _decode_entity(text, i)
            if decoded is not None:
                out.append(decoded)
                offset += utf16_len(decoded)
                i = end
                continue
        if char != "<":
            # A run of plain text at once: per character, this loop was most of the fake's
            # CPU per message in the paid-broadcast benchmark.
            match = _MARKUP.search(text, i + 1)
            end = match.start() if match else n
            run = text[i:end]
            out.append(run)
            offset += len(run) if run.isascii() else utf16_len(run)
            i = end
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            i = _close_tag(text, begin, stack, entities, offset)
        else:
            i = _open_tag(text, begin, stack, offset)
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _open_tag(text: str, begin: int, stack: list[_OpenTag], offset: int) -> int:
    n = len(text)
    i = begin + 1
    while i < n and text[i] not in _SPACES and text[i] != ">":
        i += 1
    if i >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
    name = text[begin + 1 : i].lower()
    at = _byte_offset(text, begin)
    if name not in _SUPPORTED_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {at}')
    attributes: dict[str, str] = {}
    while i < n and text[i] != ">":
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            break
        if text[i] == ">":
            break
        attribute_begin = i
        while i < n and text[i] not in _SPACES and text[i] not in "=>":
            i += 1
        attribute = text[attribute_begin:i].lower()
        if not attribute:
            raise EntityParseError(f'Empty attribute name in the tag "{name}" at byte offset {at}')
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {at}')
        if text[i] != "=":
            if name == "blockquote" and attribute == "expandable":
                attributes[attribute] = ""
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{name}" at byte offset {at}'
            )
        i += 1
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {at}')
        value: list[str] = []
        if text[i] not in "'\"":
            token_begin = i
            while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                i += 1
            value.append(text[token_begin:i].lower())
            if i >= n or (text[i] not in _SPACES and text[i] != ">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(text, token_begin)}"
                )
        else:
            quote = text[i]
            i += 1
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded, end = _decode_entity(text, i)
                    if decoded is not None:
                        value.append(decoded)
                        i = end
                        continue
                value.append(text[i])
                i += 1
            if i < n:
                i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        attributes[attribute] = "".join(value)
    if i >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {at}")
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    stack.append(_OpenTag(name=name, attributes=attributes, offset=offset, byte_offset=at))
    return i


def _close_tag(
    text: str,
    begin: int,
    stack: list[_OpenTag],
    entities: list[dict[str, Any]],
    offset: int,
) -> int:
    n = len(text)
    at = _byte_offset(text, begin)
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {at}")
    i = begin + 2
    while i < n and text[i] not in _SPACES and text[i] != ">":
        i += 1
    end_name = text[begin + 2 : i].lower()
    while i < n and text[i] in _SPACES:
        i += 1
    if i >= n or text[i] != ">":
        raise EntityParseError(f"Unclosed end tag at byte offset {at}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {at}, expected "</{tag.name}>", '
            f'found "</{end_name}>"'
        )
    length = offset - tag.offset
    if length <= 0:
        return i
    entity = _entity_for(tag, stack)
    if entity is not None:
        entity.update(offset=tag.offset, length=length)
        entities.append(entity)
    return i


def _entity_for(tag: _OpenTag, stack: list[_OpenTag]) -> dict[str, Any] | None:
    attrs = tag.attributes
    if tag.name == "code" and stack and stack[-1].name == "pre":
        # <pre><code class="language-x"> is one pre entity carrying the language.
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].pre_language = language[len("language-") :]
        return None
    if tag.name == "pre":
        entity: dict[str, Any] = {"type": "pre"}
        if tag.pre_language:
            entity["language"] = tag.pre_language
        return entity
    if tag.name == "a":
        href = attrs.get("href", "")
        return {"type": "text_link", "url": href} if href else None
    if tag.name == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if tag.name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        return {"type": "custom_emoji", "custom_emoji_id": emoji_id} if emoji_id else None
    if tag.name == "tg-time":
        unix = attrs.get("unix", "")
        if not _INT_RE.match(unix):
            return None
        entity = {"type": "date_time", "unix_time": int(unix)}
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
        return entity
    return {"type": _ENTITY_TYPES[tag.name]}


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like Telegram does, keeping entity offsets consistent."""
    stripped = text.strip()
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def render_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The text and entities Telegram would store for a message (Markdown is left as-is)."""
    if parse_mode and parse_mode.lower() == "html":
        plain, found = parse_html(text)
        return _strip(plain, found)
    return _strip(text, list(entities or []))
