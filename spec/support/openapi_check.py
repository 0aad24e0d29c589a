#!/usr/bin/env python3
"""Checks requests against the official OpenAPI description of the OpenAI
API, for spec/openapi_spec.lua (through spec/support/openapi.lua).

    python3 spec/support/openapi_check.py DESCRIPTION.yaml [--port-file PATH]
        [--exit-on-stdin-eof]
    python3 spec/support/openapi_check.py DESCRIPTION.yaml --check < record.json

Loads the description once (python3-yaml), then serves on 127.0.0.1 (port
0; the port goes to PATH through a rename): one JSON object a line in, one
a line out, on each connection (a thread each). In: a request as the fake
server records it, {method, path, query, header: {content-type}, body_b64, form:
[{name, filename, data_b64}] or null}. Out: {operation: its operationId or
null, errors: [text, ...]} (none: the request is valid). --check reads one
record from stdin and prints its answer.

What is checked (python3-jsonschema, draft 2020-12, as OpenAPI 3.1 says):
the operation of METHOD and the path after /v1; a JSON body against the
schema of its application/json requestBody; a multipart body's fields
against the schema of its multipart/form-data one; the query against the
operation's query parameters; no body where the operation takes none.

The description's quirks, and how each is read (never by dropping a check:
openapi_spec.lua shows that wrong bodies still fail):
  - `nullable: true` (OpenAPI 3.0; 3.1 ignores it, and then refuses the
    nulls the API takes): with a `type`, "null" joins the type (and null
    the enum); without one (beside anyOf, oneOf, $ref, or alone as a
    member of allOf) the schema becomes anyOf [itself, {type: null}].
  - `oneOf` whose members overlap (a user content-part list is both an
    EasyInputMessage and an InputMessage; a string model is both "any
    string" and one of the enum): JSON Schema's oneOf fails a value that
    more than one member takes. OpenAPI writes oneOf (with a discriminator)
    for "one of these kinds", so it is read as anyOf: a value no member
    takes still fails.
  - `exclusiveMinimum: true` beside `minimum` (OpenAPI 3.0's boolean
    form): 2020-12's `exclusiveMinimum: <minimum>`.
  - `$ref` everywhere, with siblings (3.1: both apply): resolved against
    the description itself (every schema is checked as {$ref, components}).
  - `required` naming a property the schema does not declare
    (LocalShellToolCallOutput's call_id, MCPApprovalResponse's request_id:
    the API's reference and the SDKs made from this description have no
    such fields, and the API refuses unknown ones): the name is dropped,
    unless the schema is a member of an allOf (another member may declare
    it).
  - YAML timestamps in examples: loaded as strings, as JSON has no dates.
  - discriminator, example, x-*: annotations, not checked.
  - Multipart fields are text: a field's text is read as the type its
    schema declares (an integer, a number, true/false) when it is not a
    string. Arrays and objects go as `name[]` and `name[key]` parts, and
    array query parameters as `name[]=v`: the style of the description's
    own examples (-F "timestamp_granularities[]=word", "include[]=...",
    parameters named include[]) and of the official SDKs. The description
    declares no `style` for them, so OpenAPI's default would be a repeated
    bare name; the API's examples say otherwise. A bare name where an array
    is declared is an error here.
"""

import base64
import heapq
import json
import os
import re
import socket
import sys
import threading
from urllib.parse import unquote


def give_up(text):
    """Says why the checker cannot start, in the port file too (the spec
    reads it there rather than waiting for a port), and exits."""
    sys.stderr.write("openapi_check.py: %s\n" % text)
    if "--port-file" in sys.argv[:-1]:
        pf = sys.argv[sys.argv.index("--port-file") + 1]
        with open(pf + ".tmp", "w") as f:
            f.write("error: %s\n" % text)
        os.replace(pf + ".tmp", pf)
    sys.exit(2)


try:
    import jsonschema
    import yaml
except ImportError as e:
    give_up("%s (Debian: python3-jsonschema and python3-yaml, which make deps installs)" % e)

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# ---------------------------------------------------------------------------
# Loading: YAML without timestamps


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    pass


# a copy of the resolvers without the timestamp one: dates stay strings
Loader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


# ---------------------------------------------------------------------------
# The quirks (see the top)

# keywords whose value is a schema, a list of them, or a map of them
ONE = ("additionalProperties", "items", "not", "if", "then", "else", "contains",
       "propertyNames", "unevaluatedProperties", "unevaluatedItems")
LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
MAP = ("properties", "patternProperties", "$defs", "dependentSchemas")
ANNOTATIONS = ("description", "title", "deprecated", "example", "examples", "default")


def only_nullable(s):
    return isinstance(s, dict) and s.get("nullable") is True and \
        all(k == "nullable" or k in ANNOTATIONS or k.startswith("x-") for k in s)


