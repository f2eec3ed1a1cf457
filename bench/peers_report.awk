# bench/peers_report.awk - medians of bench/peers.sh's runs, as one table
# for people and JSON lines for machines (appended to the file `out`).
#
# Input: ROW <tab> SERVER <tab> one JSON object from bench/loadgen.c.
# Variables: out (appended to), peers ("twin libuv asyncio"), repeats, seconds,
# stream_bytes, idle_conns.
#
# Map: parse (collect each figure); median; bound (who set the pace);
# table and JSON per row kind (echo, stream, idle); a closing summary
# against the targets.
#
# A row is "server"-bound when the server used >= 90% of its core and the
# client did not; "client"-bound the other way round (the load generator
# set the pace: a ratio there is not the servers' difference); "both" when
# both were saturated; "latency" when neither was (round trips and
# wake-ups set the pace). Messages per server CPU-second compare the
# servers whatever the bound.
BEGIN {
    FS = "\t"
    nkeys = split("msgs_per_s mib_per_s p50_us p99_us p999_us server_cpu_pct client_cpu_pct msgs_per_server_cpu_s server_rss_kib rss_bytes_per_conn", keys, " ")
    nservers = split(peers, servers, " ")
}

function field(json, key,    m) {
    if (!match(json, "\"" key "\": -?[0-9.]+"))
        return ""
    m = substr(json, RSTART, RLENGTH)
    sub(/.*: /, "", m)
    return m + 0
}

{
    row = $1; srv = $2
    if (!(row in seen)) { seen[row] = 1; rows[++nrows] = row }
    n = ++count[row, srv]
    for (k = 1; k <= nkeys; k++)
        val[row, srv, keys[k], n] = field($3, keys[k])
}

function median(row, srv, key,    n, i, j, a, t) {
    n = count[row, srv]
    if (n == 0)
        return ""
    for (i = 1; i <= n; i++) a[i] = val[row, srv, key, i]
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

function bound(row, srv,    s, c) {
    s = median(row, srv, "server_cpu_pct"); c = median(row, srv, "client_cpu_pct")
    if (s >= 90 && c >= 90) return "both"
    if (s >= 90) return "server"
    if (c >= 90) return "client"
    return "latency"
}

function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "0" }

# One JSON line: twin's figure against one peer's, with extra fields.
function emit(name, unit, v, peer, pv, extra) {
    printf "{\"bench\": \"%s\", \"value\": %s, \"unit\": \"%s\", \"peer\": \"%s\", \"peer_value\": %s, \"ratio\": %s%s}\n", \
        name, v, unit, peer, pv, ratio(v, pv), extra >> out
}

function label(row,    p, s, c) {
    if (row == "stream") return sprintf("stream %d MiB x 1", stream_bytes / 1048576)
    if (row == "idle") return sprintf("idle %d conns", idle_conns)
    split(row, p, "x"); s = p[1]; c = p[2]
    s = s >= 1024 ? (s / 1024) "KiB" : s "B"
    return "echo " s " x " c
}

function num(v, fmt) { return v == "" ? "-" : sprintf(fmt, v) }

function echo_row(row,    name, i, s, t, pk, kv, x) {
    name = label(row)
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (!count[row, s]) continue
        x = ""
        if (s != "twin" && count[row, "twin"])
            x = sprintf("  %6sx %6sx %6sx", \
                ratio(median(row, "twin", "msgs_per_s"), median(row, s, "msgs_per_s")), \
                ratio(median(row, "twin", "p99_us"), median(row, s, "p99_us")), \
                ratio(median(row, "twin", "msgs_per_server_cpu_s"), median(row, s, "msgs_per_server_cpu_s")))
        printf "%-16s %-8s %10s %9s %8s %8s %9s %5s%% %5s%% %11s %-6s%s\n", \
            i == 1 ? name : "", s, num(median(row, s, "msgs_per_s"), "%.0f"), \
            num(median(row, s, "mib_per_s"), "%.1f"), num(median(row, s, "p50_us"), "%.1f"), \
            num(median(row, s, "p99_us"), "%.1f"), num(median(row, s, "p999_us"), "%.1f"), \
            num(median(row, s, "server_cpu_pct"), "%.0f"), num(median(row, s, "client_cpu_pct"), "%.0f"), \
            num(median(row, s, "msgs_per_server_cpu_s"), "%.0f"), bound(row, s), x
    }
    if (!count[row, "twin"]) return
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (s == "twin" || !count[row, s]) continue
        t = ", \"bound\": \"" bound(row, "twin") "\", \"peer_bound\": \"" bound(row, s) "\""
        emit(name ": msgs/s", "msgs/s", median(row, "twin", "msgs_per_s"), s, median(row, s, "msgs_per_s"), t)
        emit(name ": MiB/s", "MiB/s", median(row, "twin", "mib_per_s"), s, median(row, s, "mib_per_s"), t)
        split("p50_us:p50 p99_us:p99 p999_us:p99.9", pk, " ")
        for (x = 1; x <= 3; x++) {
            split(pk[x], kv, ":")
            emit(name ": " kv[2] " latency", "us", median(row, "twin", kv[1]), s, median(row, s, kv[1]), t)
        }
        emit(name ": msgs per server CPU-s", "msgs/cpu-s", median(row, "twin", "msgs_per_server_cpu_s"), s, median(row, s, "msgs_per_server_cpu_s"), t)
        emit(name ": server CPU", "%", median(row, "twin", "server_cpu_pct"), s, median(row, s, "server_cpu_pct"), t)
        emit(name ": client CPU", "%", median(row, "twin", "client_cpu_pct"), s, median(row, s, "client_cpu_pct"), t)
    }
}

