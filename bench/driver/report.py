"""The results, as JSON (everything) and Markdown (the tables), named by date and scale."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"


def _ms(value) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _queries(counted: dict, side: str) -> str:
    if f"{side}_10" in counted:
        small, large = counted[f"{side}_10"], counted[f"{side}_100"]
        return f"{small['queries']} / {large['queries']}"
    return str(counted[side]["queries"]) if side in counted else "—"


def _throughput_table(rows: list[dict]) -> list[str]:
    lines = [
        "| endpoint | real req/s | bare req/s | real/bare | p50 ms | p95 ms | p99 ms "
        "| bare p50 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        real, bare = row["real"], row.get("bare")
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "—"
        lines.append(
            f"| {row['name']} | {real['rps']:.1f} | {bare['rps'] if bare else '—'} | {ratio} "
            f"| {_ms(real['p50_ms'])} | {_ms(real['p95_ms'])} | {_ms(real['p99_ms'])} "
            f"| {_ms(bare['p50_ms']) if bare else '—'} | {real['errors']} |"
        )
    return lines


def _sql_table(rows: list[dict]) -> list[str]:
    lines = [
        "| endpoint | queries real (10 / 100 rows) | queries bare | request ms alone "
        "| SQL ms per request | main query ms | EXPLAIN ANALYZE ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        counted = row.get("sql") or {}
        if not counted:
            continue
        main = counted.get("real_10") or counted.get("real")
        lines.append(
            f"| {row['name']} | {_queries(counted, 'real')} | {_queries(counted, 'bare')} "
            f"| {_ms(main.get('request_ms'))} | {_ms(main['sql_ms'])} | {_ms(main['slowest_ms'])} "
            f"| {_ms(main.get('explain_ms'))} |"
        )
    return lines


def markdown(result: dict) -> str:
    about = result["about"]
    out = [
        f"# Benchmark, {about['date']}, scale {about['scale']}",
        "",
        f"Commit `{about['commit']}`, {about['cores']} cores, PostgreSQL {about['postgresql']}, "
        f"{about['server']}, Celery worker `{about['worker']}`, {about['clients']} clients, "
        f"{about['rounds']} rounds of {about['window_s']} s per endpoint, real and bare "
        "interleaved. Seeded rows: "
        + ", ".join(f"{k.split('.')[-1]} {v:,}" for k, v in about["rows"].items())
        + ".",
        "",
        "`real/bare` is the real endpoint's throughput over the bare DRF view's over the same "
        "tables, measured in the same run (target: 0.67 or more, within 1.5x). Queries are "
        "counted in the driver's process with Django's test client; SQL times are PostgreSQL's "
        "on the same database (the main query is the slowest of the request).",
        "",
        "## Reads",
        "",
        *_throughput_table(result["endpoints"]),
        "",
        "## Queries",
        "",
        *_sql_table(result["endpoints"]),
        "",
        "## Writes",
        "",
        "```json",
        json.dumps(result["writes"], indent=2),
        "```",
    ]
    if result.get("imports"):
        out += ["", "## Import of cases", "", "```json", json.dumps(result["imports"], indent=2)]
        out += ["```"]
    if result.get("page_weights"):
        out += ["", "## Page weights (seeded data)", "", result["page_weights"]]
    for name, profiled in result.get("profiles", {}).items():
        out += ["", f"## Profile: {name} ({profiled.get('samples', 0)} samples)", ""]
        out += ["| our code (inclusive) | % |", "|---|---:|"]
        out += [f"| `{f['frame']}` | {f['share']} |" for f in profiled.get("own_code", [])]
        out += ["", "| our code, innermost frame | % |", "|---|---:|"]
        out += [f"| `{f['frame']}` | {f['share']} |" for f in profiled.get("own_deepest", [])]
        out += ["", "| running (self) | % |", "|---|---:|"]
        out += [f"| `{f['frame']}` | {f['share']} |" for f in profiled.get("self", [])]
    return "\n".join(out) + "\n"


def write(result: dict, directory: Path = RESULTS) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    about = result["about"]
    # The commit in the name: runs of one day (before and after a change) are kept side by side.
    stem = f"{about['date']}-scale-{about['scale']}-{about['commit']}"
    if about.get("quick"):
        stem += "-quick"
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md_path.write_text(markdown(result))
    return json_path, md_path
