"""What the fake model says, for chat (api.py) and Responses (platform.py)
alike: whether it calls a tool, with what arguments, and what text it
answers. Scripted replies (script.py) override all of it.

  tool call   when function tools are given and tool_choice is not "none":
              "required" or a named function always calls (the named one,
              else the first); "auto" (or none given) calls the first tool
              unless the input ends in tool results, so that a tool loop
              ends with an answer. Arguments: config "tool_arguments", else
              an instance of the tool's parameters schema.
  text        config "chat_text" (Responses: "respond_text", else
              "chat_text") when set; else, with a json_schema format, an
              instance of the schema; with json_object, {"answer": "x"};
              after tool results, "Tool said: <output>" (several joined
              with "; "); else CHAT_TEXT.
"""

import json

CHAT_TEXT = "Hello! I am the local fake OpenAI server."


def instance(schema, depth=0):
    """A small value that fits a JSON schema (enough for the fake)."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    if schema.get("enum"):
        return schema["enum"][0]
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: instance(v, depth + 1) for k, v in props.items()}
    if t == "array":
        return [instance(schema.get("items") or {}, depth + 1)]
    if t == "string":
        return "x"
    if t == "integer":
        return 1
    if t == "number":
        return 1.5
    if t == "boolean":
        return True
    if t == "null":
        return None
    return {}


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def tool_to_call(tools, choice, after_results):
    """The tool the model calls, or None. tools: [{"name", "parameters"}]
    (each API's function tools, flattened by the caller)."""
    if not tools or choice == "none":
        return None
    if choice == "required":
        return tools[0]
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        return next((t for t in tools if t.get("name") == name), None)
    return None if after_results else tools[0]


def arguments(tool, config):
    args = config.get("tool_arguments")
    return args if isinstance(args, str) else compact(instance(tool.get("parameters") or {}))


def answer(fmt, results, configured):
    """The text: fmt is the json_schema/json_object format or None (its
    "schema"), results the outputs of the tool results ending the input."""
    if isinstance(configured, str):
        return configured
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        return compact(instance(fmt.get("schema") or {}))
    if kind == "json_object":
        return '{"answer":"x"}'
    if results:
        return "Tool said: " + "; ".join(str(r) for r in results)
    return CHAT_TEXT