def fix(s, in_allof=False):
    """The 2020-12 reading of one OpenAPI schema (a new dict)."""
    if not isinstance(s, dict):
        return s
    s = dict(s)
    # required names the schema does not declare (outside an allOf, whose
    # other members may declare them)
    props, required = s.get("properties"), s.get("required")
    if not in_allof and isinstance(props, dict) and isinstance(required, list):
        s["required"] = [r for r in required if r in props]
    # allOf [X, {nullable: true}]: X or null (the lone member would say
    # nothing inside the allOf)
    if isinstance(s.get("allOf"), list) and any(only_nullable(m) for m in s["allOf"]):
        s["allOf"] = [m for m in s["allOf"] if not only_nullable(m)]
        s["nullable"] = True
    for k in ONE:
        if isinstance(s.get(k), dict):
            s[k] = fix(s[k])
    for k in LIST:
        if isinstance(s.get(k), list):
            s[k] = [fix(x, k == "allOf") for x in s[k]]
    for k in MAP:
        if isinstance(s.get(k), dict):
            s[k] = {name: fix(x) for name, x in s[k].items()}
    if "oneOf" in s:
        members = s.pop("oneOf")
        if "anyOf" in s:
            s["allOf"] = s.get("allOf", []) + [{"anyOf": members}]
        else:
            s["anyOf"] = members
    for k, mk in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if s.get(k) is True and mk in s:
            s[k] = s.pop(mk)
        elif s.get(k) is False:
            s.pop(k)
    if s.pop("nullable", None) is True:
        t = s.get("type")
        if isinstance(t, str):
            s["type"] = [t, "null"]
            if isinstance(s.get("enum"), list) and None not in s["enum"]:
                s["enum"] = s["enum"] + [None]
        elif isinstance(t, list):
            if "null" not in t:
                s["type"] = t + ["null"]
        else:
            keep = {k: v for k, v in s.items() if k in ANNOTATIONS}
            rest = {k: v for k, v in s.items() if k not in ANNOTATIONS}
            s = dict(keep, anyOf=[rest, {"type": "null"}])
    return s


class Description:
    def __init__(self, path):
        with open(path, "rb") as f:
            doc = yaml.load(f, Loader=Loader)
        comps = doc.get("components", {})
        self.components = {"schemas": {n: fix(s) for n, s in comps.get("schemas", {}).items()}}
        self.parameters = comps.get("parameters", {})
        self.ops = []                   # (method, regex, literal segments, op, path params)
        for template, item in doc.get("paths", {}).items():
            segs = template.strip("/").split("/")
            rx = re.compile("^/" + "/".join(
                "[^/]+" if x.startswith("{") else re.escape(x) for x in segs) + "$")
            lit = sum(1 for x in segs if not x.startswith("{"))
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    params = [self.param(p) for p in
                              item.get("parameters", []) + op.get("parameters", [])]
                    self.ops.append((method.upper(), rx, lit, op, params))
        self.ops.sort(key=lambda o: -o[2])       # /responses/input_tokens before /responses/{id}
        self.validators = {}

    def param(self, p):
        if "$ref" in p:
            return self.parameters[p["$ref"].rsplit("/", 1)[1]]
        return p

    def validator(self, schema):
        """A validator of one schema of the description (cached)."""
        key = json.dumps(schema, sort_keys=True)
        v = self.validators.get(key)
        if v is None:
            root = dict(fix(schema), components=self.components)
            root["$schema"] = DIALECT
            v = jsonschema.Draft202012Validator(root)
            self.validators[key] = v
        return v

    def schema_at(self, schema, path):
        """The schemas a value at path (keys, or None for an array element)
        may meet, under schema: $ref, allOf, anyOf followed."""
        out = []

        def walk(s, rest, depth=0):
            if not isinstance(s, dict) or depth > 40:
                return
            if "$ref" in s:
                name = s["$ref"].rsplit("/", 1)[1]
                walk(self.components["schemas"].get(name), rest, depth + 1)
            for k in ("allOf", "anyOf"):
                for m in s.get(k, []):
                    walk(m, rest, depth + 1)
            if not rest:
                out.append(s)
                return
            key, more = rest[0], rest[1:]
            if key is None:
                if isinstance(s.get("items"), dict):
                    walk(s["items"], more, depth + 1)
            else:
                props = s.get("properties", {})
                if key in props:
                    walk(props[key], more, depth + 1)
                elif isinstance(s.get("additionalProperties"), dict):
                    walk(s["additionalProperties"], more, depth + 1)
        walk(fix(schema), path)
        return out


# ---------------------------------------------------------------------------
# Form fields and query parameters -> a JSON value

NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
              list: "array", dict: "object"}


def typed(desc, schema, path, text):
    """text read as the type the schema declares at path (see the top)."""
    types = set()
    for s in desc.schema_at(schema, path):
        t = s.get("type")
        types.update(t if isinstance(t, list) else [t] if t else [])
        types.update(JSON_TYPES.get(type(x)) for x in s.get("enum", []))
    if not types or "string" in types:
        return text
    if types & {"integer", "number"}:
        for read in (int, float):
            try:
                return read(text)
            except ValueError:
                pass
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


def unflatten(desc, schema, pairs, where, errors):
    """[(name, text)] (name[]... and name[key]... as sent) -> a JSON object,
    each leaf typed by the schema; a bare name sent twice is an error."""
    out = {}
    for name, text in pairs:
        m = NAME.match(name)
        if not m:
            errors.append("%s %r: not a name, name[] or name[key]" % (where, name))
            continue
        keys = [m.group(1)] + [k[1:-1] for k in re.findall(r"\[[^\[\]]*\]", m.group(2))]
        path = [None if k == "" else k for k in keys]
        node = out
        for i, k in enumerate(path):
            last = i == len(path) - 1
            if k is None:
                if not isinstance(node, list):
                    errors.append("%s %r: [] on a value that is not a list" % (where, name))
                    break
                if last:
                    node.append(typed(desc, schema, path, text))
                else:
                    node.append([] if path[i + 1] is None else {})
                    node = node[-1]
                continue
            if not isinstance(node, dict):
                errors.append("%s %r: [key] on a list" % (where, name))
                break
            if last:
                if k in node:
                    errors.append("%s %r: sent twice" % (where, name))
                node[k] = typed(desc, schema, path, text)
            else:
                if k not in node:
                    node[k] = [] if path[i + 1] is None else {}
                node = node[k]
    return out


# ---------------------------------------------------------------------------
# One request

def where(err, root):
    s = root
    for p in err.absolute_path:
        s += "[%d]" % p if isinstance(p, int) else ".%s" % p
    return s


def short(v):
    s = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return s if len(s) <= 100 else s[:97] + "..."


RELEVANCE = jsonschema.exceptions.relevance


def kinds(desc, member, prop):
    """The values of prop that a member of a discriminated anyOf takes."""
    out = []
    for s in desc.schema_at(member, [prop]):
        out += s.get("enum", []) + ([s["const"]] if "const" in s else [])
    return out


def kind_of(e):
    """The property that names the kind of an object under an anyOf: the
    discriminator's, else "type"."""
    disc = e.schema.get("discriminator") if isinstance(e.schema, dict) else None
    return disc.get("propertyName") if isinstance(disc, dict) else "type"


def chosen(desc, e):
    """Under an anyOf of kinds of object: the members that take the kind
    the value says it is, or None when it says none; [] when no member
    takes it."""
    prop = kind_of(e)
    if e.validator != "anyOf" or not isinstance(e.instance, dict) or prop not in e.instance:
        return None
    return [i for i, m in enumerate(e.schema["anyOf"]) if e.instance[prop] in kinds(desc, m, prop)]


def member_name(e, m, name):
    """The name of member m of e's anyOf ($ref's), else name."""
    try:
        ref = e.schema["anyOf"][m].get("$ref")
    except (KeyError, IndexError, TypeError, AttributeError):
        ref = None
    return ref.rsplit("/", 1)[1] if ref else name


def leaves(desc, e, name=None):
    """The errors under e that say what is wrong, each with the name of the
    kind it was checked as: under an anyOf of kinds, those of the members
    of the value's kind; under another, those of the member that came
    closest (its errors lie deepest, as jsonschema's best_match reckons),
    all of them."""
    if not e.context:
        return [(e, name)]
    members = chosen(desc, e)
    if members == []:
        return [(e, name)]
    by_member = {}
    for c in e.context:
        m = c.relative_schema_path[0] if c.relative_schema_path else None
        by_member.setdefault(m, []).append(c)
    if not members:
        ranked = sorted(by_member, key=lambda m: min(RELEVANCE(c) for c in by_member[m]))
        best = [min(RELEVANCE(c) for c in by_member[m]) for m in ranked[:2]]
        if len(best) == 2 and best[0] == best[1]:
            return [(e, name)]          # no member came closer than another
        members = ranked[:1]
    out = [x for m in members for c in by_member.get(m, [])
           for x in leaves(desc, c, member_name(e, m, name))]
    return out or [(e, name)]


