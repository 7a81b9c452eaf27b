# sfproxy. `make run` and `make test` first install missing Debian packages
# (scripts/deps.sh), so both work from a clean clone on a fresh Debian 12 machine.

CC ?= cc
VARIANT ?= release
BUILD := build/$(VARIANT)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wwrite-strings -Wvla
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -pthread $(WARN)
# PCRE2 (8-bit code units) for the routes' patterns: pkg-config's flags when it knows the
# library, its plain name otherwise (Debian's libpcre2-dev installs both).
PCRE2_LIBS := $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
LIBS := -lmicrohttpd -lcurl -ljansson -lgnutls $(PCRE2_LIBS) -lxxhash -lm -pthread

# The ASan build also runs the checks too slow for the others (SF_DEBUG_ASSERT, base.h).
ifeq ($(VARIANT),asan)
OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
DEBUG_DEFS := -DSF_DEBUG
else ifeq ($(VARIANT),tsan)
OPT := -O1 -fsanitize=thread -fno-omit-frame-pointer
else
OPT := -O2
endif

# Quiet by default: one short line per file built; `make V=1` prints the whole commands.
ifeq ($(V),1)
Q :=
SAY := @true
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
Q := @
SAY := @true
else
Q := @
SAY := @printf '  %-5s %s\n'
endif

ALL_CFLAGS := $(CFLAGS_BASE) $(OPT) $(DEBUG_DEFS) $(CFLAGS)
ALL_LDFLAGS := $(OPT) $(LDFLAGS)

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit integration asan tsan bench fuzz format format-check analyze clean \
        install uninstall check-includes

# Where `make install` puts things (DESTDIR is prepended to every path, for packaging).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man

all: $(BUILD)/sfproxy $(UNIT_BIN) build/man/sfproxy.json.5

deps:
	@scripts/deps.sh

$(BUILD)/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(dir $@)
	$(SAY) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsfproxy.a: $(LIB_OBJ)
	$(Q)rm -f $@
	$(SAY) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/sfproxy: cmd/sfproxy.c $(BUILD)/libsfproxy.a lib/*.h
	$(SAY) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BUILD)/libsfproxy.a $(ALL_LDFLAGS) $(LIBS) -o $@

# sfproxy.json(5)'s key list is the key tables of docs/configuration.md.
build/man/sfproxy.json.5: docs/configuration.md scripts/manjson.py
	@mkdir -p $(dir $@)
	$(SAY) MAN $@
	$(Q)python3 scripts/manjson.py docs/configuration.md > $@

# The binary, the manual pages, the systemd unit (its paths made PREFIX's and
# SYSCONFDIR's), and the example config and logrotate file unless they exist already.
install: $(BUILD)/sfproxy build/man/sfproxy.json.5
	install -D -m 755 $(BUILD)/sfproxy $(DESTDIR)$(PREFIX)/bin/sfproxy
	install -D -m 644 man/sfproxy.8 $(DESTDIR)$(MANDIR)/man8/sfproxy.8
	install -D -m 644 build/man/sfproxy.json.5 $(DESTDIR)$(MANDIR)/man5/sfproxy.json.5
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local|$(PREFIX)|g' -e 's|/etc/sfproxy|$(SYSCONFDIR)/sfproxy|g' \
	    conf/sfproxy.service > $(DESTDIR)$(UNITDIR)/sfproxy.service
	chmod 644 $(DESTDIR)$(UNITDIR)/sfproxy.service
	@scripts/install_keep.sh conf/sfproxy.json $(DESTDIR)$(SYSCONFDIR)/sfproxy/sfproxy.json
	@scripts/install_keep.sh conf/logrotate.sfproxy $(DESTDIR)$(SYSCONFDIR)/logrotate.d/sfproxy

# What install put there; a config or logrotate file that was changed since is kept.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sfproxy $(DESTDIR)$(MANDIR)/man8/sfproxy.8 \
	      $(DESTDIR)$(MANDIR)/man5/sfproxy.json.5 $(DESTDIR)$(UNITDIR)/sfproxy.service
	@scripts/install_keep.sh --remove conf/sfproxy.json $(DESTDIR)$(SYSCONFDIR)/sfproxy/sfproxy.json
	@scripts/install_keep.sh --remove conf/logrotate.sfproxy \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/sfproxy
	-@rmdir $(DESTDIR)$(SYSCONFDIR)/sfproxy 2>/dev/null

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsfproxy.a lib/*.h
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BUILD)/libsfproxy.a $(ALL_LDFLAGS) $(LIBS) -lcmocka -o $@

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/sfproxy
	@scripts/demo.sh $(BUILD)/sfproxy

# The whole suite: unit tests, then integration tests against the real binary.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-includes
	@scripts/run_tests.sh $(BUILD)

unit: all check-includes
	@scripts/run_tests.sh $(BUILD) unit

# No two headers include each other, no two modules depend on each other (scripts/includes.py).
check-includes:
	@python3 scripts/includes.py

integration: all
	@scripts/run_tests.sh $(BUILD) integration

asan: deps
	@$(MAKE) --no-print-directory VARIANT=asan all
	@SF_TEST_TIMEOUT_MULT=3 scripts/run_tests.sh build/asan

tsan: deps
	@$(MAKE) --no-print-directory VARIANT=tsan all
	@SF_TEST_TIMEOUT_MULT=5 TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1" \
		scripts/run_tests.sh build/tsan

bench: all
	@scripts/bench $(BUILD)/sfproxy

# libFuzzer targets (tests/fuzz/fuzz_*.c) with ASan+UBSan, over the library compiled with
# coverage; each runs FUZZ_SECONDS (default 30) from its seeds (tests/fuzz/corpus/).
FUZZ_CC := clang
FUZZ_FLAGS := $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=all -DSF_DEBUG
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJ := $(LIB_SRC:lib/%.c=build/fuzz/lib/%.o)

build/fuzz/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/libsfproxy.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h build/fuzz/libsfproxy.a lib/*.h
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< build/fuzz/libsfproxy.a $(LIBS) -o $@

fuzz:
	@scripts/deps.sh --fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@scripts/fuzz.sh $(or $(FUZZ_SECONDS),30) $(FUZZ_BIN)

format:
	@scripts/format.sh

format-check:
	@scripts/format.sh --check

# clang's static analyzer over every source; any finding fails.
analyze:
	@scripts/deps.sh --analyze
	@for f in lib/*.c cmd/*.c; do \
	    clang --analyze -Xanalyzer -analyzer-werror $(CFLAGS_BASE) -o /dev/null $$f || exit 1; \
	done; echo "analyze: clean"

clean:
	rm -rf build
