#!/bin/bash
# Replay benchmark: nsm-sensor against the copy floor (tcpdump -r IN -w OUT) and the read floor
# (tcpdump -r IN -w /dev/null) on a deterministic busy-gateway workload, then the cost of the
# address index from 10 to 1,000,000 listed entries, then the issue-12 list shape (a million
# entries spread over all of IPv4) against 10 under two traffic patterns, 10 and 1,000,000
# alternating run by run, then the same workload with the content rule files added to the IP
# lists, then an HTTP-heavy workload (benches/gen_http.py: many small keep-alive requests) with
# the IP lists only and with the content files (reassembly and HTTP inspection on).
# Prints markdown tables (the README's).
#
# usage: benches/replay-bench.sh [FRAMES] [RUNS]      (defaults 1000000 and 5)
# Environment: BIN (default target/release/nsm-sensor), WORK (default target/bench-work),
#   SECTIONS (default "floor scale spread content http": the sections to run),
#   HTTP_FRAMES (default 300000: frames of the HTTP workload),
#   SHARED (default ../shared: the shared data beside the checkout, for the content files).
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES=${1:-1000000}
RUNS=${2:-5}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-target/release/nsm-sensor}
WORK=${WORK:-target/bench-work}
ET=rules/et
LISTS=("$ET/emerging-botcc.rules" "$ET/emerging-compromised.rules" "$ET/emerging-ciarmy.rules"
       "$ET/emerging-drop.rules" "$ET/emerging-dshield.rules" "$ET/emerging-tor.rules")
SECTIONS=${SECTIONS:-floor scale spread content http}
HTTP_FRAMES=${HTTP_FRAMES:-300000}
SHARED=${SHARED:-../shared}
CONTENT=("$SHARED/data/rules/community/community.rules" "$SHARED/data/rules/et/emerging-scan.rules"
         "$SHARED/data/rules/et/emerging-malware.rules" "$SHARED/data/rules/et/emerging-chat.rules")
# want SECTION : whether SECTION is one of $SECTIONS
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
mkdir -p "$WORK"
IN="$WORK/workload-$FRAMES.pcap"
if want floor || want scale || want content; then
  [ -s "$IN" ] || python3 benches/gen_workload.py "$IN" "$FRAMES" "${LISTS[@]}"
fi
[ -n "${BIN_GIVEN:-}" ] || cargo build --release -q
RARGS=()
for f in "${LISTS[@]}"; do RARGS+=(-r "$f"); done
CARGS=()
for f in "${CONTENT[@]}"; do CARGS+=(-r "$f"); done

# measure NAME CMD... : runs CMD $RUNS times, keeps "wall cpu rss_kb" per run in $WORK/NAME.runs
measure() {
  local name=$1; shift
  : > "$WORK/$name.runs"
  for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/out" && mkdir -p "$WORK/out"
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr"
    # nsm-sensor's own packets/s covers the packet loop only (rule loading excluded).
    pps=$(grep -o '([0-9]* packets/s)' "$WORK/$name.stdout" | grep -o '[0-9]*' || true)
    awk -v pps="${pps:-0}" '{printf "%s %.3f %s %s\n", $1, $2 + $3, $4, pps}' "$WORK/time.txt" >> "$WORK/$name.runs"
  done
}

# median COLUMN FILE
median() { sort -n -k"$1","$1" "$2" | awk -v c="$1" '{a[NR]=$c} END {print a[int((NR+1)/2)]}'; }

if want floor; then
measure read_floor tcpdump -r "$IN" -w /dev/null
measure copy_floor tcpdump -r "$IN" -w "$WORK/out/copy.pcap"
measure detect "$BIN" replay -q --no-ring --home-net 192.168.0.0/16 "${RARGS[@]}" -l "$WORK/out/log" "$IN"
cat > "$WORK/ring.toml" <<TOML
[ring]
files = 10
file_size_mb = 100
TOML
cat > "$WORK/ring-no-evidence.toml" <<TOML
[ring]
files = 10
file_size_mb = 100
[evidence]
enabled = false
TOML
# The whole job with the evidence store off and on (on is the default), alternating run by run.
: > "$WORK/whole_job.all"; : > "$WORK/whole_job_no_evidence.all"
for _ in $(seq "$RUNS"); do
  RUNS=1 measure whole_job_no_evidence "$BIN" replay -q -c "$WORK/ring-no-evidence.toml" --home-net 192.168.0.0/16 "${RARGS[@]}" -l "$WORK/out/log" --ring-dir "$WORK/out/ring" "$IN"
  cat "$WORK/whole_job_no_evidence.runs" >> "$WORK/whole_job_no_evidence.all"
  RUNS=1 measure whole_job "$BIN" replay -q -c "$WORK/ring.toml" --home-net 192.168.0.0/16 "${RARGS[@]}" -l "$WORK/out/log" --ring-dir "$WORK/out/ring" "$IN"
  cat "$WORK/whole_job.runs" >> "$WORK/whole_job.all"
  events=$(find "$WORK/out/log/evidence" -name '*.pcap' | wc -l)
