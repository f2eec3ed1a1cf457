#!/bin/sh
# Protocols and apps (proto/, apps/) include only twin/*.h, each other's
# headers and the C library; nothing in sim/, kit/, proto/ or apps/ reads
# the wall clock or libc rand; and core/ knows no backend or layer: it
# includes none of their headers (nor the public ones that are the
# simulator's or TLS's) and calls no tw_sim_*.
bad=$(grep -nE '#include *[<"](sys/epoll\.h|real/|sim/|core/)' -r --include='*.[ch]' proto apps)
if [ -n "$bad" ]; then echo "check-proto: backend header in protocol or app code:"; echo "$bad"; exit 1; fi
bad=$(grep -nE '\b(clock_gettime|gettimeofday|time\(NULL\)|rand\(\)|srand\(|random\(\))' -r --include='*.[ch]' sim kit proto apps scenario)
if [ -n "$bad" ]; then echo "check-proto: wall clock or libc rand in sim/, kit/, proto/, apps/ or scenario/:"; echo "$bad"; exit 1; fi
bad=$(grep -nE '#include *[<"](real/|sim/|tls/|twin/(sim[a-z]*|tls|scenario|programs)\.h)|\btw_sim_' -r --include='*.[ch]' core)
if [ -n "$bad" ]; then echo "check-proto: core/ depends on a backend or a layer:"; echo "$bad"; exit 1; fi
echo "check-proto: proto/ and apps/ include only twin/*.h; sim/, kit/, proto/, apps/ and scenario/ use no wall clock or rand; core/ knows no backend or layer"
