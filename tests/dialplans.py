"""Syntax rules and two small interpreters for the dialplans `telephony.pbx.dialplan` renders.

`check_asterisk` and `check_freeswitch` write down what a rendered file may contain. `walk_asterisk` and
`walk_freeswitch` place one call through a rendered file with the semantics of the real PBX for the subset
the renderer uses (the notes name the source files followed), and raise `Unsupported` on anything else: a
dialplan cannot lean on something these tests never ran.

Routing data is given as the PBX stores it: `walk_asterisk(db=...)` is keyed like AstDB keys appear in
`database show` (`/mayday/prefix/45`), `walk_freeswitch(hash=...)` like `hash select/<realm>/<key>` names
them (`mayday/prefix_45`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import NamedTuple


class SyntaxProblem(Exception):
    """A dialplan file breaks one of the written-down rules."""


class Unsupported(NotImplementedError):
    """The walk met something the interpreter does not implement (or that the PBX would only log as an error)."""


@dataclass
class Result:
    """What became of a call."""

    dialled: str = ""  # `PJSIP/2560700771301@Hugamara_Trunk`, `sofia/gateway/Hugamara_Trunk/2560700771301`
    caller_id_number: str = ""  # presented on the dialled call
    caller_id_name: str = ""
    dial_timeout: str = ""  # Dial()'s timeout / FreeSWITCH's call_timeout, "" when none
    queue: str = ""  # Queue(<name>) / callcenter <name>@<domain>
    transferred: tuple[str, str] | None = None  # (context, number) of a context outside the file
    answered: bool = False
    refused: str = ""  # why: the last Verbose()/log message before Congestion()/hangup
    cause: str = ""  # "CONGESTION" or the FreeSWITCH hangup cause
    variables: dict[str, str] = field(default_factory=dict)  # channel variables at the end


def _closing(text: str, start: int, opener: str, closer: str) -> int:
    """Index of the `closer` that balances an `opener` just before `start`."""
    depth = 1
    for index in range(start, len(text)):
        if text[index] == opener:
            depth += 1
        elif text[index] == closer:
            depth -= 1
            if depth == 0:
                return index
    raise Unsupported(f"unbalanced {opener}{closer} in {text!r}")


def _split_top(text: str, separator: str) -> tuple[str, str | None]:
    """Split at the first `separator` outside (), [] and {}; (text, None) when there is none."""
    depth = 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            return text[:index], text[index + 1 :]
    return text, None


# Asterisk: syntax -----------------------------------------------------------------------------------------

ASTERISK_APPS = frozenset(
    "NoOp Verbose Set ExecIf GotoIf Goto While EndWhile Gosub Return Dial Queue Congestion Hangup".split()
)
EXECIF_APPS = frozenset({"NoOp", "Verbose", "Set"})  # ExecIf may run these: none of them moves the call

_CONTEXT = re.compile(r"\[([A-Za-z0-9_-]+)\]")
_INCLUDE = re.compile(r"include => ([A-Za-z0-9_-]+)")
_EXTEN = re.compile(r"exten => ([^,\s]+),([0-9]+|n)(?:\(([A-Za-z0-9_]+)\))?,(.*)")
_SAME = re.compile(r"same => (n)(?:\(([A-Za-z0-9_]+)\))?,(.*)")
_APP = re.compile(r"([A-Za-z]+)\((.*)\)")


class Step(NamedTuple):
    app: str
    args: str
    label: str | None
    line: int


def _problem(number: int, message: str) -> SyntaxProblem:
    return SyntaxProblem(f"line {number}: {message}")


def _check_balance(args: str, number: int) -> None:
    """(), ${…} and $[…] nest properly; a lone `{`, `[` or closer is an error."""
    stack = []
    index = 0
    while index < len(args):
        pair = args[index : index + 2]
        if pair in ("${", "$["):
            stack.append("}" if pair == "${" else "]")
            index += 2
            continue
        char = args[index]
        if char == "(":
            stack.append(")")
        elif char in ")}]":
            if not stack or stack.pop() != char:
                raise _problem(number, f"unbalanced {char!r} in {args!r}")
        elif char in "{[":
            raise _problem(number, f"a lone {char!r} in {args!r}")
        index += 1
    if stack:
        raise _problem(number, f"unclosed {''.join(reversed(stack))!r} in {args!r}")


def check_asterisk(text: str) -> dict[str, dict[str, list[Step]]]:
    """Check an extensions.conf file; return {context: {pattern: [priority 1, 2, …]}}.

    Rules: no tab or CR; a `;` starts a comment, allowed only on a line of its own; every other non-blank
    line is `[context]`, `include => context`, `exten => <pattern>,1[(label)],<App>(<args>)` (a new
    extension of the context) or `same => n[(label)],<App>(<args>)`; apps are ASTERISK_APPS (ExecIf runs one
    of EXECIF_APPS); (), ${…} and $[…] balance; While/EndWhile pair up within an extension; labels are unique
    in their extension; every GotoIf/Goto target is a label or priority of the extension or
    `context,exten,priority` with a mayday-* context defined here; Gosub targets an extension defined here.
    """
    plan: dict[str, dict[str, list[Step]]] = {}
    context = pattern = None
    for number, line in enumerate(text.split("\n"), start=1):
        if "\t" in line or "\r" in line:
            raise _problem(number, "tab or carriage return")
        if not line.strip() or line.startswith(";"):
            continue
        if ";" in line:
            raise _problem(number, "';' starts a comment: keep comments on their own lines")
        if line != line.strip():
            raise _problem(number, "leading or trailing whitespace")
        if match := _CONTEXT.fullmatch(line):
            context, pattern = match.group(1), None
            if context in plan:
                raise _problem(number, f"context {context} defined twice")
            plan[context] = {}
            continue
        if context is None:
            raise _problem(number, "a line before the first [context]")
        if _INCLUDE.fullmatch(line):
            continue
        if match := _EXTEN.fullmatch(line):
            pattern, priority, label, app = match.groups()
            if priority != "1":
                raise _problem(number, f"an extension starts at priority 1, not {priority}")
            if pattern in plan[context]:
                raise _problem(number, f"extension {pattern} of {context} starts twice")
            plan[context][pattern] = []
        elif match := _SAME.fullmatch(line):
            _, label, app = match.groups()
            if pattern is None:
                raise _problem(number, "'same =>' before any 'exten =>' in this context")
        else:
            raise _problem(number, f"not a context, include, exten or same line: {line!r}")
        call = _APP.fullmatch(app)
        if not call:
            raise _problem(number, f"not <App>(<args>): {app!r}")
        name, args = call.groups()
        if name not in ASTERISK_APPS:
            raise _problem(number, f"unknown application {name}")
        _check_balance(args, number)
        plan[context][pattern].append(Step(name, args, label, number))
    for context, extensions in plan.items():
        for pattern, steps in extensions.items():
            _check_extension(plan, context, pattern, steps)
    return plan


def _check_extension(plan, context: str, pattern: str, steps: list[Step]) -> None:
    labels = [step.label for step in steps if step.label]
    if len(labels) != len(set(labels)):
        raise SyntaxProblem(f"{context},{pattern}: a label is used twice")
    depth = 0
    for step in steps:
        depth += {"While": 1, "EndWhile": -1}.get(step.app, 0)
        if depth < 0:
            raise _problem(step.line, "EndWhile without While")
        targets = []
        if step.app == "ExecIf":
            _, branches = _split_top(step.args, "?")
            if branches is None:
                raise _problem(step.line, "ExecIf(<condition>?<App>(<args>))")
            for branch in _split_top(branches, ":"):
                inner = _APP.fullmatch(branch or "")
                if branch is not None and (not inner or inner.group(1) not in EXECIF_APPS):
                    raise _problem(step.line, f"ExecIf may run one of {sorted(EXECIF_APPS)}, not {branch!r}")
        elif step.app == "GotoIf":
            _, branches = _split_top(step.args, "?")
            if branches is None:
                raise _problem(step.line, "GotoIf(<condition>?<true>[:<false>])")
            targets = [target for target in _split_top(branches, ":") if target]
        elif step.app == "Goto":
            targets = [step.args]
        elif step.app == "Gosub":
            where, _, _ = step.args.partition("(")
            parts = where.split(",")
            if len(parts) != 3 or parts[0] not in plan or parts[1] not in plan[parts[0]]:
                raise _problem(step.line, f"Gosub to an extension not defined here: {where!r}")
        for target in targets:
            parts = target.split(",")
            if len(parts) == 1:
                if not (target in labels or (target.isdigit() and 1 <= int(target) <= len(steps))):
                    raise _problem(step.line, f"no label {target!r} in {context},{pattern}")
            elif len(parts) == 3:
                if parts[0].startswith("mayday") and parts[0] not in plan:
                    raise _problem(step.line, f"no context {parts[0]}")
            else:
                raise _problem(step.line, f"a target is a label or context,exten,priority: {target!r}")
    if depth:
        raise SyntaxProblem(f"{context},{pattern}: While without EndWhile")


# Asterisk: the walk ---------------------------------------------------------------------------------------


class Position(NamedTuple):
    context: str
    pattern: str
    exten: str
    index: int  # priority - 1


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """An extension pattern (main/pbx.c): `_` then X = 0-9, Z = 1-9, N = 2-9, [..] a class, `.` one or more
    characters, `!` zero or more; other characters stand for themselves. Without `_` the name is literal."""
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern))
    classes = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}
    out, index = [], 1
    while index < len(pattern):
        char = pattern[index]
        if char == "[":
            end = pattern.index("]", index)
            out.append("[" + re.escape(pattern[index + 1 : end]).replace("\\-", "-") + "]")
            index = end + 1
            continue
        out.append(classes.get(char.upper(), re.escape(char)))
        index += 1
    return re.compile("".join(out))


def _atoi(text: str) -> int:
    match = re.match(r"\s*[+-]?\d+", text)
    return int(match.group()) if match else 0


def _checkcondition(text: str) -> bool:
    """pbx_checkcondition(): empty is false, a leading number is its truth, any other string is true."""
    if not text:
        return False
    match = re.match(r"\s*[+-]?\d+", text)
    return int(match.group()) != 0 if match else True


def _substring(value: str, offset: int, length: int | None) -> str:
    """`${VAR:offset:length}` as main/pbx_variables.c substring() cuts it."""
    size = len(value)
    if offset < 0:
        offset = max(size + offset, 0)
    if offset >= size:
        return ""
    value = value[offset:]
    if length is None:
        return value
    if length >= 0:
        return value[:length]
    return value[: max(len(value) + length, 0)]


# `$[…]` (main/ast_expr2.y): | below &, below the comparisons, below + and -. A quoted string keeps its
# quotes and compares as a string; unquoted operands here must be integers.
_EXPR_TOKEN = re.compile(r'\s*(?:("[^"]*")|(<=|>=|!=|==|=~|[|&=<>+\-*/%!?:()])|([^\s|&=<>+\-*/%!?:()"]+))')
_NUMBER = re.compile(r"[+-]?\d+")


class _Value(NamedTuple):
    text: str
    quoted: bool


def _number(value: _Value) -> int:
    if value.quoted or not _NUMBER.fullmatch(value.text):
        raise Unsupported(f"arithmetic on a non-number {value.text!r}")
    return int(value.text)


def _zero_or_null(value: _Value) -> bool:
    return value.text == "" or (not value.quoted and bool(_NUMBER.fullmatch(value.text)) and int(value.text) == 0)


def _compare(op: str, left: _Value, right: _Value) -> _Value:
    if left.quoted or right.quoted:
        a, b = left.text, right.text
    else:
        a, b = _number(left), _number(right)
    result = {"=": a == b, "==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    return _Value(str(int(result)), False)


class _Expression:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = []
        position = 0
        while position < len(text):
            match = _EXPR_TOKEN.match(text, position)
            if not match or match.end() == position:
                if text[position:].strip():
                    raise Unsupported(f"cannot read $[{text}]")
                break
            quoted, op, word = match.groups()
            if op in ("*", "/", "%", "!", "?", ":", "=~"):
                raise Unsupported(f"operator {op!r} in $[{text}]")
            self.tokens.append(("op", op) if op else ("value", _Value(quoted or word, bool(quoted))))
            position = match.end()
        self.index = 0

    def value(self) -> str:
        if not self.tokens:
            raise Unsupported("an empty $[] (Asterisk logs a syntax error)")
        result = self._or()
        if self.index != len(self.tokens):
            raise Unsupported(f"syntax error in $[{self.text}]")
        return result.text

    def _peek(self) -> str | None:
        if self.index < len(self.tokens) and self.tokens[self.index][0] == "op":
            return self.tokens[self.index][1]
        return None

    def _or(self) -> _Value:
        left = self._and()
        while self._peek() == "|":
            self.index += 1
            right = self._and()
            left = right if _zero_or_null(left) else left
        return left

    def _and(self) -> _Value:
        left = self._comparison()
        while self._peek() == "&":
            self.index += 1
            right = self._comparison()
            left = _Value("0", False) if _zero_or_null(left) or _zero_or_null(right) else left
        return left

    def _comparison(self) -> _Value:
        left = self._sum()
        while (op := self._peek()) in ("=", "==", "!=", "<", ">", "<=", ">="):
            self.index += 1
            left = _compare(op, left, self._sum())
        return left

    def _sum(self) -> _Value:
        left = self._primary()
        while (op := self._peek()) in ("+", "-"):
            self.index += 1
            right = self._primary()
            total = _number(left) + _number(right) if op == "+" else _number(left) - _number(right)
            left = _Value(str(total), False)
        return left

    def _primary(self) -> _Value:
        if self.index >= len(self.tokens):
            raise Unsupported(f"syntax error in $[{self.text}] (a missing operand?)")
        kind, token = self.tokens[self.index]
        self.index += 1
        if kind == "value":
            return token
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                raise Unsupported(f"syntax error in $[{self.text}]")
            self.index += 1
            return inner
        raise Unsupported(f"syntax error in $[{self.text}] at {token!r}")


class _AsteriskCall:
    MAX_STEPS = 10_000

    def __init__(self, plan, db: dict[str, str], variables: dict, endpoint: str) -> None:
        self.plan = plan
        self.db = db
        self.vars = {name: str(value) for name, value in variables.items()}
        self.endpoint = endpoint
        self.callerid = {"num": "", "name": ""}
        self.frames: list[tuple[Position, dict[str, str | None]]] = []  # Gosub: where to return, ARGn saved
        self.said = ""
        self.result = Result()
        self.here: Position | None = None

    def run(self, context: str, exten: str) -> Result:
        position = self._find(context, exten)
        for _ in range(self.MAX_STEPS):
            if position is None:
                break
            steps = self.plan[position.context][position.pattern]
            if position.index >= len(steps):  # past the last priority: Asterisk hangs up
                self._stop("", "the extension ended")
                break
            self.here = position
            step = steps[position.index]
            position = self._execute(step.app, self._substitute(step.args), position)
        else:
            raise Unsupported(f"more than {self.MAX_STEPS} steps: a loop that never ends?")
        self.result.variables = dict(self.vars)
        return self.result

    def _stop(self, cause: str, why: str) -> None:
        self.result.cause = cause
        self.result.refused = why

    def _find(self, context: str, exten: str, priority: str = "1") -> Position | None:
        if context not in self.plan:
            self.result.transferred = (context, exten)
            return None
        extensions = self.plan[context]
        if exten in extensions and not exten.startswith("_"):
            pattern = exten
        else:
            matching = [p for p in extensions if p.startswith("_") and _pattern_regex(p).fullmatch(exten)]
            if len(matching) > 1:
                raise Unsupported(f"{exten} matches several patterns of {context}: ordering is not implemented")
            if not matching:
                self._stop("", f"no extension {exten} in {context}")
                return None
            pattern = matching[0]
        steps = extensions[pattern]
        if priority.isdigit():
            index = int(priority) - 1
        else:
            labels = [step.label for step in steps]
            if priority not in labels:
                raise Unsupported(f"no priority {priority} in {context},{pattern}")
            index = labels.index(priority)
        return Position(context, pattern, exten, index)

    # ${…} and $[…] (main/pbx_variables.c): inner references first, values are not substituted again.
    def _substitute(self, text: str) -> str:
        out, index = [], 0
        while index < len(text):
            pair = text[index : index + 2]
            if pair in ("${", "$["):
                opener, closer = pair[1], "}" if pair == "${" else "]"
                end = _closing(text, index + 2, opener, closer)
                inner = self._substitute(text[index + 2 : end])
                out.append(self._reference(inner) if pair == "${" else _Expression(inner).value())
                index = end + 1
            else:
                out.append(text[index])
                index += 1
        return "".join(out)

    def _reference(self, name: str) -> str:
        if name.endswith(")") and "(" in name:
            function, _, args = name.partition("(")
            return self._function(function, args[:-1])
        name, _, cut = name.partition(":")
        offset, _, length = cut.partition(":")
        value = self._variable(name)
        if not cut:
            return value
        return _substring(value, _atoi(offset), _atoi(length) if length else None)

    def _variable(self, name: str) -> str:
        if name == "EXTEN":
            return self.here.exten
        if name == "CONTEXT":
            return self.here.context
        return self.vars.get(name, "")

    def _function(self, name: str, args: str) -> str:
        if name == "DB_EXISTS":  # funcs/func_db.c: "1" and DB_RESULT, or "0" and DB_RESULT untouched
            family, _, key = args.partition("/")
            if not family or not key:
                raise Unsupported(f"DB_EXISTS({args}) needs <family>/<key>")
            value = self.db.get(f"/{family}/{key}")
            if value is None:
                return "0"
            self.vars["DB_RESULT"] = value
            return "1"
        if name == "LEN":
            return str(len(args))
        if name == "CUT":  # funcs/func_cut.c: CUT(<varname>,<delimiter>,<field>)
            parts = args.split(",", 2)
            if len(parts) != 3 or not parts[2].isdigit():
                raise Unsupported(f"CUT({args}): only CUT(<varname>,<delimiter>,<field number>) is implemented")
            variable, delimiter, spec = parts
            fields = self.vars.get(variable, "").split(delimiter or "-")
            number = int(spec)
            return fields[number - 1] if 1 <= number <= len(fields) else ""
        if name == "FILTER":  # funcs/func_strings.c: keep the allowed characters (ranges a-b)
            allowed, _, string = args.partition(",")
            chars = set()
            for first, last in re.findall(r"(.)(?:-(.))?", allowed):
                chars.update(chr(c) for c in range(ord(first), ord(last or first) + 1))
            return "".join(c for c in string if c in chars)
        if name == "CHANNEL":
            if args != "endpoint":
                raise Unsupported(f"CHANNEL({args})")
            return self.endpoint
        if name == "CALLERID" and args in self.callerid:
            return self.callerid[args]
        raise Unsupported(f"function {name}()")

    def _set(self, data: str) -> None:
        name, sep, value = data.partition("=")
        if not sep:
            raise Unsupported(f"Set({data}) without '='")
        if match := re.fullmatch(r"CALLERID\((num|name)\)", name):
            self.callerid[match.group(1)] = value
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            self.vars[name] = value
        else:
            raise Unsupported(f"Set({name}=…)")

    def _goto(self, target: str, position: Position) -> Position | None:
        parts = target.split(",")
        if len(parts) == 1:
            return self._find(position.context, position.exten, parts[0])
        if len(parts) == 3:
            return self._find(parts[0], parts[1], parts[2])
        raise Unsupported(f"Goto({target})")

    def _loop_partner(self, position: Position, step: int) -> int:
        """The index of the EndWhile matching a While (step 1) or the While matching an EndWhile (step -1)."""
        steps = self.plan[position.context][position.pattern]
        depth, index = 0, position.index
        while 0 <= index < len(steps):
            depth += {"While": 1, "EndWhile": -1}.get(steps[index].app, 0) * step
            if depth == 0:
                return index
            index += step
        raise Unsupported("While without EndWhile")

    def _execute(self, app: str, data: str, position: Position) -> Position | None:
        following = position._replace(index=position.index + 1)
        if app == "NoOp":
            return following
        if app == "Verbose":
            level, sep, message = data.partition(",")
            self.said = message if sep else level
            return following
        if app == "Set":
            self._set(data)
            return following
        if app == "ExecIf":  # apps/app_exec.c: <expr>?<app>(<args>)[:<app>(<args>)]
            condition, _, branches = data.partition("?")
            if "," in condition or not branches:
                raise Unsupported(f"ExecIf({data}): only the <expr>?<app>(<args>) form is implemented")
            if_true, if_false = _split_top(branches, ":")
            branch = if_true if _checkcondition(condition) else if_false
            if branch:
                inner = _APP.fullmatch(branch)
                if not inner or inner.group(1) not in EXECIF_APPS:
                    raise Unsupported(f"ExecIf running {branch!r}")
                self._execute(inner.group(1), inner.group(2), position)
            return following
        if app == "GotoIf":  # main/pbx_builtins.c: <expr>?[<true>][:<false>]
            condition, _, branches = data.partition("?")
            if_true, _, if_false = branches.partition(":")
            target = if_true if _checkcondition(condition) else if_false
            return self._goto(target, position) if target else following
        if app == "Goto":
            return self._goto(data, position)
        if app == "While":  # apps/app_while.c: false jumps past the matching EndWhile
            if _checkcondition(data):
                return following
            return position._replace(index=self._loop_partner(position, 1) + 1)
        if app == "EndWhile":  # back to the While, which tests again
            return position._replace(index=self._loop_partner(position, -1))
        if app == "Gosub":  # apps/app_stack.c: Gosub(context,exten,priority(arg1,arg2,…)) sets ARG1…
            target, _, args = data.partition("(")
            values = args[:-1].split(",") if args.endswith(")") else []
            saved = {f"ARG{n}": self.vars.get(f"ARG{n}") for n in range(1, len(values) + 1)}
            self.frames.append((following, saved))
            for number, value in enumerate(values, start=1):
                self.vars[f"ARG{number}"] = value
            return self._goto(target, position)
        if app == "Return":
            if not self.frames:
                raise Unsupported("Return() outside a Gosub")
            back, saved = self.frames.pop()
            for name, value in saved.items():
                if value is None:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = value
            return back
        if app == "Dial":
            target, _, rest = data.partition(",")
            if "&" in target or "," in rest:
                raise Unsupported(f"Dial({data}): one target and an optional timeout are implemented")
            self.result.dialled, self.result.dial_timeout = target, rest
            self.result.caller_id_number = self.callerid["num"]
            self.result.caller_id_name = self.callerid["name"]
            return None
        if app == "Queue":
            name, _, rest = data.partition(",")
            if rest:
                raise Unsupported(f"Queue({data}) options")
            self.result.queue = name
            return None
        if app == "Congestion":
            self._stop("CONGESTION", self.said or "congestion")
            return None
        if app == "Hangup":
            self._stop(data or "NORMAL_CLEARING", self.said or "hung up")
            return None
        raise Unsupported(f"application {app}")


def walk_asterisk(text: str, *, context: str, exten: str, db: dict[str, str], variables: dict, endpoint: str) -> Result:
    """Place a call to `exten` in `context` of an extensions.conf file (checked first). `db` holds AstDB as
    `/<family>/<key>` → value; `variables` are the channel's (MAYDAY_AGENT…); `endpoint` is the PJSIP
    endpoint the call came from (`${CHANNEL(endpoint)}`)."""
    return _AsteriskCall(check_asterisk(text), db, variables, endpoint).run(context, exten)


# FreeSWITCH: syntax ---------------------------------------------------------------------------------------

FREESWITCH_APPS = frozenset({"set", "unset", "log", "hangup", "answer", "bridge", "callcenter", "transfer"})
INLINE_APPS = frozenset({"set", "unset", "log"})  # flagged SAF_ROUTING_EXEC in mod_dptools.c
_BREAKS = ("on-false", "on-true", "always", "never")
_CAPTURE = re.compile(r"\$(?:(\d+)|\{(\d+)\})")


def _check_dollars(text: str, where: str) -> None:
    """Every `${` is closed."""
    for match in re.finditer(r"\$\{", text):
        try:
            _fs_closing(text, match.end())
        except Unsupported:
            raise SyntaxProblem(f"{where}: unclosed '${{' in {text!r}") from None


def _sample(expression: str) -> str:
    """The expression with each ${…} replaced by a sample digit, to compile it as it would be at call time."""
    out, index = [], 0
    while index < len(expression):
        if expression.startswith("${", index):
            index = _fs_closing(expression, index + 2) + 1
            out.append("1")
        else:
            out.append(expression[index])
            index += 1
    return "".join(out)


def check_freeswitch(text: str) -> ET.Element:
    """Check an XML dialplan file; return its root.

    Rules: well-formed XML with root `include` holding only `context`s with distinct names; a context holds
    only named `extension`s (attributes name and continue="true|false"); an extension holds one or more
    `condition`s and nothing else; a condition has `field` and `expression` or neither (and maybe `break`)
    and holds only `action`s and `anti-action`s (no nested conditions); each has an `application` from
    FREESWITCH_APPS (inline="true" only for INLINE_APPS) and no text; every `${` is closed; expressions
    compile in Python's `re` once variables hold sample digits; `$N` in action data has a group N to read.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SyntaxProblem(f"not well-formed XML: {exc}") from exc
    if root.tag != "include":
        raise SyntaxProblem(f"the root is <{root.tag}>, not <include>")
    names = set()
    for context in root:
        name = context.get("name")
        if context.tag != "context" or not name or name in names:
            raise SyntaxProblem(f"<include> holds only <context>s with distinct names, not <{context.tag}> {name}")
        names.add(name)
        for extension in context:
            where = f"{name}/{extension.get('name')}"
            if extension.tag != "extension" or not extension.get("name"):
                raise SyntaxProblem(f"{name}: <context> holds only named <extension>s, not <{extension.tag}>")
            if set(extension.attrib) - {"name", "continue"} or extension.get("continue", "false") not in (
                "true",
                "false",
            ):
                raise SyntaxProblem(f"{where}: extension attributes {extension.attrib}")
            if not len(extension) or any(child.tag != "condition" for child in extension):
                raise SyntaxProblem(f"{where}: an extension holds conditions only")
            for condition in extension:
                _check_condition(condition, where)
    return root