done
mv "$WORK/whole_job.all" "$WORK/whole_job.runs"; mv "$WORK/whole_job_no_evidence.all" "$WORK/whole_job_no_evidence.runs"

copy_wall=$(median 1 "$WORK/copy_floor.runs")
echo
echo "Workload: $FRAMES frames ($(du -m "$IN" | cut -f1) MB), medians of $RUNS runs, $(nproc) cores"
echo
echo "| command | wall s | CPU s | packets/s | peak RSS MB | wall vs copy floor |"
echo "|---|---|---|---|---|---|"
for name in read_floor copy_floor detect whole_job_no_evidence whole_job; do
  w=$(median 1 "$WORK/$name.runs"); c=$(median 2 "$WORK/$name.runs"); r=$(median 3 "$WORK/$name.runs")
  case $name in
    read_floor) label='`tcpdump -r IN -w /dev/null` (read floor)';;
    copy_floor) label='`tcpdump -r IN -w OUT` (copy floor)';;
    detect) label='`nsm-sensor replay --no-ring`, six ET IP lists';;
    whole_job_no_evidence) label='`nsm-sensor replay` with the ring (10 × 100 MB), evidence store off';;
    whole_job) label="\`nsm-sensor replay\` with the ring and the evidence store ($events events kept)";;
  esac
  awk -v l="$label" -v w="$w" -v c="$c" -v r="$r" -v n="$FRAMES" -v cw="$copy_wall" \
    'BEGIN {printf "| %s | %.2f | %.2f | %.0f | %.1f | %.2f× |\n", l, w, c, n / w, r / 1024, w / cw}'
done
awk -v a="$(median 1 "$WORK/whole_job.runs")" -v b="$(median 1 "$WORK/whole_job_no_evidence.runs")" \
  'BEGIN {printf "\nEvidence store on: %.3f× the wall time with it off.\n", a / b}'

fi

if want scale; then
echo
echo "Scaling of the address index (generated lists, single addresses and CIDRs, IPv4 and IPv6):"
echo
echo "| listed entries | rules | compile ms | packets/s (packet loop) | wall s | CPU s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
for n in 10 10000 100000 1000000; do
  lf="$WORK/list-$n.rules"
  [ -s "$lf" ] || python3 benches/gen_lists.py "$lf" "$n"
  measure "scale-$n" "$BIN" replay -q --no-ring --home-net 192.168.0.0/16 -r "$lf" -l "$WORK/out/log" "$IN"
  ms=$(grep -o 'compiled in [0-9.]* ms' "$WORK/scale-$n.stderr" | grep -o '[0-9.]*' | head -1)
  rules=$(grep -c '^alert' "$lf")
  w=$(median 1 "$WORK/scale-$n.runs"); c=$(median 2 "$WORK/scale-$n.runs"); r=$(median 3 "$WORK/scale-$n.runs")
  p=$(median 4 "$WORK/scale-$n.runs")
  [ "$n" = 10 ] && p10=$p
  [ "$n" = 1000000 ] && p1m=$p
  awk -v n="$n" -v ru="$rules" -v ms="${ms:-?}" -v w="$w" -v c="$c" -v r="$r" -v p="$p" \
    'BEGIN {printf "| %d | %d | %s | %d | %.2f | %.2f | %.1f |\n", n, ru, ms, p, w, c, r / 1024}'
done
echo
awk -v a="${p1m:-0}" -v b="${p10:-1}" 'BEGIN {printf "Flatness: packets/s with 1,000,000 listed entries = %.2f× that with 10.\n", a / b}'

fi

if want spread; then
echo
echo "Spread feeds (80 % /32 over all of IPv4, 10 % /24-/28, 10 % IPv6; gen_lists.py N spread-ip:"
echo "alert ip rules, as 'nsm-sensor update' writes an IP feed),"
echo "10 and 1,000,000 entries alternating, medians of $RUNS runs each:"
echo
echo "| traffic | listed entries | compile ms | packets/s (packet loop) | vs 10 entries | peak RSS MB |"
echo "|---|---|---|---|---|---|"
for n in 10 1000000; do
  lf="$WORK/spread-$n.rules"
  [ -s "$lf" ] || python3 benches/gen_lists.py "$lf" "$n" spread-ip
