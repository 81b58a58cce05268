#!/usr/bin/env python3
"""Checks the monitoring docs against the metric reference docs/metrics.txt.

Usage: check_dashboard.py SOURCE_DIR

- docs/metrics.txt must be well formed: every line that is not a comment (#) or blank is
  `<name> <type> <labels> <help>` with single spaces, type gauge|counter|histogram, labels `-` or
  comma-separated label names other than unit and le, each name once.
- docs/grafana-dashboard.json must be valid JSON with panels that have targets, each target an
  expression.
- Every rollcall_ metric named in the dashboard's expressions (targets and template variables)
  and in the `expr:` fields of docs/prometheus-alerts.yml must be a family of docs/metrics.txt;
  a histogram's series are <name>_bucket, <name>_sum and <name>_count.

Exit 0 when all holds, 1 listing every problem otherwise, 2 on bad usage. Python standard
library only (the alert rules are read with a regex on their expr: lines, not a YAML parser).
"""

import json
import os
import re
import sys

LINE = re.compile(r"^(rollcall_[a-z0-9_]+) (gauge|counter|histogram) (-|[a-z_][a-z0-9_]*(?:,[a-z_][a-z0-9_]*)*) (\S.*\S\.)$")
TOKEN = re.compile(r"rollcall_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def read_metrics(path, problems):
    """The families of docs/metrics.txt as {name: type}; malformed lines go to problems."""
    families = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError as e:
        problems.append(f"{path}: cannot read it: {e}")
        return families
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if line.startswith("#") or line == "":
            continue
        where = f"{path}:{number}"
        m = LINE.match(line)
        if not m:
            problems.append(f"{where}: not `<name> <type> <labels> <help>` (single spaces, type "
                            f"gauge|counter|histogram, labels - or a,b, help a sentence ending in '.'): {line!r}")
            continue
        name, kind, labels, _help = m.groups()
        if name in families:
            problems.append(f"{where}: {name} is listed twice")
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"{where}: counter {name} does not end in _total")
        if kind != "counter" and name.endswith("_total"):
            problems.append(f"{where}: {name} ends in _total but is a {kind}")
        label_names = [] if labels == "-" else labels.split(",")
        for reserved in ("unit", "le"):
            if reserved in label_names:
                problems.append(f"{where}: {name} lists the label {reserved}, which the format leaves out")
        if len(set(label_names)) != len(label_names):
            problems.append(f"{where}: {name} lists a label twice")
        families[name] = kind
    if not families:
        problems.append(f"{path}: lists no metric family")
    return families


def dashboard_expressions(path, problems):
    """Every PromQL expression of the dashboard: panel targets and template variable queries."""
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{path}: not valid JSON: {e}")
        return []
    if not isinstance(dashboard, dict):
        problems.append(f"{path}: not a JSON object")
        return []

    expressions = []
    panels = []

    def collect_panels(items):
        for panel in items or []:
            if not isinstance(panel, dict):
                continue
            if panel.get("type") == "row":
                collect_panels(panel.get("panels"))
            else:
                panels.append(panel)

    collect_panels(dashboard.get("panels"))
    if not panels:
        problems.append(f"{path}: has no panels")
    for panel in panels:
        title = panel.get("title", f"panel {panel.get('id')}")
        targets = panel.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{path}: panel {title!r} has no targets")
            continue
        for target in targets:
            expr = target.get("expr") if isinstance(target, dict) else None
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{path}: panel {title!r} has a target without an expression")
                continue
            expressions.append((f"panel {title!r}", expr))

    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if not isinstance(variable, dict) or variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        for text in (query, variable.get("definition")):
            if isinstance(text, str):
                expressions.append((f"variable {variable.get('name')!r}", text))
    return expressions


def alert_expressions(path, problems):
    """The expr: fields of the rules file, also block scalars (expr: | and expr: >)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError as e:
        problems.append(f"{path}: cannot read it: {e}")
        return []
    expressions = []
    key = re.compile(r"^(\s*)(?:-\s+)?expr:\s*(.*)$")
    i = 0
    while i < len(lines):
        m = key.match(lines[i])
        if not m:
            i += 1
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        where = f"{path}:{i + 1}"
        i += 1
        if re.fullmatch(r"[|>][+-]?", value):
            block = []
            while i < len(lines) and (lines[i].strip() == "" or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(block)
        if value:
            expressions.append((where, value))
    if not expressions:
        problems.append(f"{path}: no expr: lines found")
    return expressions


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} SOURCE_DIR", file=sys.stderr)
        return 2
    docs = os.path.join(argv[1], "docs")
    problems = []
    families = read_metrics(os.path.join(docs, "metrics.txt"), problems)
    used = dashboard_expressions(os.path.join(docs, "grafana-dashboard.json"), problems)
    used += alert_expressions(os.path.join(docs, "prometheus-alerts.yml"), problems)

    names_seen = set()
    for where, expr in used:
        for token in TOKEN.findall(expr):
            name = token
            for suffix in HISTOGRAM_SUFFIXES:
                if token.endswith(suffix) and families.get(token[: -len(suffix)]) == "histogram":
                    name = token[: -len(suffix)]
                    break
            if name not in families:
                problems.append(f"{where}: {token} is not a metric of docs/metrics.txt")
            elif families[name] == "histogram" and name == token:
                problems.append(f"{where}: {token} is a histogram: its series are {token}_bucket, _sum and _count")
            else:
                names_seen.add(name)

    if problems:
        for problem in problems:
            print(f"check_dashboard: {problem}", file=sys.stderr)
        print(f"check_dashboard: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_dashboard: {len(families)} documented families; the dashboard and the alert rules "
          f"use {len(names_seen)} of them in {len(used)} expressions, all documented")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
