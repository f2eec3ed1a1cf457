# twin - one protocol implementation, two worlds.
#
#   make            libtwin.a, libtwin.so and the twin command (build/)
#   make test       the cmocka suite, then the same suite under ASan+UBSan,
#                   then every fuzz target over its corpus and regressions
#   make demo       a scenario sweep (twin sim, tools/demo.sh)
#   make bench      benchmarks against peers (not part of test)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS each (default 60)
#   make coverage   gcov build: suite + fuzz corpora, lcov report, summary
#   make mutants    the kept mutants of tests/mutants.list, each against
#                   the plain suite (not part of test)
#   make install PREFIX=/usr/local
#   make clean
#
# Missing Debian packages are installed when running as root; otherwise the
# exact apt-get line is printed and make stops.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  += -std=gnu11 $(OPT) $(WARN) -fPIC -Iinclude -I. -pthread
LDLIBS  += -pthread -lyaml -lssl -lcrypto

PKGS    := libcmocka-dev libyaml-dev libssl-dev openssl pkg-config clang libclang-rt-14-dev netcat-openbsd socat redis-tools
# Only `make bench` needs these: the libuv peer, the asyncio peer, CPU
# pinning (taskset), redis-server (the peer of the RESP server), ns-3 (the
# peer of the simulator's datagrams, bench/ns3_udp_echo.cc).
BENCH_PKGS := libuv1-dev python3 util-linux redis-server ns3 libns3-dev

# Only `make coverage` needs these: lcov and genhtml.
COV_PKGS := lcov

