# smsgw - build, run, test, bench, install.
#
#   make run     install what is missing, build, start a demo gateway
#   make test    build with ASan + UBSan and run every test
#   make bench   benchmarks (scripts/bench-*.sh)
#   make         build the release binaries into build/release/
#
# Program entry points are the files named *_main.c; every other .c file
# under drivers/ and gatewayd/ goes into one static library that the
# programs and the tests link against, so a new module needs no Makefile
# change.

PKGS	:= libserialport sqlite3 libmicrohttpd libconfig jansson libcurl
VARIANT	?= release
O	:= build/$(VARIANT)

ifeq ($(VARIANT),asan)
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer
OPT	:= -O1
else
SANITIZE :=
OPT	:= -O2
endif

CC	?= cc
CFLAGS	?= -g $(OPT)
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-Iinclude $(SANITIZE)
override LDFLAGS += $(SANITIZE)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS	= $(PKG_LIBS) -lpthread -lm

MAINS	:= $(wildcard */*_main.c)
LIB_SRCS := $(filter-out $(MAINS),$(wildcard drivers/*.c gatewayd/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
LIB	:= $(O)/libsmsgw.a
PROGS	:= $(O)/gatewayd $(O)/smsctl $(O)/modemsim

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(O)/%)
E2E_SRCS  := $(wildcard tests/e2e/test_*.c)
E2E_BINS  := $(E2E_SRCS:%.c=$(O)/%)
E2E_HARNESS := $(O)/obj/tests/e2e/harness.o
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)

.PHONY: all build tests deps run test bench fuzz install clean format-check

all: deps
	@$(MAKE) --no-print-directory build

build: $(PROGS)

tests: $(PROGS) $(UNIT_BINS) $(E2E_BINS)

# Install the Debian packages when pkg-config misses a library or a tool
# the tests use (clang for the fuzz target, curl for the demo) is absent.
deps:
	@{ pkg-config --exists $(PKGS) cmocka && command -v clang && \
		command -v curl; } >/dev/null 2>&1 || sh scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory VARIANT=release build
	@sh scripts/run-demo.sh build/release

test: deps
	@$(MAKE) --no-print-directory VARIANT=asan tests
	@sh scripts/run-tests.sh build/asan

bench: deps
	@$(MAKE) --no-print-directory VARIANT=release build \
		$(BENCH_SRCS:%.c=build/release/%)
	@for s in scripts/bench-*.sh; do sh "$$s" build/release || exit 1; done

# A longer fuzzing run: make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 60
fuzz: deps
	@sh scripts/fuzz.sh $(FUZZ_SECONDS)

# Binaries, the udev rule and the systemd unit; the configuration in
# /etc/smsgw/smsgw.conf is the admin's to write (see README.md).
install: all
	install -d $(DESTDIR)/usr/local/bin $(DESTDIR)/etc/udev/rules.d \
		$(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/smsgw
	install -m 755 build/release/gatewayd build/release/smsctl \
		build/release/modemsim $(DESTDIR)/usr/local/bin/
	install -m 644 udev/90-smsgw.rules $(DESTDIR)/etc/udev/rules.d/
	install -m 644 scripts/smsgw.service $(DESTDIR)/etc/systemd/system/
	@if [ -z "$(DESTDIR)" ] && ! id smsgw >/dev/null 2>&1; then \
		useradd --system --home /var/lib/smsgw --shell /usr/sbin/nologin \
			--groups dialout smsgw; fi

clean:
	rm -rf build

format-check:
	@clang-format --dry-run --Werror $(wildcard */*.c */*/*.c include/smsgw/*.h)

$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/gatewayd: $(O)/obj/gatewayd/gatewayd_main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/smsctl: $(O)/obj/gatewayd/smsctl_main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/modemsim: $(O)/obj/drivers/modemsim_main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/unit/%: $(O)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(O)/tests/bench/%: $(O)/obj/tests/bench/%.o $(E2E_HARNESS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/e2e/%: $(O)/obj/tests/e2e/%.o $(E2E_HARNESS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

-include $(shell find build -name '*.d' 2>/dev/null)
