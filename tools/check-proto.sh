#!/bin/sh
# Protocol code (proto/) includes only twin/*.h and the C library,
# nothing in sim/ or proto/ reads the wall clock or libc rand, and core/
# knows no backend or layer: it includes none of their headers (nor the
# public ones that are the simulator's or TLS's) and calls no tw_sim_*.
bad=$(grep -nE '#include *[<"](sys/epoll\.h|real/|sim/|core/)' -r --include='*.[ch]' proto)
if [ -n "$bad" ]; then echo "check-proto: backend header in protocol code:"; echo "$bad"; exit 1; fi
bad=$(grep -nE '\b(clock_gettime|gettimeofday|time\(NULL\)|rand\(\)|srand\(|random\(\))' -r --include='*.[ch]' sim proto scenario)
if [ -n "$bad" ]; then echo "check-proto: wall clock or libc rand in sim/, proto/ or scenario/:"; echo "$bad"; exit 1; fi
bad=$(grep -nE '#include *[<"](real/|sim/|tls/|twin/(sim[a-z]*|tls|scenario|programs)\.h)|\btw_sim_' -r --include='*.[ch]' core)
if [ -n "$bad" ]; then echo "check-proto: core/ depends on a backend or a layer:"; echo "$bad"; exit 1; fi
echo "check-proto: proto/ includes only twin/*.h; sim/, proto/ and scenario/ use no wall clock or rand; core/ knows no backend or layer"
