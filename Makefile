# Switchyard build. `make deps` installs Debian packages, `make` builds ./switchyard and
# build/libswitchyard.a, `make test` runs every test binary, `make SANITIZE=address,undefined test`
# builds into a separate directory with sanitizers.
#
# Sources are discovered per layer folder, so adding a file needs no Makefile edit. Each test binary
# tests/test_<name>.c links only the layers it needs (TEST_LAYERS_<name>), so a half-written file in
# an unrelated layer does not break it.

CC       ?= cc
SANITIZE ?=
BUILD    ?= $(if $(SANITIZE),build-san,build)
OPT      ?= -O2

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS := -Iinclude -Isrc -D_GNU_SOURCE -MMD -MP
CFLAGS   := -std=c11 $(OPT) -g -mavx2 -mfma -mf16c -pthread $(WARN)
LDLIBS   := -lcurl -lcrypto -lmicrohttpd -lyaml -lcjson -lutf8proc -lpcre2-8 -lm -lpthread
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

LAYERS   := base tensor text model hub engine server
src_of    = $(sort $(wildcard src/$(1)/*.c))
obj_of    = $(patsubst src/%.c,$(BUILD)/%.o,$(call src_of,$(1)))
LIB_OBJ  := $(foreach l,$(LAYERS),$(call obj_of,$(l)))
CLI_OBJ  := $(call obj_of,cli)

# Layers each test binary links (default: all).
TEST_LAYERS_base   := base
TEST_LAYERS_tensor := base tensor
TEST_LAYERS_text   := base text
TEST_LAYERS_text_models := base text
TEST_LAYERS_hub    := base hub
TEST_LAYERS_qgemm  := base tensor
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
layers_for = $(or $(TEST_LAYERS_$(1)),$(LAYERS))

.PRECIOUS: $(BUILD)/tests/%.o
.PHONY: all deps deps-node deps-reference test test-% format format-check clean bench models
all: switchyard $(BUILD)/libswitchyard.a

deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q build-essential pkg-config clang-format \
	  libcjson-dev libutf8proc-dev libpcre2-dev libopenblas-dev libmicrohttpd-dev libyaml-dev libcurl4-openssl-dev libssl-dev \
	  python3 curl

# Official client libraries for the compatibility tests (npm registry; no install scripts run).
deps-node:
	cd tests/compat && npm ci --ignore-scripts --no-audit --no-fund

# The independent reference (tools/reference) needs PyTorch; CI does not run it.
deps-reference:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy

# Side-by-side benchmark against ONNX Runtime (installs the peer with npm; see docs/PERFORMANCE.md).
bench: all
	bench/run.sh

# Fetches the USE-lite files into models/use-lite (only needed where ../shared is absent).
models:
	tools/fetch_use_lite.sh models/use-lite

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -c $< -o $@

$(BUILD)/libswitchyard.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/switchyard: $(CLI_OBJ) $(BUILD)/libswitchyard.a
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

switchyard: $(BUILD)/switchyard
	@if [ -z "$(SANITIZE)" ]; then ln -sf $(BUILD)/switchyard switchyard; fi

.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $$(foreach l,$$(call layers_for,$$*),$$(call obj_of,$$(l)))
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

# `make test` runs every test binary (each prints "N passed, N failed"), then the CLI tests,
# and ends with the totals.
test: $(TEST_BINS) $(BUILD)/switchyard
	@BUILD=$(BUILD) tests/run.sh $(TEST_BINS)

# `make test-text` builds and runs one test binary.
test-%: $(BUILD)/tests/test_%
	$<

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san switchyard

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
