# lua-chatgpt. Variables are named as LuaRocks names them, so that
# `luarocks make` and a plain `make` agree.

# LUA picks the Lua to build for: lua5.4 (the default), lua5.3, lua5.2,
# lua5.1 or luajit. Each has its own pkg-config name and build folder, so
# that versions do not overwrite each other (5.4's is build/).
LUA         ?= lua5.4
ifeq ($(LUA),luajit)
LUA_PKG     ?= luajit
LUA_VERSION ?= 5.1
else
LUA_PKG     ?= $(LUA)
LUA_VERSION ?= $(patsubst lua%,%,$(LUA))
endif
PKG_CONFIG  ?= pkg-config
LUA_INCDIR  ?= $(patsubst -I%,%,$(firstword $(shell $(PKG_CONFIG) --cflags-only-I $(LUA_PKG) 2>/dev/null) -I/usr/include/lua$(LUA_VERSION)))
CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)
CC          ?= cc
CFLAGS      ?= -O2 -g
LIBFLAG     ?= -shared
WARN        = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Werror
ALL_CFLAGS  = -std=c99 -D_GNU_SOURCE $(WARN) -fPIC -fvisibility=hidden $(CFLAGS) \
              -I$(LUA_INCDIR) $(CURL_CFLAGS)

# The fake server's interpreter, resolved once: a pyenv shim costs 200 ms a start.
PYTHON      ?= $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)
export PYTHON

PREFIX      ?= /usr/local
LUA_LIBDIR_INSTALL ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_SHAREDIR       ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR             ?= $(PREFIX)/bin
# bin/chatgpt runs under the interpreter the module is built for
LUA_BIN     ?= $(shell command -v $(LUA) 2>/dev/null || echo /usr/bin/$(LUA))

# The version has one home, src/defaults.h (core._VERSION reads it too);
# the release rockspec and `make dist` take it from there. The one rockspec
# in the tree is the scm one (`luarocks make` finds no other); `make
# rockspec` writes the release one into DIST.
VERSION     := $(shell sed -n 's/^\#define CHATGPT_VERSION *"\(.*\)"/\1/p' src/defaults.h)
DIST         = dist
ROCKSPEC     = lua-chatgpt-$(VERSION)-1.rockspec
TARBALL      = lua-chatgpt-$(VERSION).tar.gz
RELEASE_URL  = https://github.com/lua-chatgpt/lua-chatgpt/releases/download/v$(VERSION)

