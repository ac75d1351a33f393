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

WARN     ?= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS := -Iinclude -Isrc -D_GNU_SOURCE -MMD -MP
CFLAGS   := -std=c11 $(OPT) -g -pthread $(WARN) $(EXTRA_CFLAGS)
# Runtime kernel dispatch (src/tensor/isa.c): everything is built for the baseline CPU, except the
# kernel units src/**/*_avx2.c, *_avx512.c and *_avx512bf16.c, which get their ISA's flags and run only where
# CPUID says they can.
# Elsewhere than x86-64 those units are left out (the portable path runs).
ISA_AVX2 := -mavx2 -mfma -mf16c
ISA_AVX512 := $(ISA_AVX2) -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_AVX512BF16 := $(ISA_AVX512) -mavx512bf16
ISA_NEONDOT := -march=armv8.2-a+dotprod
X86      := $(if $(filter x86_64% i%86%,$(shell $(CC) -dumpmachine)),1,)
ARM64    := $(if $(filter aarch64%,$(shell $(CC) -dumpmachine)),1,)
LDLIBS   := -ljpeg -lpng16 -lwebp -lnats -lz -lcurl -lcrypto -lmicrohttpd -lyaml -lcjson -lmsgpackc -lutf8proc -lpcre2-8 -lm -lpthread
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

LAYERS   := base image tensor text model/formats model/arch model/heads model hub engine upstream \
            router server cluster