def _check_condition(condition: ET.Element, where: str) -> None:
    attrs = condition.attrib
    if set(attrs) - {"field", "expression", "break"} or ("field" in attrs) != ("expression" in attrs):
        raise SyntaxProblem(f"{where}: a condition has field and expression, or neither: {attrs}")
    if attrs.get("break", "on-false") not in _BREAKS:
        raise SyntaxProblem(f"{where}: break={attrs['break']!r}")
    groups = 0
    if "field" in attrs:
        _check_dollars(attrs["field"], where)
        _check_dollars(attrs["expression"], where)
        try:
            groups = re.compile(_sample(attrs["expression"])).groups
        except re.error as exc:
            raise SyntaxProblem(f"{where}: expression {attrs['expression']!r} does not compile: {exc}") from exc
    if (condition.text or "").strip():
        raise SyntaxProblem(f"{where}: text inside a condition")
    for action in condition:
        if action.tag == "condition":
            raise SyntaxProblem(f"{where}: nested condition")
        if action.tag not in ("action", "anti-action"):
            raise SyntaxProblem(f"{where}: <{action.tag}> in a condition")
        application, data = action.get("application"), action.get("data", "")
        if set(action.attrib) - {"application", "data", "inline"} or (action.text or "").strip():
            raise SyntaxProblem(f"{where}: action {action.attrib} {action.text!r}")
        if application not in FREESWITCH_APPS:
            raise SyntaxProblem(f"{where}: unknown application {application!r}")
        if action.get("inline", "false") not in ("true", "false") or (
            action.get("inline") == "true" and application not in INLINE_APPS
        ):
            raise SyntaxProblem(f"{where}: {application} cannot run inline")
        _check_dollars(data, where)
        captures = [int(a or b) for a, b in _CAPTURE.findall(data)]
        if captures and (action.tag == "anti-action" or max(captures) > groups):
            raise SyntaxProblem(f"{where}: {data!r} reads a capture its condition does not make")