done
for m in pool random; do
  pin="$WORK/workload-$m-$FRAMES.pcap"
  [ -s "$pin" ] || python3 benches/gen_workload.py "$pin" "$FRAMES" --remote "$m" "${LISTS[@]}"
  for n in 10 1000000; do : > "$WORK/spread-$m-$n.all"; done
  for _ in $(seq "$RUNS"); do
    for n in 10 1000000; do
      RUNS=1 measure "spread-$m-$n" "$BIN" replay -q --no-ring --home-net 192.168.0.0/16 \
        -r "$WORK/spread-$n.rules" -l "$WORK/out/log" "$pin"
      ms=$(grep -o 'compiled in [0-9.]* ms' "$WORK/spread-$m-$n.stderr" | grep -o '[0-9.]*' | head -1)
      awk -v ms="${ms:-0}" '{print $0, ms}' "$WORK/spread-$m-$n.runs" >> "$WORK/spread-$m-$n.all"
    done
  done
  p10=$(median 4 "$WORK/spread-$m-10.all")
  for n in 10 1000000; do
    p=$(median 4 "$WORK/spread-$m-$n.all"); ms=$(median 5 "$WORK/spread-$m-$n.all")
    r=$(median 3 "$WORK/spread-$m-$n.all")
    awk -v m="$m" -v n="$n" -v ms="$ms" -v p="$p" -v b="$p10" -v r="$r" \
      'BEGIN {printf "| %s | %d | %s | %d | %.2f× | %.1f |\n", m, n, ms, p, p / b, r / 1024}'
  done
done
fi

# rules_loaded NAME : the rule count the sensor logged for the last run of NAME
rules_loaded() { grep -o '[0-9]* rules loaded' "$WORK/$1.stderr" | grep -o '^[0-9]*' | head -1; }

# content_table TITLE PCAP FRAMES TAG : the IP lists alone and with the content files added,
# alternating run by run, one markdown table, then the stream and HTTP counters of the last run.
content_table() {
  local title=$1 pin=$2 frames=$3 tag=$4
  for v in ip content; do : > "$WORK/$tag-$v.all"; done
  for _ in $(seq "$RUNS"); do
    RUNS=1 measure "$tag-ip" "$BIN" replay -q --no-ring --home-net 192.168.0.0/16 "${RARGS[@]}" \
      -l "$WORK/out/log" "$pin"
    cat "$WORK/$tag-ip.runs" >> "$WORK/$tag-ip.all"
    RUNS=1 measure "$tag-content" "$BIN" replay -q --no-ring --home-net 192.168.0.0/16 "${RARGS[@]}" \
      "${CARGS[@]}" -l "$WORK/out/log" "$pin"
    cat "$WORK/$tag-content.runs" >> "$WORK/$tag-content.all"
  done
  echo
  echo "$title: $frames frames ($(du -m "$pin" | cut -f1) MB), IP lists alone and with the content"
  echo "files, alternating run by run, medians of $RUNS runs, $(nproc) cores:"
  echo
  echo "| rules | loaded | alerts | wall s | CPU s | packets/s (packet loop) | peak RSS MB |"
  echo "|---|---|---|---|---|---|---|"
  for v in ip content; do
    case $v in
      ip) label='six ET IP lists';;
      content) label='six ET IP lists + community, ET scan/malware/chat';;
    esac
    w=$(median 1 "$WORK/$tag-$v.all"); c=$(median 2 "$WORK/$tag-$v.all"); r=$(median 3 "$WORK/$tag-$v.all")
    p=$(median 4 "$WORK/$tag-$v.all")
    alerts=$(grep -o '[0-9]* alerts' "$WORK/$tag-$v.stdout" | grep -o '^[0-9]*' || true)
    awk -v l="$label" -v n="$(rules_loaded "$tag-$v")" -v a="${alerts:-?}" -v w="$w" -v c="$c" \
      -v p="$p" -v r="$r" \
      'BEGIN {printf "| %s | %s | %s | %.2f | %.2f | %d | %.1f |\n", l, n, a, w, c, p, r / 1024}'
  done
  echo
  if grep -q '^stream:' "$WORK/$tag-ip.stdout"; then
    echo "IP lists alone: reassembly ran ($(grep '^stream:' "$WORK/$tag-ip.stdout"))."
  else
    echo "IP lists alone: no stream or HTTP counters (reassembly off: no loaded rule needs it)."
  fi
  echo "With the content files, last run:"
  echo
  echo '```'
  grep -E '^(stream|http):' "$WORK/$tag-content.stdout" || true
  echo '```'
}

if want content; then
  content_table "W1 (busy gateway) with the content rule files" "$IN" "$FRAMES" w1
fi

if want http; then
  HIN="$WORK/http-$HTTP_FRAMES.pcap"
  [ -s "$HIN" ] || python3 benches/gen_http.py "$HIN" "$HTTP_FRAMES"
  content_table "HTTP-heavy workload (benches/gen_http.py)" "$HIN" "$HTTP_FRAMES" http
fi
