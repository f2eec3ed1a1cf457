# twin - one protocol implementation, two worlds.
#
#   make            libtwin.a, libtwin.so and the twin command (build/)
#   make test       the cmocka suite, then the same suite under ASan+UBSan
#   make demo       a simulated scenario
#   make bench      benchmarks against peers (not part of test)
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
LDLIBS  += -pthread

PKGS    := libcmocka-dev libyaml-dev libssl-dev pkg-config clang libclang-rt-14-dev netcat-openbsd socat

LIB_SRC := $(wildcard core/*.c real/*.c sim/*.c proto/*.c)
CLI_SRC := $(wildcard cli/*.c)
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

all: $(BUILD)/libtwin.a $(BUILD)/libtwin.so $(BUILD)/twin

check-deps:
	@./tools/deps.sh $(PKGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtwin.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libtwin.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/twin: $(CLI_OBJ) $(BUILD)/libtwin.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libtwin.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJ) $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libtwin.a -lcmocka $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtwin.a $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Protocol code includes only twin/*.h: that is what makes it run unchanged
# on both backends.
check-proto:
	@./tools/check-proto.sh

test: check-deps
	@$(MAKE) --no-print-directory check-proto
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-asan
	@./tools/summary.sh $(BUILD)/test-plain.log $(BUILD)-asan/test-plain.log

# One pass of the suite in $(BUILD); logs to $(BUILD)/test-plain.log.
test-plain: all $(TESTS)
	@./tools/run-tests.sh $(BUILD) $(TESTS)

test-asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)-asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDLIBS="-pthread -fsanitize=address,undefined" test-plain

demo: check-deps all
	@./tools/demo.sh $(BUILD)

bench: check-deps all $(BENCHES)
	@./bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/include/twin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/twin/*.h $(DESTDIR)$(PREFIX)/include/twin/
	install -m 644 $(BUILD)/libtwin.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtwin.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/twin $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' twin.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/twin.pc

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-*