src_of    = $(filter-out $(if $(X86),,%_avx2.c %_avx512.c %_avx512bf16.c) $(if $(ARM64),,%_neon.c %_neondot.c),\
              $(sort $(wildcard src/$(1)/*.c)))
obj_of    = $(patsubst src/%.c,$(BUILD)/%.o,$(call src_of,$(1)))
LIB_OBJ  := $(foreach l,$(LAYERS),$(call obj_of,$(l)))
CLI_OBJ  := $(call obj_of,cli)

# Layers each test binary links (default: all).
TEST_LAYERS_base   := base
TEST_LAYERS_tensor := base tensor
TEST_LAYERS_text   := base text
TEST_LAYERS_text_models := base text
TEST_LAYERS_hub    := base hub
TEST_LAYERS_image  := base image
TEST_LAYERS_spm    := base text
TEST_LAYERS_qgemm  := base tensor
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
# Fuzz targets: fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput; fuzz/corpus/<name>/ holds its
# seeds and fuzz/regressions/<name>/ the inputs of crashes it found. `make test` replays both
# through every target built with fuzz/replay_main.c; `make fuzz` runs libFuzzer (clang).
FUZZ_SRCS  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
REPLAY_BINS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
layers_for = $(or $(TEST_LAYERS_$(1)),$(LAYERS))

.PRECIOUS: $(BUILD)/tests/%.o
.PHONY: all deps deps-node deps-reference deps-cross cross-aarch64 fuzz fuzz-build fuzz-ci test-tsan test-fresh test test-% format format-check clean bench bench-images bench-llama bench-agent models
all: switchyard $(BUILD)/libswitchyard.a $(BUILD)/switchyard.pc

# Debian packages, then the npm clients the compatibility tests use (Node from Debian when the
# machine has none).
deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q build-essential pkg-config clang-format \
	  libcjson-dev libmsgpack-dev libutf8proc-dev libpcre2-dev libopenblas-dev libmicrohttpd-dev \
	  libyaml-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libnats-dev nats-server python3-yaml \
	  libjpeg62-turbo-dev libpng-dev libwebp-dev \
	  wrk xxd procps \
	  clang python3 curl qemu-user
	command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
	$(MAKE) deps-node

# Official client libraries for the compatibility tests (npm registry; no install scripts run).
deps-node:
	cd tests/compat && npm ci --ignore-scripts --no-audit --no-fund

# The independent reference (tools/reference) needs PyTorch, and python3-onnx writes ORT's int8
# graph for `make bench` (tools/reference/quantize_onnx.py); CI does not run it.
deps-reference:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy python3-pil python3-onnx \
	  python3-sentencepiece

# The ARM64 cross build (Debian's gcc-aarch64-linux-gnu and the arm64 multiarch libraries) and
# qemu-user to run it: `make deps-cross` once, then `make cross-aarch64` (tests/cli/aarch64.sh
# builds it and compares its output with this machine's when the toolchain is present).
CROSS_ARM64_LIBS := libcjson-dev libmsgpack-dev libutf8proc-dev libpcre2-dev libmicrohttpd-dev \
  libyaml-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libnats-dev libjpeg62-turbo-dev \
  libpng-dev libwebp-dev
deps-cross:
	dpkg --add-architecture arm64
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-aarch64-linux-gnu qemu-user \
	  $(addsuffix :arm64,$(CROSS_ARM64_LIBS))

CROSS_TESTS := base text tensor qgemm model
cross-aarch64:
	$(MAKE) CC=aarch64-linux-gnu-gcc BUILD=build-aarch64 build-aarch64/switchyard \
	  $(addprefix build-aarch64/tests/test_,$(CROSS_TESTS))

# Side-by-side benchmark against ONNX Runtime fp32/int8 and, on the BERT shapes, llama.cpp f32/q8_0
# (installs the peers with npm; BENCH_LLAMA=0 skips llama.cpp; see docs/PERFORMANCE.md).
bench: all
	bench/run.sh

# Images per second of CLIP ViT-B/32 and ViT-B/16 vision towers beside ONNX Runtime (bench/images.sh).
bench-images: all
	bench/images.sh

# Decoder embedders against llama.cpp (f32 and q8_0 GGUF of the same weights; docs/PERFORMANCE.md).
bench-llama: all
	bench/llama/run.sh

# The agent turn over HTTP: GLiNER extract + query encode + rerank of 100 (bench/agent_turn/run.sh).
bench-agent: all
	bench/agent_turn/run.sh

# Fetches the USE-lite files into models/use-lite (only needed where ../shared is absent).
models:
	tools/fetch_use_lite.sh models/use-lite

$(BUILD)/%_avx2.o: ISA_CFLAGS := $(ISA_AVX2)
$(BUILD)/%_avx512.o: ISA_CFLAGS := $(ISA_AVX512)
$(BUILD)/%_avx512bf16.o: ISA_CFLAGS := $(ISA_AVX512BF16)
$(BUILD)/%_neondot.o: ISA_CFLAGS := $(ISA_NEONDOT)
$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -c $< -o $@

# The OpenAPI document, the /docs page and the status page are compiled in (xxd -i into a header), so the server
# serves them without any file at run time.
$(BUILD)/gen/%_json.h: src/server/%.json
	@mkdir -p $(dir $@)
	@echo "  GEN   $@"
	@{ echo 'static const unsigned char $*_json[] = {'; xxd -i <$<; echo ',0};'; } >$@
$(BUILD)/gen/%_html.h: src/server/%.html
	@mkdir -p $(dir $@)
	@echo "  GEN   $@"
	@{ echo 'static const unsigned char $*_html[] = {'; xxd -i <$<; echo ',0};'; } >$@
$(BUILD)/server/routes_docs.o: $(BUILD)/gen/openapi_json.h $(BUILD)/gen/docs_html.h
$(BUILD)/server/routes_docs.o: CPPFLAGS += -I$(BUILD)/gen
$(BUILD)/server/status_page.o: $(BUILD)/gen/status_page_html.h
$(BUILD)/server/status_page.o: CPPFLAGS += -I$(BUILD)/gen

$(BUILD)/libswitchyard.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# pkg-config for programs linking the library from this tree: headers in include/, the archive
# in $(BUILD)/; Libs.private is what the static archive needs (pkg-config --static).
SY_VERSION := $(shell sed -n 's/^\#define SY_VERSION_STRING "\(.*\)"/\1/p' include/switchyard.h)
$(BUILD)/switchyard.pc: include/switchyard.h Makefile
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$${pcfiledir}/..' 'includedir=$${prefix}/include' 'libdir=$${pcfiledir}' '' \
	  'Name: switchyard' 'Description: Switchyard inference engine (embeddings, reranking, extraction)' \
	  'Version: $(SY_VERSION)' 'Cflags: -I$${includedir} -pthread' \
	  'Libs: -L$${libdir} -lswitchyard' 'Libs.private: $(LDLIBS)' >$@

$(BUILD)/switchyard: $(CLI_OBJ) $(BUILD)/libswitchyard.a
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

switchyard: $(BUILD)/switchyard
	@if [ -z "$(SANITIZE)" ]; then ln -sf $(BUILD)/switchyard switchyard; fi

.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $$(foreach l,$$(call layers_for,$$*),$$(call obj_of,$$(l)))
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/replay_main.c $(BUILD)/libswitchyard.a
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# `make test` runs every test binary (each prints "N passed, N failed"), the fuzz corpora and
# regressions through each fuzz target, then the CLI tests, and ends with the totals.
test: $(TEST_BINS) $(REPLAY_BINS) $(BUILD)/switchyard $(BUILD)/switchyard.pc
	@BUILD=$(BUILD) tests/run.sh $(TEST_BINS) $(REPLAY_BINS)

# libFuzzer builds (clang, ASan + UBSan) in build-fuzz/. `make fuzz` runs every target for
# FUZZ_SECONDS (default 60) on a scratch corpus seeded from fuzz/corpus/<name>/; a crash leaves
# its input in build-fuzz/ (copy it to fuzz/regressions/<name>/ once fixed). `make fuzz-ci`
# is the bounded run CI does (20 s a target).
FUZZ_BUILD := build-fuzz
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SANITIZE=address,undefined \
	  WARN="-Wall -Wno-unused-parameter" EXTRA_CFLAGS=-fsanitize=fuzzer-no-link \
	  $(FUZZ_BUILD)/libswitchyard.a
	@mkdir -p $(FUZZ_BUILD)/bin
	@for n in $(FUZZ_NAMES); do \
	  echo "  FUZZ  $$n"; \
	  clang $(CPPFLAGS) -std=c11 -O1 -g -pthread \
	    -fsanitize=fuzzer,address,undefined fuzz/fuzz_$$n.c $(FUZZ_BUILD)/libswitchyard.a \
	    -o $(FUZZ_BUILD)/bin/fuzz_$$n $(LDLIBS) || exit 1; \
	done

fuzz: fuzz-build
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/crashes/$$n; \
	  echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/bin/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$n/ -print_final_stats=0 \
	    $(FUZZ_BUILD)/corpus/$$n fuzz/corpus/$$n 2>$(FUZZ_BUILD)/fuzz_$$n.log \
	    || { tail -40 $(FUZZ_BUILD)/fuzz_$$n.log; echo "fuzz_$$n: crash, input in $(FUZZ_BUILD)/crashes/$$n/"; exit 1; }; \
	  grep -E "^#[0-9]+.*(DONE|pulse)" $(FUZZ_BUILD)/fuzz_$$n.log | tail -1; \
	done

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

# The README's two commands on a fresh Debian bookworm root (debootstrap + chroot; root only;
# tens of minutes, so not part of `make test`): tests/fresh/run.sh.
test-fresh:
	tests/fresh/run.sh

# The threaded parts (thread pool, kernels' thread splits, engine and batcher, server) under
# ThreadSanitizer, in build-tsan/ (CI runs it).
TSAN_TESTS := base tensor engine server upstream api
test-tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan SANITIZE=thread \
	  $(patsubst %,build-tsan/tests/test_%,$(TSAN_TESTS))
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66" tests/run.sh --no-scripts \
	  $(patsubst %,build-tsan/tests/test_%,$(TSAN_TESTS))

# `make test-text` builds and runs one test binary.
test-%: $(BUILD)/tests/test_%
	$<

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-tsan build-fuzz switchyard

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