# FreeSWITCH: the walk -------------------------------------------------------------------------------------

_PROFILE_FIELDS = ("destination_number", "context")  # the caller-profile fields the walk knows
_LOG_LEVELS = ("CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG")


def _fs_closing(text: str, start: int) -> int:
    """The `}` ending a `${` whose body starts at `start`, counting inner braces as
    switch_channel_expand_variables_check() does."""
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "}" and depth == 1:
            return index
        if char == "{" and index != start:
            depth += 1
        elif char == "}":
            depth -= 1
    raise Unsupported(f"unclosed '${{' in {text!r}")


class _FreeswitchCall:
    MAX_TRANSFERS = 10

    def __init__(self, root: ET.Element, hash: dict[str, str], variables: dict, user_name: str, domain: str):
        self.contexts = {context.get("name"): context for context in root}
        self.hash = hash
        self.vars = {name: str(value) for name, value in variables.items()}
        self.vars.update(user_name=user_name, domain_name=domain)  # what mod_sofia sets on a registered user
        self.profile = {"destination_number": "", "context": ""}
        self.logged = ""
        self.result = Result()

    def run(self, context: str, number: str) -> Result:
        for _ in range(self.MAX_TRANSFERS):
            if context not in self.contexts:
                self.result.transferred = (context, number)
                break
            self.profile.update(destination_number=number, context=context)
            queued = self._hunt(self.contexts[context])
            if not queued:
                self._stop("NO_ROUTE_DESTINATION", f"no extension of {context} matched {number}")
                break
            transfer = self._run(queued)
            if transfer is None:
                break
            context, number = transfer
        else:
            raise Unsupported(f"more than {self.MAX_TRANSFERS} transfers")
        self.result.variables = dict(self.vars)
        return self.result

    def _stop(self, cause: str, why: str) -> None:
        self.result.cause = cause
        self.result.refused = why

    # Hunting (mod_dialplan_xml.c dialplan_hunt / parse_exten): extensions in order; in each, conditions in
    # order, each one's actions queued (or run now when inline) as soon as it matches; a failing condition
    # queues its anti-actions and, breaking on-false, ends the extension. An extension that matched (or
    # queued anti-actions) ends the hunt unless continue="true".
    def _hunt(self, context: ET.Element) -> list[tuple[str, str]]:
        queued: list[tuple[str, str]] = []
        for extension in context.findall("extension"):
            if self._extension(extension, queued) and extension.get("continue") != "true":
                break
        return queued

    def _extension(self, extension: ET.Element, queued: list[tuple[str, str]]) -> bool:
        proceed = False
        for condition in extension.findall("condition"):
            if condition.get("break", "on-false") != "on-false":
                raise Unsupported(f"break={condition.get('break')}")
            field_name, match, capturing = condition.get("field"), None, False
            if field_name is None:
                matched = True
            else:
                if "$" in field_name:
                    data = self.expand(field_name)
                elif field_name in _PROFILE_FIELDS:
                    data = self.profile[field_name]
                else:
                    raise Unsupported(f"condition field {field_name!r}")
                expression = self.expand(condition.get("expression"))
                try:
                    match = re.search(expression, data)
                except re.error as exc:
                    raise Unsupported(f"expression {expression!r}: {exc}") from exc
                matched, capturing = match is not None, "(" in expression
            if matched:
                for action in condition.findall("action"):
                    data = action.get("data", "")
                    if capturing:
                        data = _captures(data, match)
                    self._queue(action, data, queued)
                proceed = True
            else:
                anti = condition.findall("anti-action")
                for action in anti:
                    self._queue(action, action.get("data", ""), queued)
                proceed = bool(anti)
                break
        return proceed

    def _queue(self, action: ET.Element, data: str, queued: list[tuple[str, str]]) -> None:
        application = action.get("application")
        if action.get("inline") == "true":
            if application not in INLINE_APPS:
                raise Unsupported(f"{application} cannot run inline")
            self._execute(application, data)
        else:
            queued.append((application, data))

    def _run(self, queued: list[tuple[str, str]]) -> tuple[str, str] | None:
        """Execute the queued actions; a transfer to a context of the file returns (context, number)."""
        for application, data in queued:
            outcome = self._execute(application, data)
            if outcome is not None:
                return outcome if isinstance(outcome, tuple) else None
        self._stop("NORMAL_CLEARING", "the actions ended")
        return None

    def _execute(self, application: str, data: str):
        """Run one application; None to go on, True when the call is handed off or ended, or a transfer."""
        data = self.expand(data)  # switch_core_session_exec() expands the data
        if application == "set":  # mod_dptools.c base_set(): name=value, the value expanded once more
            name, sep, value = data.partition("=")
            if not sep:
                name, sep, value = data.partition(",")
            value = self.expand(value)
            if value:
                self.vars[name] = value
            else:
                self.vars.pop(name, None)
            return None
        if application == "unset":
            self.vars.pop(data, None)
            return None
        if application == "log":
            level, _, message = data.partition(" ")
            self.logged = message if level.upper() in _LOG_LEVELS else data
            return None
        if application == "answer":
            self.result.answered = True
            return None
        if application == "hangup":
            self._stop(data or "NORMAL_CLEARING", self.logged or "hung up")
            return True
        if application == "bridge":
            if re.search(r"[,|{}\[\]]|:_:", data):
                raise Unsupported(f"bridge {data}: one target without options is implemented")
            self.result.dialled = data
            self.result.caller_id_number = self.vars.get("effective_caller_id_number", "")
            self.result.caller_id_name = self.vars.get("effective_caller_id_name", "")
            self.result.dial_timeout = self.vars.get("call_timeout", "")
            return True
        if application == "callcenter":
            self.result.queue = data
            return True
        if application == "transfer":
            parts = data.split()
            if len(parts) != 3 or parts[1] != "XML":
                raise Unsupported(f"transfer {data}: only '<number> XML <context>' is implemented")
            return parts[2], parts[0]
        raise Unsupported(f"application {application}")

    # Variable expansion (switch_channel.c switch_channel_expand_variables_check): `${name}` and
    # `${name:offset:length}` read channel variables, then caller-profile fields; `${api(args)}` runs an
    # API; a variable's value is expanded again before it is cut; inner references expand first.
    def expand(self, text: str, depth: int = 0) -> str:
        if "$${" in text or re.search(r"\\[\\$']", text):
            raise Unsupported(f"global variables or escapes in {text!r}")
        if "${" not in text or depth > 100:
            return text
        out, index = [], 0
        while index < len(text):
            if text.startswith("${", index):
                end = _fs_closing(text, index + 2)
                out.append(self._reference(text[index + 2 : end], depth))
                index = end + 1
            else:
                out.append(text[index])
                index += 1
        return "".join(out)

    def _reference(self, body: str, depth: int) -> str:
        call = re.search(r"[ (]", body)
        if call:
            if call.group() == " ":
                raise Unsupported(f"${{{body}}}: only ${{api(args)}} calls are implemented")
            name, args = body[: call.start()], body[call.end() :]
            args = args[: _closing(args, 0, "(", ")")]
            return self._api(self.expand(name, depth + 1), self.expand(args, depth + 1))
        name, _, cut = self.expand(body, depth + 1).partition(":")
        offset, _, length = cut.partition(":")
        if "[" in name:
            raise Unsupported(f"${{{body}}}: array indexes")
        value = self.vars.get(name)
        if value is None:
            value = self.profile.get(name)
        if value is None:
            return ""
        value = self.expand(value, depth + 1)
        start, size = _atoi(offset), _atoi(length)
        if start >= 0:
            value = "" if start > len(value) else value[start:]
        elif -start <= len(value):
            value = value[len(value) + start :]
        if 0 < size < len(value):
            value = value[:size]
        return value

    def _api(self, name: str, args: str) -> str:
        """mod_hash.c: `hash select/<realm>/<key>` prints the value, nothing for a missing key."""
        parts = args.split("/", 3)
        if name != "hash" or len(parts) < 3 or parts[0] != "select":
            raise Unsupported(f"API {name} {args}")
        return self.hash.get(f"{parts[1]}/{parts[2]}", "")


def _captures(data: str, match: re.Match[str]) -> str:
    """switch_perform_substitution(): `$N` or `${N}` is group N, nothing when there is no such group or it
    did not take part."""

    def group(reference: re.Match[str]) -> str:
        number = int(reference.group(1) or reference.group(2))
        return (match.group(number) or "") if number <= match.re.groups else ""

    return _CAPTURE.sub(group, data)


def walk_freeswitch(
    text: str, *, context: str, number: str, hash: dict[str, str], variables: dict, user_name: str, domain: str
) -> Result:
    """Place a call to `number` in `context` of an XML dialplan file (checked first). `hash` holds mod_hash as
    `<realm>/<key>` → value; `variables` are the channel's (mayday_agent…); `user_name` and `domain` are what
    FreeSWITCH sets on a call from a registered user (user_name, domain_name)."""
    return _FreeswitchCall(check_freeswitch(text), hash, variables, user_name, domain).run(context, number)
