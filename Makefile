# ssefs - non-recursive Makefile.
#
#   make              build ./ssefs
#   make check        the include rule, unit + integration tests (installs
#                     missing deps first)
#   make layers       includes point one way (tools/check-layers.sh)
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan
#   make check JOBS=3       3 unit suites / integration scripts at a time
#   make demo         the main job end to end on the embedded defaults
#   make deps         install the Debian packages build, tests and bench need
#   make fuzz         libFuzzer on the header and host-cache parsers, both
#                     at once (FUZZ_SECONDS=60: 30 s each, one core each)
#   make bench        benchmarks (bench/), writes BENCHMARKS.md
#   make bench-blob   blob stores vs the directory store and az (issue 16)
#   make install      PREFIX=/usr/local DESTDIR= (the mount helper goes to
#                     SBINDIR=/sbin whatever PREFIX is: mount(8) looks there;
#                     bash completion to COMPLETIONDIR)
#   make uninstall    the same variables: removes what install put there
#
# Knobs: V=1 (echo commands), SANITIZE=1, -include config.mak.

-include config.mak

CC        ?= cc
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= /sbin
MANDIR    ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION   := 0.1.0
PKGS      := fuse3 libcrypto libsodium yaml-0.1 libcurl liburing

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wstrict-prototypes \
	     -Wmissing-prototypes -Wwrite-strings -Wno-sign-compare \
	     -Wno-missing-field-initializers -Wvla \
	     -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -DFUSE_USE_VERSION=35 \
	     -DSSEFS_VERSION='"$(VERSION)"' -I. -MMD -MP \
	     $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

ifdef SANITIZE
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
BUILD     := build-san
else
BUILD     := build
endif

ifndef V
QUIET_CC  = @echo '   CC $@';
QUIET_LD  = @echo '   LD $@';
QUIET_GEN = @echo '  GEN $@';
endif