# The command (tw_main, cli/) is in the library; cli/twin.c is only the
# `twin` program's main.
CLI_SRC := cli/twin.c
LIB_SRC := $(wildcard core/*.c tls/*.c real/*.c sim/*.c sim/net/*.c sim/programs/*.c kit/*.c proto/*.c apps/*.c scenario/*.c) \
           $(filter-out $(CLI_SRC),$(wildcard cli/*.c))
TEST_SRC:= $(wildcard tests/test_*.c)
TESTLIB_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

define objs
$(patsubst %.c,$(1)/obj/%.o,$(2))
endef

LIB_OBJ  := $(call objs,$(BUILD),$(LIB_SRC))
CLI_OBJ  := $(call objs,$(BUILD),$(CLI_SRC))
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TESTLIB_OBJ := $(call objs,$(BUILD),$(TESTLIB_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all test test-plain test-asan check-deps demo bench install clean check-proto
.PHONY: fuzz fuzz-build fuzz-bins fuzz-regress coverage mutants hashes hashes-update

# The shared library: libtwin.so.$(SOVERSION) is its SONAME, the file is
# libtwin.so.$(VERSION); libtwin.so (for -ltwin) and the SONAME are links.
VERSION   := $(shell sed -n 's/^\#define TWIN_VERSION "\(.*\)"/\1/p' include/twin/twin.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
SONAME    := libtwin.so.$(SOVERSION)

all: $(BUILD)/libtwin.a $(BUILD)/libtwin.so $(BUILD)/twin

check-deps:
	@./tools/deps.sh $(PKGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The page `twin sim --timeline` writes (cli/timeline/) is carried in the
# library as C strings that tools/embed.sh makes from its files.
TIMELINE_SRC := cli/timeline/page.html cli/timeline/page.css cli/timeline/page.js
$(BUILD)/gen/timeline_page.h: $(TIMELINE_SRC) tools/embed.sh
	@mkdir -p $(dir $@)
	./tools/embed.sh tl_html=cli/timeline/page.html tl_css=cli/timeline/page.css \
	  tl_js=cli/timeline/page.js > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/cli/timeline.o: $(BUILD)/gen/timeline_page.h
$(BUILD)/obj/cli/timeline.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/libtwin.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libtwin.so.$(VERSION): $(LIB_OBJ)
	$(CC) $(OPT) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)

$(BUILD)/libtwin.so: $(BUILD)/libtwin.so.$(VERSION)
	ln -sf libtwin.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# The program uses the shared library, so that a shared object loaded with
# --load registers its apps in the same table; it finds the library next
# to it (the build tree) or in ../lib (an installed prefix).
$(BUILD)/twin: $(CLI_OBJ) $(BUILD)/libtwin.so
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) -L$(BUILD) -ltwin \
	  -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib' $(LDLIBS)

# Tests export their functions (-rdynamic), so that a message naming a
# callback through dladdr (twin sim's livelock report) can name theirs.
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJ) $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -rdynamic -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libtwin.a -lcmocka $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtwin.a $(LDLIBS)

# The load generator and the libuv peer share no code with twin: what is
# measured must not measure itself. The libuv peer links libuv (BENCH_PKGS).
$(BUILD)/bench/loadgen $(BUILD)/bench/uv_echo: $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)
$(BUILD)/bench/uv_echo: LDLIBS += -luv

# The ns-3 peer is C++ and links ns-3 only (Debian's libns3-dev; its
# pkg-config files carry a broken -I, so the libraries are named here).
# Only the bench target builds it, and only when ns-3's headers are there.
NS3_LIBS := -lns3-core -lns3-network -lns3-internet -lns3-point-to-point
NS3_HEADER := /usr/include/ns3/core-module.h
$(BUILD)/bench/ns3_udp_echo: bench/ns3_udp_echo.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(OPT) -Wall -Wextra -Werror -o $@ $< $(NS3_LIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Protocol code includes only twin/*.h: that is what makes it run unchanged
# on both backends.
check-proto:
	@./tools/check-proto.sh

test: check-deps
	@$(MAKE) --no-print-directory check-proto
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-asan
	@./tests/prog/sim_hash_check.sh $(CC) 30
	@./tests/prog/scenario_hash_check.sh $(BUILD)/twin
	@$(MAKE) --no-print-directory fuzz-regress
	@./tests/prog/examples.sh $(BUILD)
	@./tools/summary.sh $(BUILD)/test-plain.log $(BUILD)-asan/test-plain.log \
	  $(BUILD)/test-examples.log

# One pass of the suite in $(BUILD); logs to $(BUILD)/test-plain.log.
test-plain: all $(TESTS)
	@./tools/run-tests.sh $(BUILD) $(TESTS)

# The sanitizer pass sweeps each shipped scenario over 30 seeds, not 100
# (TWIN_SCENARIO_SEEDS): the plain pass covers the rest, and ASan's
# tenfold cost would otherwise hold the whole run on that one test.
test-asan:
	@TWIN_SCENARIO_SEEDS=$${TWIN_SCENARIO_SEEDS:-30} $(MAKE) --no-print-directory BUILD=$(BUILD)-asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDLIBS="-pthread -lyaml -lssl -lcrypto -fsanitize=address,undefined" test-plain

# ---- fuzzing (fuzz/, tools/fuzz.sh) ----
# Every fuzz/*.c is a libFuzzer target. They link a libtwin.a of their own,
# built by clang with coverage guidance (fuzzer-no-link) and ASan+UBSan,
# in $(BUILD)-libfuzzer. FUZZ_MAIN is what gives a target its main():
# libFuzzer here, fuzz/standalone/main.c in the gcov build.
FUZZ_SECONDS ?= 60
FUZZ_SRC  := $(wildcard fuzz/*.c)
FUZZ_OPT  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_MAIN ?= -fsanitize=fuzzer

fuzz-bins: $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/libtwin.a $(wildcard include/twin/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(FUZZ_MAIN) $(BUILD)/libtwin.a $(LDLIBS)

# Quietly (-s): make test shows what the targets find, not how each was built.
fuzz-build:
	@$(MAKE) -s --no-print-directory BUILD=$(BUILD)-libfuzzer CC=clang \
	  OPT="$(FUZZ_OPT) -fsanitize=fuzzer-no-link" fuzz-bins

# Each target for FUZZ_SECONDS; crashes land in $(BUILD)-libfuzzer/crashes.
fuzz: check-deps fuzz-build
	@./tools/fuzz.sh run $(BUILD)-libfuzzer $(FUZZ_SECONDS)

# Part of `make test`: each target replays its corpus and its regressions.
fuzz-regress: fuzz-build
	@./tools/fuzz.sh regress $(BUILD)-libfuzzer

# gcov build in $(BUILD)-cov: the suite and the fuzz corpora, then an lcov
# report and one summary line; fails below COVERAGE_MIN% (85) of lines in
# core/ or sim/.
coverage: check-deps
	@./tools/deps.sh $(COV_PKGS)
	@./tools/coverage.sh $(BUILD)-cov

# Mutation testing (not part of `make test`): each mutant of
# tests/mutants.list applied to a scratch copy in $(BUILD)-mutants, the
# plain suite run against it; a report of the test that killed each and
# of any that survived. MUTANTS=id,id runs some; MUTANT_JOBS copies at once.
MUTANT_JOBS ?= 2
mutants: check-deps
	@./tools/deps.sh python3
	@python3 tools/mutants.py -j $(MUTANT_JOBS) --build $(BUILD)-mutants \
	  $(if $(MUTANTS),--only $(MUTANTS))

# The shipped scenarios' trace hashes (tests/data/scenario-hashes.txt):
# `make hashes` compares the tree with the list; `make hashes-update`
# writes the list anew, for a change of behaviour made on purpose.
hashes: all
	@./tests/prog/scenario_hash_check.sh $(BUILD)/twin
hashes-update: all
	@./tools/scenario-hashes.sh $(BUILD)/twin 200 > tests/data/scenario-hashes.txt
	@echo "tests/data/scenario-hashes.txt: $$(wc -l < tests/data/scenario-hashes.txt) runs"

demo: check-deps all
	@./tools/demo.sh $(BUILD)

# Bench packages first: the peers' programs need them to compile.
bench: check-deps
	@./tools/deps.sh $(BENCH_PKGS)
	@$(MAKE) --no-print-directory all $(BENCHES)
	@if [ -f $(NS3_HEADER) ]; then \
	  $(MAKE) --no-print-directory $(BUILD)/bench/ns3_udp_echo; fi
	@./bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/include/twin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/twin/*.h $(DESTDIR)$(PREFIX)/include/twin/
	install -m 644 $(BUILD)/libtwin.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtwin.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtwin.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libtwin.so
	install -m 755 $(BUILD)/twin $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/twin
	install -m 644 fuzz/standalone/main.c $(DESTDIR)$(PREFIX)/share/twin/fuzz_main.c
	sed -e 's|@PREFIX@|$(PREFIX)|g' twin.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/twin.pc

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-*