def message(desc, e):
    """jsonschema's message; for an anyOf of types (as nullable and 3.1's
    [X, null] make them), the types it takes; for one of kinds, that no
    member is of the value's kind."""
    ctx = e.context or []
    if e.validator == "anyOf" and ctx and \
            all(c.validator == "type" and not c.relative_path for c in ctx):
        types = []
        for c in ctx:
            v = c.validator_value
            types += v if isinstance(v, list) else [v]
        return "%r is not of type %s" % (e.instance, ", ".join(repr(t) for t in types))
    if chosen(desc, e) == []:
        return "no kind of value here has %s %r (the value: %s)" % (
            kind_of(e), e.instance.get(kind_of(e)), short(e.instance))
    return e.message


def explain(desc, validator, instance, root):
    """Each error, as what it comes down to, as text."""
    out = []
    for e in validator.iter_errors(instance):
        for leaf, kind in leaves(desc, e):
            msg = message(desc, leaf)
            if len(msg) > 200:
                msg = msg[:197] + "..."
            if leaf.validator not in ("required", "additionalProperties") and \
                    "(the value" not in msg:
                msg += " (the value: %s)" % short(leaf.instance)
            out.append("%s: %s%s" % (where(leaf, root), msg, " [as %s]" % kind if kind else ""))
    return sorted(set(out))


def check(desc, rec):
    method = rec.get("method", "")
    path = rec.get("path", "")
    path = path[3:] if path.startswith("/v1/") else path
    for m, rx, _, op, params in desc.ops:
        if m == method and rx.match(path):
            break
    else:
        return {"operation": None,
                "errors": ["no operation %s %s in the description" % (method, path)]}
    errors = []
    query_check(desc, params, rec.get("query") or "", errors)
    body = base64.b64decode(rec.get("body_b64") or "")
    ctype = (rec.get("header") or {}).get("content-type", "").split(";")[0].strip().lower()
    rb = op.get("requestBody")
    if rb is None:
        if body:
            errors.append("body: %s %s takes none, %d bytes sent" % (method, path, len(body)))
    elif not body and rec.get("form") is None:
        if rb.get("required"):
            errors.append("body: required, none sent")
    else:
        content = rb.get("content", {})
        if ctype not in content:
            errors.append("body: sent as %r, the operation takes %s"
                          % (ctype, ", ".join(sorted(content))))
        else:
            schema = content[ctype].get("schema", {})
            if ctype == "multipart/form-data":
                if rec.get("form") is None:
                    errors.append("body: not a multipart body that parses")
                pairs = [(p["name"], p["filename"] if p.get("filename") is not None
                          else base64.b64decode(p.get("data_b64") or "").decode("utf-8", "replace"))
                         for p in rec.get("form") or []]
                instance = unflatten(desc, schema, pairs, "form field", errors)
            else:
                try:
                    instance = json.loads(body)
                except ValueError as e:
                    errors.append("body: not JSON (%s)" % e)
                    return {"operation": op.get("operationId"), "errors": errors}
            errors += explain(desc, desc.validator(schema), instance, "body")
    return {"operation": op.get("operationId"), "errors": errors}


def query_check(desc, params, query, errors):
    declared = {p["name"]: p for p in params if p.get("in") == "query"}
    pairs = [(unquote(n), unquote(v)) for n, _, v in
             (x.partition("=") for x in query.split("&") if x)]
    schema = {"type": "object", "properties": {}}
    for name, p in declared.items():
        schema["properties"][name.replace("[]", "")] = p.get("schema", {})
    value = unflatten(desc, schema, pairs, "query parameter", errors)
    for name, v in value.items():
        p = declared.get(name) or declared.get(name + "[]")
        if p is None:
            errors.append("query: %s is not a parameter of the operation" % name)
            continue
        errors += explain(desc, desc.validator(p.get("schema", {})), v, "query." + name)


# ---------------------------------------------------------------------------
# Serving

def serve_conn(desc, conn):
    f = conn.makefile("rwb")
    for line in f:
        try:
            out = check(desc, json.loads(line))
        except Exception as e:             # a bug here must not look like "valid"
            out = {"operation": None,
                   "errors": ["openapi_check.py: %s: %s" % (type(e).__name__, e)]}
        f.write(json.dumps(out).encode() + b"\n")
        f.flush()
    conn.close()


def watch_stdin():
    def run():
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            os._exit(0)
    threading.Thread(target=run, daemon=True).start()


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    try:
        desc = Description(argv[0])
    except (OSError, yaml.YAMLError) as e:
        give_up("cannot read the description: %s" % e)
    if "--check" in argv:
        print(json.dumps(check(desc, json.load(sys.stdin)), indent=1))
        return 0
    if "--exit-on-stdin-eof" in argv:
        watch_stdin()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]
    if "--port-file" in argv:
        pf = argv[argv.index("--port-file") + 1]
        tmp = "%s.%d.tmp" % (pf, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, pf)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve_conn, args=(desc, conn), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