# Every .c in a module directory belongs to the library; cli/main.c is the
# program.  New files are picked up without touching this Makefile.
LIB_SRC   := $(sort $(wildcard crypto/*.c keyvault/*.c disk/*.c cache/*.c \
			store/*.c svc/*.c fuse/*.c util/*.c cli/*.c))
LIB_SRC   := $(filter-out cli/main.c,$(LIB_SRC))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC  := $(sort $(wildcard tests/unit/check_*.c))
UNIT_OBJ  := $(UNIT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/run.o
SUITES    := $(patsubst tests/unit/check_%.c,%,$(UNIT_SRC))

PROG      := ssefs
ifdef SANITIZE
PROG      := $(BUILD)/ssefs
endif

# tests/azb-tool.c drives the blob client (store/) for t7000, and
# tests/backing-tool.c a store backend (t7001); not installed
AZB_TOOL  := $(BUILD)/azb-tool
BACKING_TOOL := $(BUILD)/backing-tool

all: $(PROG) $(AZB_TOOL) $(BACKING_TOOL)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libssefs.a: $(LIB_OBJ)
	@rm -f $@
	$(QUIET_LD)ar rcs $@ $^

$(PROG): $(BUILD)/cli/main.o $(BUILD)/libssefs.a
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(AZB_TOOL): $(BUILD)/tests/azb-tool.o $(BUILD)/libssefs.a
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BACKING_TOOL): $(BUILD)/tests/backing-tool.o $(BUILD)/libssefs.a
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The unit runner learns its suites from the file names: check_FOO.c
# defines Suite *suite_FOO(void).
$(BUILD)/tests/unit/suites.h: Makefile $(UNIT_SRC)
	@mkdir -p $(dir $@)
	$(QUIET_GEN)printf 'SUITE(%s)\n' $(SUITES) >$@
$(BUILD)/tests/unit/run.o: CFLAGS += -I$(BUILD)/tests/unit
$(BUILD)/tests/unit/run.o: $(BUILD)/tests/unit/suites.h

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libssefs.a
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) \
		$(shell pkg-config --libs check)

# JOBS=N: N unit suites, then N integration scripts, at a time (CI: see
# .ci/run); NO_SKIP=1 makes a skipped integration test fail the run.
JOBS      ?= 1
unit: $(BUILD)/unit-tests
ifeq ($(JOBS),1)
	$(BUILD)/unit-tests
else
	@bash tests/unit/run-suites.sh $(BUILD)/unit-tests $(JOBS)
endif

integration: $(PROG) $(AZB_TOOL) $(BACKING_TOOL)
	cd tests/t && SSEFS_BIN=$(abspath $(PROG)) JOBS=$(JOBS) \
		NO_SKIP=$(NO_SKIP) ./run-all.sh

# util < crypto < disk < keyvault, cache, store < svc < fuse < cli
layers:
	@sh tools/check-layers.sh .

check: deps
	@$(MAKE) --no-print-directory layers
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

demo: deps
	@$(MAKE) --no-print-directory $(PROG)
	SSEFS_BIN=$(abspath $(PROG)) sh examples/demo.sh

deps:
	@sh tools/deps.sh

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -I. \
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	$(shell pkg-config --cflags libsodium libcrypto)
FUZZ_LIBS = $(shell pkg-config --libs libsodium libcrypto) -lpthread
FUZZ_HDRS = $(wildcard crypto/*.h cache/*.h util/*.h)

build-fuzz/fuzz_envelope: tests/fuzz/fuzz_envelope.c crypto/envelope.c \
		crypto/secmem.c crypto/hkdf.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

build-fuzz/fuzz_hcache: tests/fuzz/fuzz_hcache.c cache/hcache.c \
		crypto/secmem.c crypto/rng.c util/io.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

# The two fuzzers run at once, each on a core for half of FUZZ_SECONDS;
# each one's output goes to build-fuzz/NAME.log, its end printed here (all
# of it when the fuzzer found something).
fuzz: deps
	@$(MAKE) --no-print-directory -j2 build-fuzz/fuzz_envelope \
		build-fuzz/fuzz_hcache
	@mkdir -p build-fuzz/corpus build-fuzz/corpus-hcache
	@half=$$(($(FUZZ_SECONDS) / 2)); \
	echo "fuzz: fuzz_envelope and fuzz_hcache, $$half s each, at once"; \
	build-fuzz/fuzz_envelope -max_total_time=$$half -max_len=8192 \
		build-fuzz/corpus tests/fuzz/corpus >build-fuzz/envelope.log 2>&1 & \
	env=$$!; \
	build-fuzz/fuzz_hcache -max_total_time=$$(($(FUZZ_SECONDS) - half)) \
		-max_len=20480 -len_control=0 build-fuzz/corpus-hcache \
		>build-fuzz/hcache.log 2>&1 & \
	hc=$$!; \
	wait $$env; r1=$$?; wait $$hc; r2=$$?; \
	for f in envelope:$$r1 hcache:$$r2; do \
		log=build-fuzz/$${f%%:*}.log; \
		if [ "$${f#*:}" = 0 ]; then \
			echo "fuzz_$${f%%:*}: $$(tail -n 1 $$log)"; \
		else cat $$log; echo "fuzz: fuzz_$${f%%:*} failed (exit $${f#*:})"; fi; \
	done; \
	[ $$r1 = 0 ] && [ $$r2 = 0 ]

bench: $(PROG)
	SSEFS_BIN=$(abspath $(PROG)) bash bench/run.sh
bench-full: $(PROG)
	SSEFS_BIN=$(abspath $(PROG)) BENCH_FULL=1 bash bench/run.sh
bench-blob: $(PROG)
	SSEFS_BIN=$(abspath $(PROG)) bash bench/blob.sh

MANPAGES := $(wildcard man/*.[158])
man-lint:
	@for m in $(MANPAGES); do \
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l $$m \
			>/dev/null 2>$(BUILD)/man.err || exit 1; \
		if [ -s $(BUILD)/man.err ]; then cat $(BUILD)/man.err; exit 1; fi; \
	done

# The mount helper learns where ssefs went (BINDIR, without DESTDIR: where
# it will run), as mount(8) runs it with a PATH that may not hold BINDIR.
install: $(PROG)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(PROG) $(DESTDIR)$(BINDIR)/ssefs
	sed 's|^installed_bin=$$|installed_bin=$(BINDIR)/ssefs|' \
		tools/mount.fuse.ssefs >$(BUILD)/mount.fuse.ssefs
	install -m 0755 $(BUILD)/mount.fuse.ssefs \
		$(DESTDIR)$(SBINDIR)/mount.fuse.ssefs
	install -m 0644 tools/ssefs.bash-completion \
		$(DESTDIR)$(COMPLETIONDIR)/ssefs
	for m in $(MANPAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done

# Exactly the files install put; directories stay (others may use them).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ssefs \
		$(DESTDIR)$(SBINDIR)/mount.fuse.ssefs \
		$(DESTDIR)$(COMPLETIONDIR)/ssefs
	for m in $(MANPAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	done

clean:
	rm -rf build build-san build-fuzz ssefs tests/t/trash*

.PHONY: all layers unit integration check demo deps fuzz bench bench-full bench-blob man-lint \
	install uninstall clean

-include $(LIB_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BUILD)/cli/main.d \
	$(BUILD)/tests/azb-tool.d $(BUILD)/tests/backing-tool.d