# Streaming: MiB/s, and MiB per server CPU-second in the per-CPU column.
function stream_row(row,    name, i, s, x, mib, cpu, per, tw) {
    name = label(row)
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        cpu = median(row, s, "server_cpu_pct")
        per[s] = cpu > 0 ? median(row, s, "mib_per_s") / (cpu / 100) : 0
    }
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (!count[row, s]) continue
        mib = median(row, s, "mib_per_s"); cpu = median(row, s, "server_cpu_pct")
        x = ""
        if (s != "twin" && count[row, "twin"])
            x = sprintf("  %6sx %7s %6sx", ratio(median(row, "twin", "mib_per_s"), mib), "", ratio(per["twin"], per[s]))
        printf "%-16s %-8s %10s %9.1f %8s %8s %9s %5.0f%% %5.0f%% %11s %-6s%s\n", \
            i == 1 ? name : "", s, "-", mib, "-", "-", "-", cpu, \
            median(row, s, "client_cpu_pct"), sprintf("%.0f MiB", per[s]), bound(row, s), x
    }
    if (!count[row, "twin"]) return
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (s == "twin" || !count[row, s]) continue
        tw = ", \"bound\": \"" bound(row, "twin") "\", \"peer_bound\": \"" bound(row, s) "\""
        emit(name ": MiB/s", "MiB/s", median(row, "twin", "mib_per_s"), s, median(row, s, "mib_per_s"), tw)
        emit(name ": MiB per server CPU-s", "MiB/cpu-s", sprintf("%.1f", per["twin"]), s, sprintf("%.1f", per[s]), tw)
        emit(name ": server CPU", "%", median(row, "twin", "server_cpu_pct"), s, median(row, s, "server_cpu_pct"), tw)
        emit(name ": client CPU", "%", median(row, "twin", "client_cpu_pct"), s, median(row, s, "client_cpu_pct"), tw)
    }
}

function idle_row(row,    name, i, s, x) {
    name = label(row)
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (!count[row, s]) continue
        x = s != "twin" && count[row, "twin"] ? sprintf("  twin/%s %sx", s, \
            ratio(median(row, "twin", "rss_bytes_per_conn"), median(row, s, "rss_bytes_per_conn"))) : ""
        printf "%-16s %-8s server RSS %8.1f MiB, %6.0f bytes per idle connection%s\n", \
            i == 1 ? name : "", s, median(row, s, "server_rss_kib") / 1024, \
            median(row, s, "rss_bytes_per_conn"), x
    }
    if (!count[row, "twin"]) return
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (s == "twin" || !count[row, s]) continue
        emit(name ": server RSS per connection", "bytes", median(row, "twin", "rss_bytes_per_conn"), s, median(row, s, "rss_bytes_per_conn"), "")
        emit(name ": server RSS", "KiB", median(row, "twin", "server_rss_kib"), s, median(row, s, "server_rss_kib"), "")
    }
}

# min, median and max of twin/peer for one figure over the echo rows
# whose peer's bound is one of `want` ("" for all); "-" if none.
function spread(peer, key, want,    r, n, a, i, j, t, row) {
    n = 0
    for (r = 1; r <= nrows; r++) {
        row = rows[r]
        if (row == "stream" || row == "idle" || !count[row, "twin"] || !count[row, peer]) continue
        if (want != "" && !index(" " want " ", " " bound(row, peer) " ")) continue
        if (median(row, peer, key) <= 0) continue
        a[++n] = median(row, "twin", key) / median(row, peer, key)
    }
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return sprintf("%.2fx / %.2fx / %.2fx over %d rows", a[1], n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[n], n)
}

function summary(    i, s) {
    printf "\nSummary: twin/peer, min / median / max over the echo rows (p99: below 1 is twin lower)\n"
    for (i = 1; i <= nservers; i++) {
        s = servers[i]
        if (s == "twin") continue
        printf "  %-8s %-36s %s\n", s, "msgs/s, all rows", spread(s, "msgs_per_s", "")
        printf "  %-8s %-36s %s\n", "", "msgs/s, rows the peer was server-bound", spread(s, "msgs_per_s", "server")
        printf "  %-8s %-36s %s\n", "", "msgs/s, rows the peer's core was full", spread(s, "msgs_per_s", "server both")
        printf "  %-8s %-36s %s\n", "", "msgs per server CPU-s, all rows", spread(s, "msgs_per_server_cpu_s", "")
        printf "  %-8s %-36s %s\n", "", "p99 latency, all rows", spread(s, "p99_us", "")
    }
    if (count["idle", "twin"])
        printf "  twin     user-space memory per idle connection: %.0f bytes\n", median("idle", "twin", "rss_bytes_per_conn")
}

END {
    printf "\nThe real backend against its peers: medians of %d run(s) of %s s each; server on one core, load generator on the other.\n", repeats, seconds
    printf "Ratios are twin/peer: msgs/s and msgs/cpu-s higher is better for twin, p99 lower is.\n"
    printf "%-16s %-8s %10s %9s %8s %8s %9s %6s %6s %11s %-6s  %7s %7s %7s\n", \
        "row", "server", "msgs/s", "MiB/s", "p50 us", "p99 us", "p99.9 us", "srv", "cli", "msgs/cpu-s", "bound", "msgs/s", "p99", "per-cpu"
    for (r = 1; r <= nrows; r++) {
        if (rows[r] == "stream") stream_row(rows[r])
        else if (rows[r] == "idle") idle_row(rows[r])
        else echo_row(rows[r])
    }
    summary()
}
