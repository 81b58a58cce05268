#!/usr/bin/env python3
"""Draws throughput by scenario from the benchmarks' JSON lines: rollcall beside the reference
measured in the same run (db_bench fillseq, NATS JetStream, one session, the ward's own ingest,
plain log reading), log scale.

Usage: bench/plot.py BENCH.jsonl OUT.png   (needs gnuplot; bench/run.sh calls it)
Writes OUT.dat beside the PNG (the plotted numbers) and fails when no scenario was found."""
import json
import subprocess
import sys


def rows(lines):
    """(scenario, rollcall events/s, reference events/s or None, reference name)."""
    ingest = {}
    floors = {}
    out = []
    chain = {}
    fanin = {}
    for line in lines:
        b = line.get("bench")
        if b == "ingest" and line.get("system") == "rollcall":
            ingest[(line["clients"], line["batch"])] = float(line["events_per_s"])
        elif b == "ingest" and line.get("system") == "db_bench fillseq":
            floors.setdefault(line["batch"], []).append(float(line["keys_per_s"]))
        elif b == "chain" and line.get("phase") == "sustained":
            chain[line["system"]] = float(line["events_per_s"])
        elif b == "sync" and line.get("phase") == "backlog":
            backlog = float(line["events_per_s"])
        elif b == "sync" and line.get("phase") == "drain":
            out.append(("catch-up drain\\n4 levels", float(line["events_per_s"]), backlog, "ward's own ingest"))
        elif b == "fanin":
            fanin[line["phase"]] = line
        elif b == "ingest_with_tallies":
            out.append(("relayed ingest\\nat VN, tallies", float(line["events_per_s"]), None, ""))
        elif b == "projection_rebuild":
            out.append(("projection\\nrebuild", float(line["rebuild_events_per_s"]),
                        float(line["read_only_events_per_s"]), "reading the log"))
    # Each ingest scenario against the db_bench run of its batch (printed right after it).
    seen = {}
    submits = []
    for (clients, batch), rate in ingest.items():
        i = seen.get(batch, 0)
        seen[batch] = i + 1
        runs = floors.get(batch, [None])
        submits.append((f"submit\\n{clients} x {batch}", rate, runs[min(i, len(runs) - 1)], "db_bench fillseq"))
    out = submits + out
    if "rollcall" in chain:
        nats = next((v for k, v in chain.items() if k.startswith("nats")), None)
        out.append(("live tree\\n4 levels", chain["rollcall"], nats, "NATS JetStream 3-level chain"))
    if "fanin" in fanin:
        ref = fanin.get("reference", {}).get("events_per_s")
        out.append((f"fan-in\\n{fanin['fanin']['sessions']} sessions", float(fanin["fanin"]["events_per_s"]),
                    float(ref) if ref is not None else None, "one session"))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, png = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        lines = [json.loads(l) for l in f if l.strip().startswith("{")]
    data = rows(lines)
    if not data:
        sys.exit(f"plot.py: no benchmark figures in {source}")
    dat = png.rsplit(".", 1)[0] + ".dat"
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# scenario rollcall_events_per_s reference_events_per_s reference\n")
        for name, rate, ref, ref_name in data:
            f.write(f"\"{name}\" {rate:.0f} {ref if ref is not None else '-'} \"{ref_name}\"\n")
    script = f"""
set terminal pngcairo noenhanced size 1400,700 font "DejaVu Sans,10"
set output "{png}"
set title "rollcall throughput by scenario (events/s, log scale), reference in the same run"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1000:*]
set grid ytics
set ylabel "events/s"
set datafile missing "-"
set key outside top center horizontal
set bmargin 5
set xtics scale 0 font ",9"
plot "{dat}" using 2:xtic(1) title "rollcall" lc rgb "#c0392b", \\
     "" using 3 title "reference (db_bench fillseq; NATS chain; one session; ward ingest; log read)" lc rgb "#7f8c8d"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"plot.py: {len(data)} scenarios -> {png} ({dat})", file=sys.stderr)


if __name__ == "__main__":
    main()
