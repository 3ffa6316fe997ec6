# fmctl: the README's two commands are `make train` and `make test`.
SWIFT ?= swift
THREADS ?= 2

.PHONY: setup build release test examples bench train clean fuzz test-sanitize docs

setup:
	./scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# The end-to-end tests run the release fmctl (FMCTL_BINARY): the C kernels are compiled
# without optimisation in a debug build, which makes its full-data training runs minutes long.
test: setup
	$(SWIFT) build -c release --product fmctl
	$(SWIFT) build --build-tests
	FMCTL_BINARY=$(CURDIR)/.build/release/fmctl $(SWIFT) test
	$(MAKE) examples

# The Examples/ package uses fmctl as a library (public API only); release, since its training
# runs in seconds there and minutes in debug.
examples: setup
	$(SWIFT) build --package-path Examples --scratch-path Examples/.build -c release
	Examples/.build/release/train-own-model --limit 3000 --epochs 2
	Examples/.build/release/measure-footprint

# API documentation: one DocC archive per library target under .build/docs/<Target>.doccarchive
# (git-ignored), from the catalogs Sources/<Target>/<Target>.docc and the doc comments, built
# offline by swift-docc-plugin (a package dependency). DocC's warnings (a symbol link that does
# not resolve, a documented parameter that does not exist, one missing from a `- Parameters:`
# list) are printed; CI runs this after `make test`.
DOC_TARGETS = Tensor Models Footprint RunRecords Reports Projection DataParallel MetricsExport Compression

docs: setup
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation \
		$(foreach target,$(DOC_TARGETS),--target $(target)) --output-path .build/docs

# fmctl-bench runs with the OpenBLAS thread timeout that fmctl sets for itself (idle OpenBLAS
# workers sleep instead of spinning over the cores the C kernels use).
bench: release
	OPENBLAS_THREAD_TIMEOUT=4 $(SWIFT) run -c release fmctl-bench --threads $(THREADS)
	./scripts/bench-train.py --threads $(THREADS)
	./scripts/bench-mpi.py --threads $(THREADS)
	./scripts/bench-text.py --threads $(THREADS)

train: release
	$(SWIFT) run -c release fmctl train --threads $(THREADS) $(ARGS)

# libFuzzer harnesses (Fuzz/ package) for the IDX, safetensors, powercap and model JSON parsers,
# each run for FUZZ_SECONDS from the seeds in Fuzz/corpus/. New inputs and crashes go to
# fuzz-artifacts/ (git-ignored); a crash fails `make fuzz` (after the other harnesses) and
# becomes a regression test.
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES = idx safetensors powercap model-json
FUZZ_OUT = fuzz-artifacts

fuzz: setup
	mkdir -p $(FUZZ_OUT)
	$(SWIFT) build --package-path Fuzz --scratch-path Fuzz/.build -c debug -Xswiftc -sanitize=fuzzer,address \
		> $(FUZZ_OUT)/build.log 2>&1 || { grep -v "Cannot export local symbol" $(FUZZ_OUT)/build.log; exit 1; }
	failed=""; for h in $(FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ_OUT)/corpus/$$h $(FUZZ_OUT)/crashes/$$h; \
		echo "fuzz-$$h: $(FUZZ_SECONDS) s, log in $(FUZZ_OUT)/$$h.log"; \
		Fuzz/.build/debug/fuzz-$$h $(FUZZ_OUT)/corpus/$$h Fuzz/corpus/$$h \
			$$(test -f Fuzz/dictionaries/$$h.dict && echo -dict=Fuzz/dictionaries/$$h.dict) \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/crashes/$$h/ \
			> $(FUZZ_OUT)/$$h.log 2>&1 || { tail -40 $(FUZZ_OUT)/$$h.log; failed="$$failed $$h"; }; \
		grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)" $(FUZZ_OUT)/$$h.log; \
	done; test -z "$$failed" || { echo "crashes in:$$failed (inputs under $(FUZZ_OUT)/crashes/)"; exit 1; }

# The tests under AddressSanitizer, and the Footprint tests (the energy sampler runs on its own
# thread) and the worker pool's tests under ThreadSanitizer; scripts/*san-suppressions.txt say
# what is suppressed and why. The end-to-end tests run an optimised fmctl built with
# AddressSanitizer (the debug build's unoptimised C kernels make its full-data training runs
# outlast the tests' time limits).
test-sanitize: setup
	$(SWIFT) build -c release --sanitize=address --scratch-path .build-asan --product fmctl
	LSAN_OPTIONS="suppressions=$(CURDIR)/scripts/lsan-suppressions.txt:print_suppressions=0" FMCTL_BINARY=$(CURDIR)/.build-asan/release/fmctl \
		$(SWIFT) test --sanitize=address --scratch-path .build-asan
	TSAN_OPTIONS="suppressions=$(CURDIR)/scripts/tsan-suppressions.txt" \
		$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter "FootprintTests|ParallelTests"

clean:
	rm -rf .build Examples/.build Fuzz/.build .build-asan .build-tsan

# Renders a real run's HTML report and a comparison in headless Chromium (installed with apt
# when missing) and checks the screenshots are not blank. Not part of `make test`.
.PHONY: report-check
report-check: release
	./scripts/report-check $(RUNS)