SRC     = $(wildcard src/*.c)
HDR     = $(wildcard src/*.h)
LUASRC  = $(wildcard lua/chatgpt/*.lua)
# the tokenizer's vocabularies, installed beside tokenizer.lua (vocab/SOURCES.md)
VOCAB   = $(wildcard lua/chatgpt/vocab/*.bpe)
BUILD   ?= $(if $(filter lua5.4,$(LUA)),build,build/$(LUA))
MODULE  = $(BUILD)/chatgpt/core.so
ASAN    = $(BUILD)/asan/chatgpt/core.so
SAN     = -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CTESTS  = $(patsubst spec/%_test.c,$(BUILD)/%_test,$(wildcard spec/*_test.c))
HOSTS   = $(BUILD)/two_states $(BUILD)/alloc_count $(BUILD)/tokenizer_threads
export CHATGPT_HOSTS = $(BUILD)
LUA_LIBS ?= $(shell $(PKG_CONFIG) --libs $(LUA_PKG) 2>/dev/null || echo -llua$(LUA_VERSION))

# Debian packages a fresh machine needs for build, test, check and demo.
DEB_PKGS = lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.2 liblua5.2-dev lua5.1 liblua5.1-0-dev \
           luajit libluajit-5.1-dev lua-luv neovim love xvfb xauth lua-cjson lua-busted lua-socket lua-check \
           libcurl4-openssl-dev pkg-config gcc make python3 valgrind \
           nginx-light openssl python3-yaml python3-jsonschema unicode-data

# The real OpenAI captures and the official OpenAPI description: kept
# outside the repository in SHARED_WIRE, copied by `make fixtures` into
# FIXTURES_WIRE and FIXTURES_OPENAPI (which the specs read).
SHARED_WIRE   ?= ../shared/wire
FIXTURES_WIRE  = spec/fixtures/wire
FIXTURES_OPENAPI = spec/fixtures/openapi.yaml

# What `make lint` checks (settings per folder in .luacheckrc).
LINT_FILES = lua spec $(wildcard bench/*.lua) $(wildcard examples) $(wildcard bin)

.PHONY: all test test-all test-stress test-hosts check valgrind fuzz bench demo deps install clean ctest \
        fixtures lint rockspec dist nvim

all: $(MODULE)

$(MODULE): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LIBFLAG) -o $@ $(SRC) $(CURL_LIBS)

$(ASAN): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) $(LIBFLAG) -o $@ $(SRC) $(CURL_LIBS)

# C unit tests: spec/<unit>_test.c links the one source file it tests.
$(BUILD)/%_test: spec/%_test.c src/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -Isrc -o $@ $< src/$*.c

# C hosts that embed Lua, for the specs (spec/support/*.c).
$(HOSTS): $(BUILD)/%: spec/support/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(LUA_LIBS) -lpthread

ctest: $(CTESTS) $(HOSTS)

test: deps
	@$(MAKE) --no-print-directory all ctest
	@sh spec/support/run.sh $(LUA) $(BUILD) $(CTESTS)

# The suite five times in a row while it also runs beside itself: no spec
# may depend on how network timing meets curl (spec/support/stress.sh).
test-stress: deps
	@$(MAKE) --no-print-directory all ctest
	@sh spec/support/stress.sh $(LUA) $(BUILD) $(CTESTS)

# The whole suite against a module built with ASan/UBSan. lua5.4 itself is
# not instrumented, so the runtime is preloaded; the module pins itself in
# memory (core.c), so leak reports have its symbols.
# The C tests and every spec under each installed Lua (spec/support/test_all.sh).
test-all: deps
	@sh spec/support/test_all.sh $(MAKE)

# The module inside real hosts: headless Neovim and LOVE under xvfb-run,
# both on LuaJIT (spec/hosts/run.sh).
test-hosts: deps
	@$(MAKE) --no-print-directory LUA=luajit all
	@CHATGPT_BUILD=build/luajit sh spec/hosts/run.sh

# For Neovim (and LOVE): the LuaJIT build, put where Neovim's own loader
# looks, beside the Lua files (git-ignored), so that the repository in a
# pack/*/start/ folder, or where a plugin manager clones it (build = "make
# nvim"), loads with no path to set. `install` replaces the file rather
# than writing into it: a running Neovim keeps the one it loaded. No
# `deps`: a plugin manager runs this on a user's machine.
NVIM_MODULE = lua/chatgpt/core.so
nvim:
	@$(MAKE) --no-print-directory LUA=luajit BUILD=build/luajit all || \
	  { echo "make nvim needs a C compiler, LuaJIT's headers and libcurl's (Debian: apt install gcc make libluajit-5.1-dev libcurl4-openssl-dev pkg-config)"; exit 1; }
	@install -m 755 build/luajit/chatgpt/core.so $(NVIM_MODULE)
	@echo "nvim: $(NVIM_MODULE) (LuaJIT build)"

check: deps
	@$(MAKE) --no-print-directory $(ASAN) ctest
	@LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 \
	 LSAN_OPTIONS=suppressions=$(CURDIR)/spec/support/lsan.supp:print_suppressions=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 sh spec/support/run.sh $(LUA) $(BUILD)/asan $(CTESTS)

valgrind: all ctest
	@CHATGPT_VALGRIND=1 sh spec/support/run.sh "valgrind --quiet --child-silent-after-fork=yes --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$(CURDIR)/spec/support/valgrind.supp $(LUA)" $(BUILD)

# Every capture, SOURCES.md included, into FIXTURES_WIRE (files gone from
# SHARED_WIRE go here too; spec/fixtures_spec.lua checks the two folders
# match); openapi.yaml into FIXTURES_OPENAPI (spec/openapi_spec.lua checks
# it is the same).
fixtures:
	@test -d $(SHARED_WIRE) || { echo "fixtures: no $(SHARED_WIRE) to copy from"; exit 1; }
	@mkdir -p $(FIXTURES_WIRE)
	@rm -f $(FIXTURES_WIRE)/*
	@for f in $(SHARED_WIRE)/*; do \
	  case $${f##*/} in openapi.yaml) cp "$$f" $(FIXTURES_OPENAPI) || exit 1 ;; \
	                    *) cp "$$f" $(FIXTURES_WIRE)/ || exit 1 ;; esac; \
	done
	@chmod 644 $(FIXTURES_WIRE)/* $(FIXTURES_OPENAPI)
	@echo "fixtures: $$(ls $(FIXTURES_WIRE) | wc -l) files in $(FIXTURES_WIRE), and $(FIXTURES_OPENAPI)"

lint:
	@command -v luacheck >/dev/null 2>&1 || { echo "lint: luacheck not found (make deps installs lua-check)"; exit 1; }
	@luacheck --no-color --formatter plain $(LINT_FILES) && echo "lint: clean"

FUZZ_SECONDS ?= 60
fuzz:
	@sh spec/fuzz/run.sh $(FUZZ_SECONDS)
	@echo "== responses: randomized event sequences for $(FUZZ_SECONDS) s, twice (direct, end to end)"
	@$(MAKE) --no-print-directory all
	@CHATGPT_BUILD=$(BUILD) CHATGPT_FUZZ_SECONDS=$(FUZZ_SECONDS) $(LUA) "$$(command -v busted)" --ignore-lua \
	  spec/responses_fuzz_spec.lua

bench: all
	@sh bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@$(LUA) examples/chat.lua

# Installs the missing Debian packages (sudo when not root); elsewhere it
# prints what to install.
deps:
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  fi; \
	else \
	  echo "not a Debian system: install Lua 5.4 (+ headers), lua-cjson, busted, luasocket, libcurl (+ headers), pkg-config, a C compiler, python3"; \
	fi

# The module, and the command with its interpreter's path for a first line.
# A PREFIX outside Lua's own path needs LUA_PATH and LUA_CPATH for
# `require "chatgpt"` (printed below); the command finds its module itself.
install: all
	install -d $(DESTDIR)$(LUA_LIBDIR_INSTALL)/chatgpt $(DESTDIR)$(LUA_SHAREDIR)/chatgpt/vocab $(DESTDIR)$(BINDIR)
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_LIBDIR_INSTALL)/chatgpt/core.so
	install -m 644 $(LUASRC) $(DESTDIR)$(LUA_SHAREDIR)/chatgpt/
	install -m 644 $(VOCAB) $(DESTDIR)$(LUA_SHAREDIR)/chatgpt/vocab/
	sed '1s|.*|#!$(LUA_BIN)|' bin/chatgpt > $(DESTDIR)$(BINDIR)/chatgpt
	chmod 755 $(DESTDIR)$(BINDIR)/chatgpt
	@$(LUA) -e 'if not package.path:find("$(LUA_SHAREDIR)/?.lua", 1, true) then print("for require \"chatgpt\" from $(PREFIX):\n  export LUA_PATH=\"$(LUA_SHAREDIR)/?.lua;$(LUA_SHAREDIR)/?/init.lua;;\"\n  export LUA_CPATH=\"$(LUA_LIBDIR_INSTALL)/?.so;;\"") end'

# The release rockspec: the scm one with the version of src/defaults.h (not
# the scm build's CHATGPT_VERSION define) and the tarball `make dist` makes
# (uploaded to the release) as its source.
define release_rockspec
sed -e 's|^version = "scm-1"|version = "$(VERSION)-1"|' \
    -e 's|^  url = "git+https://github.com/lua-chatgpt/lua-chatgpt.git",|  url = "$(RELEASE_URL)/$(TARBALL)",\n  dir = "lua-chatgpt-$(VERSION)",|' \
    -e "s|, 'CHATGPT_VERSION=\"scm\"' }, -- .*| },|" \
    lua-chatgpt-scm-1.rockspec
endef

rockspec:
	@mkdir -p $(DIST)
	@$(release_rockspec) > $(DIST)/$(ROCKSPEC)
	@echo "rockspec: $(DIST)/$(ROCKSPEC)"

# What a release holds: what a user builds, installs, reads and tries - the
# module, the command, the examples, the docs, and the bundled local server
# that `make demo` and the quick starts run (spec/support/fake_openai.py and
# fakeapi/) - but not the tests, their captures, the benchmarks or CI; and
# the release rockspec in place of the scm one, so that `luarocks make` in
# the unpacked tree builds the release.
DIST_DROP = ^(spec/|bench/|\.ci/|\.[^/]*$$|lua-chatgpt-scm-1\.rockspec$$)
DIST_KEEP = ^spec/support/(fake_openai\.py|fakeapi/[^/]*\.py)$$

# What a maintainer uploads: the source tarball (those files as they are in
# the work tree), the rockspec, and the source rock made of the two as
# `luarocks pack` makes one (luarocks install ./X.src.rock works offline).
# The tarball goes to the GitHub release the rockspec names.
dist:
	@command -v git >/dev/null 2>&1 || { echo "dist: git is needed"; exit 1; }
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@$(release_rockspec) > $(DIST)/$(ROCKSPEC)
	{ { git ls-files | grep -Ev '$(DIST_DROP)'; git ls-files | grep -E '$(DIST_KEEP)'; } | LC_ALL=C sort; \
	  echo "-C $(DIST)"; echo $(ROCKSPEC); } | \
	  tar -czf $(DIST)/$(TARBALL) --owner=0 --group=0 --numeric-owner \
	  --mtime="@$$(git log -1 --format=%ct)" --transform 's,^,lua-chatgpt-$(VERSION)/,' -T -
	cd $(DIST) && $(PYTHON) -m zipfile -c lua-chatgpt-$(VERSION)-1.src.rock $(ROCKSPEC) $(TARBALL)
	@ls -l $(DIST)

clean:
	rm -rf $(BUILD) $(DIST) $(NVIM_MODULE)
